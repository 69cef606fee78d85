"""The dashboard's words in Brazilian Portuguese (the default) and English, and number formats.

Every text on screen is a key of ``TEXTS``; ``translate`` fills its ``{placeholders}``.
Numbers follow the language: ``12,5 %`` and ``1.234`` in pt-BR, ``12.5%`` and
``1,234`` in English. Failure-group names and the checks of each group are
translated here too; the English checks are the API's catalogue
(``serving.checks``), so both clients tell an inspector the same thing.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final, Literal

from roadtest.contracts.warehouse import slug
from roadtest.serving.checks import GROUP_CHECKS, checks_for

Lang = Literal["pt-BR", "en"]
LANGUAGES: Final[tuple[Lang, ...]] = ("pt-BR", "en")
DEFAULT_LANGUAGE: Final[Lang] = "pt-BR"

GROUP_NAMES: Final[dict[str, tuple[str, str]]] = {
    "rear": ("traseira", "rear"),
    "central": ("central", "central"),
    "doors": ("portas", "doors"),
    "front": ("dianteira", "front"),
    "general": ("geral", "general"),
    "external_underbody": ("assoalho externo", "external underbody"),
    "documentation": ("documentação", "documentation"),
    "back_office_test": ("teste back-office", "back-office test"),
    "electrical": ("elétrica", "electrical"),
    "unknown": ("grupo desconhecido", "unknown group"),
}
"""Failure-group slug → (pt-BR, en) name."""

CHECKS_PT: Final[dict[str, tuple[str, ...]]] = {
    "rear": (
        "Aparafusamento do eixo traseiro e da suspensão (marcas de torque, ruídos em lombadas)",
        "Alinhamento, fechadura e vedação da tampa traseira",
        "Lanternas traseiras e fixação do escapamento",
    ),
    "central": (
        "Fixação de bancos, cintos e console central",
        "Ruídos e batidas na cabine em velocidade",
        "Painel de instrumentos e funcionamento do ar-condicionado e da ventilação",
    ),
    "doors": (
        "Alinhamento, folgas e esforço de fechamento das portas",
        "Vedação das portas, ruído de vento e estanqueidade",
        "Máquinas de vidro, retrovisores e travamento central",
    ),
    "front": (
        "Eixo dianteiro, direção e alinhamento (carro puxando, ângulo do volante)",
        "Sensação e ruído de freio",
        "Compartimento do motor: níveis de fluidos, vazamentos e abraçadeiras",
    ),
    "general": (
        "Percurso completo da rodagem funcional",
        "Luzes de advertência e memória de falhas após a rodagem",
    ),
    "external_underbody": (
        "Inspeção do assoalho no elevador: vazamentos, mangueiras, protetores térmicos",
        "Aparafusamento do assoalho e coberturas de proteção",
    ),
    "documentation": ("Documentos, etiquetas e plaquetas de VIN completos e conferidos",),
    "back_office_test": ("Registros do teste de back-office completos para este veículo",),
    "electrical": (
        "Leitura da memória de falhas de todas as centrais",
        "Iluminação, limpadores, multimídia e assistentes de condução",
        "Bateria, tensão de carga e conexões de massa",
    ),
    "unknown": ("Percurso completo da rodagem funcional",),
}
"""The API's checks per failure group (``serving.checks.GROUP_CHECKS``), in Portuguese."""


def _t(pt: str, en: str) -> dict[Lang, str]:
    return {"pt-BR": pt, "en": en}


TEXTS: Final[dict[str, dict[Lang, str]]] = {
    # --- app and shared -----------------------------------------------------------------
    "app.refresh": _t("Atualizar dados", "Refresh data"),
    "nav.planning": _t("Planejamento da rodagem", "Road-test planning"),
    "nav.vehicle": _t("Veículo", "Vehicle"),
    "nav.quality": _t("Análise de qualidade", "Quality analysis"),
    "nav.models": _t("Modelos", "Models"),
    "nav.data": _t("Dados", "Data"),
    "nav.health": _t("Saúde do sistema", "System health"),
    "common.yes": _t("sim", "yes"),
    "common.no": _t("não", "no"),
    # --- empty states and errors ----------------------------------------------------------
    "empty.no_warehouse": _t(
        "Ainda não há dados no warehouse. Carregue as exportações e rode o ETL: "
        "`roadtest ingest PASTA_DAS_EXPORTACOES` e depois `roadtest etl` "
        "(ou `roadtest demo` para uma fábrica simulada).",
        "No data in the warehouse yet. Load the exports and run the ETL: "
        "`roadtest ingest EXPORTS_FOLDER`, then `roadtest etl` "
        "(or `roadtest demo` for a simulated plant).",
    ),
    "empty.no_lake": _t(
        "Nenhum arquivo ingerido ainda: rode `roadtest ingest PASTA_DAS_EXPORTACOES` "
        "ou envie exportações na aba Ações desta página.",
        "No file ingested yet: run `roadtest ingest EXPORTS_FOLDER` "
        "or upload exports in the Actions tab of this page.",
    ),
    "empty.no_registry": _t(
        "Ainda não há registro de modelos: treine um modelo com `roadtest train` "
        "(ou inicie um treino na página Dados).",
        "No model registry yet: train a model with `roadtest train` "
        "(or start a training run on the Data page).",
    ),
    "empty.no_versions": _t(
        "Nenhum modelo registrado ainda: rode `roadtest train` (ou inicie um treino na página "
        "Dados).",
        "No model registered yet: run `roadtest train` (or start a training run on the Data page).",
    ),
    "empty.no_champion": _t(
        "Ainda não há modelo campeão: rode `roadtest train` (o primeiro modelo treinado vira "
        "campeão) ou `roadtest models promote VERSAO`.",
        "No champion model yet: run `roadtest train` (the first trained model becomes champion) "
        "or `roadtest models promote VERSION`.",
    ),
    "empty.no_awaiting": _t(
        "Nenhum veículo aguarda a rodagem: todos os {vehicles} veículos do warehouse já "
        "chegaram a ela. Carregue exportações mais novas (`roadtest ingest …`, `roadtest etl`).",
        "No vehicle is awaiting the road test: all {vehicles} vehicles in the warehouse have "
        "reached it. Load newer exports (`roadtest ingest …`, `roadtest etl`).",
    ),
    "empty.no_labels": _t(
        "Nenhum veículo chegou à rodagem ainda, então não há resultados para analisar: "
        "carregue exportações com passagens M710 ou defeitos ROD e rode `roadtest etl`.",
        "No vehicle has reached the road test yet, so there are no outcomes to analyse: "
        "load exports with M710 passages or ROD defects and run `roadtest etl`.",
    ),
    "empty.no_results": _t(
        "Nenhum resultado de teste no warehouse: carregue exportações RESULTADOS e rode "
        "`roadtest etl`.",
        "No test result in the warehouse: load RESULTADOS exports and run `roadtest etl`.",
    ),
    "empty.no_predictions": _t(
        "Nenhuma previsão gravada ainda: pontue veículos com "
        "`roadtest predict --pending --out previsoes.csv` ou pela API (POST /v1/predictions).",
        "No stored prediction yet: score vehicles with "
        "`roadtest predict --pending --out predictions.csv` or through the API "
        "(POST /v1/predictions).",
    ),
    "error.warehouse_busy": _t(
        "O warehouse está ocupado (outro processo está gravando nele, como um ETL ou a API). "
        "Tente de novo em instantes com o botão Atualizar dados.",
        "The warehouse is busy (another process is writing to it, such as an ETL run or the "
        "API). Try again in a moment with the Refresh data button.",
    ),
    "error.warehouse_url": _t(
        "O endereço do warehouse não é DuckDB nem PostgreSQL: confira ROADTEST_WAREHOUSE_URL.",
        "The warehouse URL is neither DuckDB nor PostgreSQL: check ROADTEST_WAREHOUSE_URL.",
    ),
    "error.registry": _t(
        "Não foi possível ler o registro de modelos: {detail}",
        "The model registry could not be read: {detail}",
    ),
    "error.unexpected": _t(
        "Esta seção não pôde ser exibida: {detail}. Os detalhes estão no log do dashboard.",
        "This section could not be shown: {detail}. The details are in the dashboard's log.",
    ),
    "error.api_down": _t(
        "A API em {url} não responde ({detail}). Inicie-a com `roadtest serve` ou ajuste "
        "ROADTEST_API_URL.",
        "The API at {url} does not answer ({detail}). Start it with `roadtest serve` or set "
        "ROADTEST_API_URL.",
    ),
    "error.api_key": _t(
        "A API recusou a chave ({status}): {detail}. Use uma chave de escrita "
        "(ROADTEST_API_KEY ou o campo acima).",
        "The API refused the key ({status}): {detail}. Use a write key "
        "(ROADTEST_API_KEY or the field above).",
    ),
    "error.api_refused": _t(
        "A API recusou o pedido ({status}): {detail}",
        "The API refused the request ({status}): {detail}",
    ),
    # --- 1. planning ------------------------------------------------------------------------
    "planning.title": _t("Planejamento da rodagem", "Road-test planning"),
    "planning.caption": _t(
        "Veículos aguardando a rodagem, do maior para o menor risco de reprovar. Escolha a "
        "parcela que recebe a rodagem completa e veja o que verificar em cada carro.",
        "Vehicles awaiting the road test, riskiest first. Choose the share that gets the full "
        "road test and see what to check on each car.",
    ),
    "planning.budget": _t(
        "Orçamento de inspeção: % dos carros com rodagem completa",
        "Inspection budget: % of cars given the full road test",
    ),
    "planning.budget_help": _t(
        "Os carros de maior risco recebem a rodagem completa até esta parcela dos carros "
        "aguardando.",
        "The riskiest cars get the full road test, up to this share of the awaiting cars.",
    ),
    "planning.awaiting": _t("Aguardando a rodagem", "Awaiting the road test"),
    "planning.full_tests": _t("Com rodagem completa", "Given the full road test"),
    "planning.expected_share": _t(
        "Falhas esperadas capturadas", "Expected share of failures caught"
    ),
    "planning.expected_share_help": _t(
        "Soma das probabilidades previstas dos carros com rodagem completa ÷ soma das "
        "probabilidades de todos os carros aguardando.",
        "Sum of the predicted probabilities of the cars given the full road test ÷ sum of the "
        "probabilities of all awaiting cars.",
    ),
    "planning.expected_failures": _t(
        "Falhas esperadas: capturadas / total", "Expected failures: caught / all"
    ),
    "planning.expected_failures_help": _t(
        "Número esperado de reprovações entre os carros com rodagem completa e entre todos os "
        "carros aguardando (somas das probabilidades previstas).",
        "Expected number of failures among the cars given the full road test and among all "
        "awaiting cars (sums of the predicted probabilities).",
    ),
    "planning.scored_by": _t(
        "Riscos calculados agora pelo modelo campeão v{version}; nada é gravado.",
        "Risks computed now by the champion model v{version}; nothing is stored.",
    ),
    "planning.chart_risk": _t("Risco de cada carro", "Risk of each car"),
    "planning.full_test": _t("Rodagem completa", "Full road test"),
    "planning.short_test": _t("Teste reduzido", "Reduced test"),
    "planning.rank": _t("Posição por risco", "Rank by risk"),
    "planning.risk_pct": _t("Risco de reprovar (%)", "Risk of failing (%)"),
    "planning.chart_capture": _t(
        "Falhas esperadas capturadas por orçamento", "Expected failures caught by budget"
    ),
    "planning.by_risk": _t("Por risco (modelo)", "By risk (model)"),
    "planning.random": _t("Ordem aleatória", "Random order"),
    "planning.budget_axis": _t(
        "Carros com rodagem completa (%)", "Cars given the full road test (%)"
    ),
    "planning.caught_axis": _t("Falhas capturadas (%)", "Failures caught (%)"),
    "planning.only_full": _t(
        "Mostrar só os carros com rodagem completa", "Show only the cars given the full road test"
    ),
    "planning.download": _t("Baixar a lista (CSV)", "Download the list (CSV)"),
    "planning.formula": _t(
        "Falhas esperadas capturadas = soma das probabilidades previstas dos k carros de maior "
        "risco ÷ soma das probabilidades de todos os N carros aguardando, com k = piso(orçamento "
        "× N), no mínimo 1. O número é tão bom quanto a calibração do modelo (página Modelos).",
        "Expected share of failures caught = sum of the predicted probabilities of the k "
        "riskiest cars ÷ sum of the probabilities of all N awaiting cars, with k = "
        "floor(budget × N), at least 1. It is as good as the model's calibration (Models page).",
    ),
    # --- 2. vehicle -------------------------------------------------------------------------
    "vehicle.title": _t("Veículo", "Vehicle"),
    "vehicle.caption": _t(
        "Tudo o que se sabe de um carro: passagens por zona, resultados de teste, defeitos, a "
        "previsão e o resultado da rodagem.",
        "Everything known about one car: zone passages, test results, defects, the prediction "
        "and the road-test outcome.",
    ),
    "vehicle.search": _t("Buscar por KNR", "Search by KNR"),
    "vehicle.hint": _t(
        "Digite o KNR de um veículo (por exemplo 2024-0354224) ou abra-o pela lista do "
        "planejamento da rodagem.",
        "Type a vehicle's KNR (for example 2024-0354224) or open it from the road-test "
        "planning list.",
    ),
    "vehicle.bad_knr": _t(
        "'{knr}' não é um KNR: o formato é ano, hífen e sete dígitos, por exemplo 2024-0354224.",
        "'{knr}' is not a KNR: the format is year, dash and seven digits, e.g. 2024-0354224.",
    ),
    "vehicle.unknown": _t(
        "O warehouse não tem dados do veículo {knr}. Confira o KNR ou carregue as exportações "
        "que o contêm (`roadtest ingest …`, `roadtest etl`).",
        "The warehouse has no data on vehicle {knr}. Check the KNR or load the exports that "
        "contain it (`roadtest ingest …`, `roadtest etl`).",
    ),
    "vehicle.header": _t(
        "**{knr}** · modelo {modelo} · cor {cor} · motor {motor}",
        "**{knr}** · model {modelo} · colour {cor} · engine {motor}",
    ),
    "vehicle.results": _t("Resultados de teste", "Test results"),
    "vehicle.nok": _t("NOK", "NOK"),
    "vehicle.reworks": _t("Retrabalhos", "Retests"),
    "vehicle.earlier_defects": _t("Defeitos antes da rodagem", "Defects before the road test"),
    "vehicle.chain": _t("Cadeia de zonas completa", "Complete zone chain"),
    "vehicle.prediction": _t("Previsão", "Prediction"),
    "vehicle.outcome": _t("Resultado da rodagem", "Road-test outcome"),
    "vehicle.timeline": _t("Linha do tempo", "Timeline"),
    "vehicle.tab_highlights": _t("NOK e retrabalhos", "NOK and retests"),
    "vehicle.tab_defects": _t("Defeitos", "Defects"),
    "vehicle.tab_passages": _t("Passagens por zona", "Zone passages"),
    "vehicle.no_highlights": _t(
        "Nenhum resultado NOK nem retrabalho neste carro.",
        "No NOK result and no retest on this car.",
    ),
    "vehicle.no_features": _t(
        "Não há dados anteriores à rodagem deste carro para calcular uma previsão.",
        "This car has no data from before the road test to predict from.",
    ),
    "vehicle.risk": _t(
        "Risco de reprovar (modelo v{version})", "Risk of failing (model v{version})"
    ),
    "vehicle.risk_help": _t(
        "Probabilidade de reprovar na rodagem, calculada agora pelo modelo campeão com os dados "
        "anteriores à rodagem.",
        "Probability of failing the road test, computed now by the champion model from the data "
        "known before the road test.",
    ),
    "vehicle.decision_full": _t(
        "Risco acima do limiar do modelo: **rodagem completa** recomendada. Verificar:",
        "Risk above the model's threshold: **full road test** recommended. Check:",
    ),
    "vehicle.decision_short": _t(
        "Risco abaixo do limiar do modelo. Grupos mais prováveis, se houver rodagem completa:",
        "Risk below the model's threshold. Likeliest groups, if given the full road test:",
    ),
    "vehicle.stored_predictions": _t(
        "Previsões gravadas deste carro", "Stored predictions of this car"
    ),
    "vehicle.awaiting": _t(
        "O carro ainda não chegou à rodagem: resultado desconhecido.",
        "The car has not reached the road test yet: outcome unknown.",
    ),
    "vehicle.failed_badge": _t("Reprovado", "Failed"),
    "vehicle.passed_badge": _t("Aprovado", "Passed"),
    "vehicle.failed": _t(
        "na rodagem iniciada em {when}: {defects} defeito(s) na rodagem; grupos: {groups}.",
        "the road test started {when}: {defects} road-test defect(s); groups: {groups}.",
    ),
    "vehicle.passed": _t("na rodagem iniciada em {when}.", "the road test started {when}."),
    "vehicle.lane.zone": _t("Zonas", "Zones"),
    "vehicle.lane.result": _t("Testes", "Tests"),
    "vehicle.lane.defect": _t("Defeitos", "Defects"),
    "vehicle.kind.passage": _t("Passagem por zona", "Zone passage"),
    "vehicle.kind.ok": _t("Teste OK", "Test OK"),
    "vehicle.kind.rework": _t("Retrabalho", "Retest"),
    "vehicle.kind.nok": _t("Teste NOK", "Test NOK"),
    "vehicle.kind.earlier": _t("Defeito antes da rodagem", "Defect before the road test"),
    "vehicle.kind.road_test": _t("Defeito na rodagem", "Road-test defect"),
    "vehicle.kind.later": _t("Defeito após a rodagem", "Defect after the road test"),
    "vehicle.time": _t("Data e hora", "Date and time"),
    # --- 3. quality -------------------------------------------------------------------------
    "quality.title": _t("Análise de qualidade", "Quality analysis"),
    "quality.caption": _t(
        "Por que os carros reprovam na rodagem, onde, e como isso muda com o tempo.",
        "Why cars fail the road test, where, and how that changes over time.",
    ),
    "quality.labelled": _t("Veículos com rodagem", "Vehicles road-tested"),
    "quality.failed": _t("Reprovados", "Failed"),
    "quality.failure_rate": _t("Taxa de reprovação", "Failure rate"),
    "quality.tab_trend": _t("Evolução", "Trend"),
    "quality.tab_breakdown": _t("Grupo, zona, motor, cor", "Group, zone, engine, colour"),
    "quality.tab_pareto": _t("Pareto de defeitos", "Defect Pareto"),
    "quality.tab_tests": _t("NOK e retrabalho", "NOK and retests"),
    "quality.tab_drivers": _t("Associados à reprovação", "Associated with failures"),
    "quality.period": _t("Período", "Period"),
    "quality.day": _t("Dia", "Day"),
    "quality.week": _t("Semana", "Week"),
    "quality.month": _t("Mês", "Month"),
    "quality.trend_title": _t("Taxa de reprovação na rodagem", "Road-test failure rate"),
    "quality.vehicles_tested": _t("Veículos testados", "Vehicles tested"),
    "quality.failure_rate_pct": _t("Taxa de reprovação (%)", "Failure rate (%)"),
    "quality.by_group": _t(
        "Reprovação por grupo de falha (% dos veículos)",
        "Failures by failure group (% of vehicles)",
    ),
    "quality.by_zone": _t(
        "Reprovação dos carros com defeito anterior, por zona",
        "Failure rate of cars with an earlier defect, by zone",
    ),
    "quality.by_zone_note": _t(
        "Cada barra é a taxa de reprovação dos carros que tiveram defeito naquela zona antes da "
        "rodagem; a taxa geral é {overall}.",
        "Each bar is the failure rate of the cars that had a defect in that zone before the road "
        "test; the overall rate is {overall}.",
    ),
    "quality.by_motor": _t("Reprovação por motor", "Failure rate by engine"),
    "quality.by_cor": _t("Reprovação por cor", "Failure rate by colour"),
    "quality.scope": _t("Defeitos", "Defects"),
    "quality.scope_road_test": _t("Na rodagem", "At the road test"),
    "quality.scope_before": _t("Antes da rodagem", "Before the road test"),
    "quality.scope_all": _t("Todos", "All"),
    "quality.no_defects": _t("Nenhum defeito nesta seleção.", "No defect in this selection."),
    "quality.pareto_title": _t(
        "Pareto dos textos de defeito ({count} defeitos)",
        "Pareto of defect texts ({count} defects)",
    ),
    "quality.nok_by_zone": _t("Taxa de NOK por zona", "NOK rate by zone"),
    "quality.nok_rate_pct": _t("Taxa de NOK (%)", "NOK rate (%)"),
    "quality.by_program": _t("Por programa de teste", "By test program"),
    "quality.drivers_note": _t(
        "Taxa de reprovação dos carros com NOK no programa (ou defeito registrado na estação) "
        "antes da rodagem, comparada com a taxa geral (lift). É associação, não causa; só itens "
        "com pelo menos {minimum} veículos.",
        "Failure rate of the cars with a NOK in the program (or a defect logged at the station) "
        "before the road test, against the overall rate (lift). An association, not a cause; "
        "only items with at least {minimum} vehicles.",
    ),
    "quality.programs": _t("Programas de teste", "Test programs"),
    "quality.stations": _t("Estações de inspeção", "Inspection stations"),
    # --- 4. models --------------------------------------------------------------------------
    "models.title": _t("Modelos", "Models"),
    "models.caption": _t(
        "O modelo campeão e seu histórico, as versões comparadas, uma versão em detalhe, o "
        "desempenho ao vivo e a deriva dos dados.",
        "The champion model and its history, the versions compared, one version in depth, live "
        "performance and data drift.",
    ),
    "models.tab_versions": _t("Versões", "Versions"),
    "models.tab_version": _t("Uma versão", "One version"),
    "models.tab_live": _t("Desempenho ao vivo", "Live performance"),
    "models.tab_drift": _t("Deriva", "Drift"),
    "models.champion": _t("Campeão", "Champion"),
    "models.recall_20": _t("Recall a 20 % de orçamento", "Recall at a 20% budget"),
    "models.activations": _t("Histórico de ativação", "Activation history"),
    "models.no_activations": _t(
        "Nenhuma ativação registrada ainda.", "No activation recorded yet."
    ),
    "models.metrics_title": _t("Métricas de teste por versão", "Test metrics by version"),
    "models.choose_version": _t("Versão", "Version"),
    "models.test_window": _t(
        "Janela de teste: {start} → {end}; {vehicles} veículos, {failed} reprovados; "
        "limiar {threshold}.",
        "Test window: {start} → {end}; {vehicles} vehicles, {failed} failed; threshold "
        "{threshold}.",
    ),
    "models.confusion": _t("Matriz de confusão no limiar", "Confusion matrix at the threshold"),
    "models.pred_pass": _t("Previsto: aprova", "Predicted: pass"),
    "models.pred_fail": _t("Previsto: reprova", "Predicted: fail"),
    "models.passed": _t("Aprovado", "Passed"),
    "models.failed": _t("Reprovado", "Failed"),
    "models.no_window": _t(
        "Esta versão não registrou sua janela de treino e teste.",
        "This version did not record its training and test windows.",
    ),
    "models.window_gone": _t(
        "Os veículos da janela desta versão não estão mais no warehouse.",
        "The vehicles of this version's window are no longer in the warehouse.",
    ),
    "models.curves_note": _t(
        "Curvas recalculadas agora: a versão pontua os veículos da sua própria janela de teste.",
        "Curves recomputed now: the version scores the vehicles of its own test window.",
    ),
    "models.fpr": _t("Taxa de falsos positivos", "False-positive rate"),
    "models.tpr": _t("Recall (verdadeiros positivos)", "Recall (true-positive rate)"),
    "models.pr": _t("Precisão × recall", "Precision-recall"),
    "models.recall": _t("Recall", "Recall"),
    "models.precision": _t("Precisão", "Precision"),
    "models.calibration": _t("Calibração", "Calibration"),
    "models.mean_predicted": _t("Risco previsto médio", "Mean predicted risk"),
    "models.observed_rate": _t("Taxa de reprovação observada", "Observed failure rate"),
    "models.budget_curve": _t("Recall por orçamento de inspeção", "Recall by inspection budget"),
    "models.caught": _t("Parcela das reprovações capturada", "Share of failing cars caught"),
    "models.live_note": _t(
        "Previsões gravadas antes da rodagem de cada carro (dados até antes do início da "
        "rodagem), comparadas com o resultado assim que ele chega.",
        "Predictions stored before each car's road test (data up to before its start), compared "
        "with the outcome as soon as it arrives.",
    ),
    "models.no_live": _t(
        "Nenhum carro com previsão anterior à rodagem tem resultado ainda.",
        "No car predicted before its road test has an outcome yet.",
    ),
    "models.live_title": _t(
        "Risco previsto × reprovação observada", "Predicted risk vs observed failure rate"
    ),
    "models.observed": _t("observada", "observed"),
    "models.predicted": _t("prevista", "predicted"),
    "models.recent_count": _t("Veículos recentes comparados", "Recent vehicles compared"),
    "models.drift_note": _t(
        "Referência: veículos da janela de treino da v{version} ({reference}); recentes: os "
        "{recent} veículos com dados mais novos. PSI abaixo de 0,1: estável; 0,1 a 0,25: "
        "moderada; acima de 0,25: forte.",
        "Reference: the vehicles of v{version}'s training window ({reference}); recent: the "
        "{recent} vehicles with the newest data. PSI below 0.1: stable; 0.1 to 0.25: moderate; "
        "above 0.25: major.",
    ),
    "models.feature": _t("Variável", "Feature"),
    "models.reference": _t("Treino", "Training"),
    "models.recent": _t("Recentes", "Recent"),
    "models.share_pct": _t("Parcela dos veículos (%)", "Share of vehicles (%)"),
    "models.level.stable": _t("estável", "stable"),
    "models.level.moderate": _t("moderada", "moderate"),
    "models.level.major": _t("forte", "major"),
    "models.level.unknown": _t("sem dados", "no data"),
    # --- 5. data ----------------------------------------------------------------------------
    "data.title": _t("Dados", "Data"),
    "data.caption": _t(
        "O que foi recebido e posto em quarentena, como foram as cargas do ETL e suas "
        "verificações de qualidade; envio de exportações e retreino.",
        "What was received and quarantined, how the ETL runs and their quality checks went; "
        "upload exports and retrain.",
    ),
    "data.tab_ingestion": _t("Ingestão", "Ingestion"),
    "data.tab_etl": _t("ETL e qualidade", "ETL and quality"),
    "data.tab_actions": _t("Ações", "Actions"),
    "data.files": _t("Arquivos recebidos", "Files received"),
    "data.rejected_files": _t("Arquivos rejeitados", "Files rejected"),
    "data.rows_bronze": _t("Linhas carregadas", "Rows loaded"),
    "data.rows_quarantined": _t("Linhas em quarentena", "Rows quarantined"),
    "data.by_day": _t("Linhas por dia de recebimento", "Rows by day received"),
    "data.quarantine": _t("Quarentena: motivos", "Quarantine: reasons"),
    "data.no_quarantine": _t("Nenhuma linha em quarentena.", "No row quarantined."),
    "data.choose_run": _t("Execução do ETL", "ETL run"),
    "data.no_checks": _t(
        "Esta execução não carregou dados, então não tem verificações.",
        "This run loaded nothing, so it has no checks.",
    ),
    "data.checks_failed": _t(
        "{failed} de {total} verificações falharam.", "{failed} of {total} checks failed."
    ),
    "data.checks_passed": _t("As {total} verificações passaram.", "All {total} checks passed."),
    "data.actions_note": _t(
        "As ações passam pela API em {url}, com uma chave de escrita.",
        "Actions go through the API at {url}, with a write key.",
    ),
    "data.api_key": _t("Chave da API (escrita)", "API key (write)"),
    "data.upload": _t("Enviar exportações", "Upload exports"),
    "data.upload_files": _t(
        "Exportações RESULTADOS, FALHAS ou STATUS (xlsx, csv ou parquet)",
        "RESULTADOS, FALHAS or STATUS exports (xlsx, csv or parquet)",
    ),
    "data.upload_send": _t("Enviar e carregar", "Upload and load"),
    "data.upload_none": _t("Escolha ao menos um arquivo.", "Choose at least one file."),
    "data.upload_done": _t(
        "{files} arquivo(s): {bronze} linhas carregadas, {quarantined} em quarentena. ETL: {etl}",
        "{files} file(s): {bronze} rows loaded, {quarantined} quarantined. ETL: {etl}",
    ),
    "data.retrain": _t("Retreinar", "Retrain"),
    "data.models": _t("Modelos a treinar", "Models to train"),
    "data.retrain_start": _t("Iniciar treino", "Start training"),
    "data.retrain_refresh": _t("Atualizar situação", "Refresh status"),
    "data.retrain_started": _t("Treino {run} iniciado.", "Training run {run} started."),
    "data.run_queued": _t(
        "Treino {run} na fila: o worker o inicia em instantes.",
        "Training run {run} is queued: the worker starts it shortly.",
    ),
    "data.run_running": _t("Treino {run} em andamento.", "Training run {run} is running."),
    "data.run_succeeded": _t(
        "Treino {run} concluído: versão {version} registrada.",
        "Training run {run} finished: version {version} registered.",
    ),
    "data.run_failed": _t("Treino {run} falhou.", "Training run {run} failed."),
    "data.waiting_api": _t("Aguardando a API…", "Waiting for the API…"),
    # --- 6. health --------------------------------------------------------------------------
    "health.title": _t("Saúde do sistema", "System health"),
    "health.caption": _t(
        "A API, o warehouse, o lake e o registro de modelos, verificados agora, e o histórico "
        "gravado pelo monitor.",
        "The API, warehouse, lake and model registry, checked now, and the history the monitor "
        "recorded.",
    ),
    "health.check_now": _t("Verificar agora", "Check now"),
    "health.checked_at": _t("Verificado em {when}.", "Checked at {when}."),
    "health.service.api": _t("API", "API"),
    "health.service.api_ready": _t("API pronta", "API ready"),
    "health.service.warehouse": _t("Warehouse", "Warehouse"),
    "health.service.lake": _t("Lake", "Lake"),
    "health.service.registry": _t("Registro de modelos", "Model registry"),
    "health.service.dashboard": _t("Painel", "Dashboard"),
    "health.service.s3": _t("Armazenamento S3", "S3 storage"),
    "health.service.dagster": _t("Orquestrador (Dagster)", "Orchestrator (Dagster)"),
    "health.ok": _t("OK", "OK"),
    "health.down": _t("Fora", "Down"),
    "health.not_ready": _t("não está pronta: {checks}", "not ready: {checks}"),
    "health.serving": _t("servindo a versão {version}", "serving version {version}"),
    "health.history": _t("Histórico", "History"),
    "health.no_history_table": _t(
        "Nenhum histórico gravado: o monitor da plataforma grava as verificações na tabela "
        "health_check do warehouse quando está em execução.",
        "No history recorded: the platform's monitor records its checks in the warehouse's "
        "health_check table while it runs.",
    ),
    "health.no_history": _t(
        "A tabela de histórico existe, mas ainda está vazia.",
        "The history table exists but is still empty.",
    ),
    "health.latency": _t("Latência das verificações", "Check latency"),
    "health.failed_check": _t("Verificação com falha", "Failed check"),
    "health.history_span": _t("Histórico de {first} a {last}.", "History from {first} to {last}."),
    # --- column headers ---------------------------------------------------------------------
    **{
        f"col.{name}": _t(pt, en)
        for name, (pt, en) in {
            "rank": ("Posição", "Rank"),
            "knr": ("KNR", "KNR"),
            "risk": ("Risco", "Risk"),
            "full_test": ("Rodagem completa", "Full road test"),
            "groups": ("Grupos a verificar", "Groups to check"),
            "checks": ("O que verificar", "What to check"),
            "cumulative_caught": ("Falhas esperadas capturadas até aqui", "Expected caught so far"),
            "modelo": ("Modelo", "Model"),
            "cor": ("Cor", "Colour"),
            "motor": ("Motor", "Engine"),
            "last_data": ("Último dado", "Latest data"),
            "group": ("Grupo de falha", "Failure group"),
            "halle": ("Zona", "Zone"),
            "zone": ("Zona", "Zone"),
            "zone_at_result": ("Zona", "Zone"),
            "count": ("Quantidade", "Count"),
            "share": ("Parcela", "Share"),
            "cumulative_share": ("Parcela acumulada (%)", "Cumulative share (%)"),
            "metric": ("Métrica", "Metric"),
            "value": ("Valor", "Value"),
            "data": ("Data e hora", "Date and time"),
            "name": ("Programa", "Program"),
            "value_id": ("Sub-resultado", "Sub-result"),
            "status": ("Status", "Status"),
            "unit": ("Unidade", "Unit"),
            "is_nok": ("NOK", "NOK"),
            "is_rework": ("Retrabalho", "Retest"),
            "falha": ("Defeito", "Defect"),
            "s_group": ("Grupo", "Group"),
            "estacao": ("Estação", "Station"),
            "is_road_test_defect": ("Na rodagem", "At the road test"),
            "before_road_test": ("Antes da rodagem", "Before the road test"),
            "status_code": ("Sensor", "Sensor code"),
            "gap_seconds": ("Intervalo (s)", "Gap (s)"),
            "is_negative_gap": ("Intervalo negativo", "Negative gap"),
            "predicted_at": ("Previsto em", "Predicted at"),
            "model_version": ("Versão do modelo", "Model version"),
            "probability": ("Probabilidade", "Probability"),
            "decision": ("Rodagem completa", "Full road test"),
            "features_as_of": ("Dados até", "Data up to"),
            "failed": ("Reprovados", "Failed"),
            "share_of_vehicles": ("Parcela dos veículos", "Share of vehicles"),
            "share_of_failures": ("Parcela das reprovações", "Share of failures"),
            "vehicles": ("Veículos", "Vehicles"),
            "failure_rate": ("Taxa de reprovação", "Failure rate"),
            "lift": ("Lift", "Lift"),
            "results": ("Resultados", "Results"),
            "nok": ("NOK", "NOK"),
            "rework": ("Retrabalhos", "Retests"),
            "nok_rate": ("Taxa de NOK", "NOK rate"),
            "rework_rate": ("Taxa de retrabalho", "Retest rate"),
            "version": ("Versão", "Version"),
            "kind": ("Tipo", "Kind"),
            "created_at": ("Criada em", "Created at"),
            "champion": ("Campeã", "Champion"),
            "promotion": ("Promoção", "Promotion"),
            "roc_auc": ("ROC-AUC", "ROC-AUC"),
            "pr_auc": ("PR-AUC", "PR-AUC"),
            "recall_at_10pct": ("Recall a 10 %", "Recall at 10%"),
            "recall_at_20pct": ("Recall a 20 %", "Recall at 20%"),
            "recall_at_30pct": ("Recall a 30 %", "Recall at 30%"),
            "brier": ("Brier", "Brier"),
            "calibration_error": ("Erro de calibração", "Calibration error"),
            "threshold": ("Limiar", "Threshold"),
            "n_vehicles": ("Veículos no teste", "Test vehicles"),
            "n_failed": ("Reprovados no teste", "Test failures"),
            "active_from": ("Ativa desde", "Active from"),
            "active_to": ("Ativa até", "Active to"),
            "days": ("Dias", "Days"),
            "serving": ("Em serviço", "Serving"),
            "mean_probability": ("Risco previsto médio", "Mean predicted risk"),
            "recall_at_budget": ("Recall a 20 %", "Recall at 20%"),
            "flagged_share": ("Parcela enviada à rodagem completa", "Share sent to full test"),
            "flagged_recall": (
                "Reprovações enviadas à rodagem completa",
                "Failures sent to full test",
            ),
            "awaiting": ("Aguardando resultado", "Awaiting outcome"),
            "feature": ("Variável", "Feature"),
            "psi": ("PSI", "PSI"),
            "level": ("Deriva", "Drift"),
            "reference": ("Treino (média ou moda)", "Training (mean or mode)"),
            "recent": ("Recentes (média ou moda)", "Recent (mean or mode)"),
            "reference_missing": ("Faltantes no treino", "Missing in training"),
            "recent_missing": ("Faltantes recentes", "Missing recently"),
            "received_at": ("Recebido em", "Received at"),
            "file_name": ("Arquivo", "File"),
            "table": ("Tabela", "Table"),
            "outcome": ("Resultado", "Outcome"),
            "rows_read": ("Linhas lidas", "Rows read"),
            "rows_bronze": ("Linhas carregadas", "Rows loaded"),
            "rows_quarantined": ("Linhas em quarentena", "Rows quarantined"),
            "reason": ("Motivo", "Reason"),
            "size_bytes": ("Tamanho (bytes)", "Size (bytes)"),
            "rows": ("Linhas", "Rows"),
            "started_at": ("Início", "Started at"),
            "engine": ("Motor de execução", "Engine"),
            "vehicles_affected": ("Veículos atualizados", "Vehicles updated"),
            "vehicles_labelled": ("Veículos com resultado", "Vehicles labelled"),
            "checks_passed": ("Verificações OK", "Checks passed"),
            "checks_failed": ("Verificações com falha", "Checks failed"),
            "message": ("Mensagem", "Message"),
            "run_id": ("Execução", "Run"),
            "check_name": ("Verificação", "Check"),
            "severity": ("Gravidade", "Severity"),
            "passed": ("Passou", "Passed"),
            "observed": ("Observado", "Observed"),
            "service": ("Serviço", "Service"),
            "checked_at": ("Verificado em", "Checked at"),
            "ok": ("OK", "OK"),
            "latency_ms": ("Latência (ms)", "Latency (ms)"),
            "detail": ("Detalhe", "Detail"),
            "n_checks": ("Verificações", "Checks"),
            "ok_share": ("Parcela OK", "Share OK"),
            "last_checked_at": ("Última verificação", "Last check"),
            "last_ok": ("Última OK", "Last OK"),
            "last_failure_at": ("Última falha", "Last failure"),
            "median_latency_ms": ("Latência mediana (ms)", "Median latency (ms)"),
        }.items()
    },
}
"""Every text of the dashboard: key → language → text with ``{placeholders}``."""


def has_text(key: str) -> bool:
    """Whether ``key`` names a text."""
    return key in TEXTS


def translate(key: str, lang: Lang, **values: object) -> str:
    """The text ``key`` in ``lang`` with its placeholders filled (the key itself if unknown)."""
    text = TEXTS.get(key, {}).get(lang)
    if text is None:
        return key
    return text.format(**values) if values else text


def group_name(group: str, lang: Lang) -> str:
    """A failure group's name (a slug or the registry's name) in ``lang``."""
    names = GROUP_NAMES.get(slug(group))
    if names is None:
        return group
    return names[LANGUAGES.index(lang)]


def checks_in(group: str, lang: Lang) -> list[str]:
    """What to check on a car for a failure group, in ``lang`` (the API's catalogue in English)."""
    if lang == "en":
        return checks_for(group)
    key = slug(group)
    return list(CHECKS_PT.get(key if key in GROUP_CHECKS else "unknown", CHECKS_PT["unknown"]))


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _localise(number: str, lang: Lang) -> str:
    """Swap English separators for Brazilian ones (1,234.5 → 1.234,5)."""
    if lang == "en":
        return number
    return number.replace(",", "\0").replace(".", ",").replace("\0", ".")


def fmt_int(value: int | None, lang: Lang) -> str:
    """A count with thousands separators."""
    return "–" if value is None else _localise(f"{value:,}", lang)


def fmt_float(value: float | None, lang: Lang, digits: int = 1) -> str:
    """A number with ``digits`` decimals (a dash when missing)."""
    if value is None or _missing(value):
        return "–"
    return _localise(f"{value:,.{digits}f}", lang)


def fmt_pct(value: float | None, lang: Lang, digits: int = 1) -> str:
    """A share as a percentage: ``12,5 %`` in pt-BR, ``12.5%`` in English."""
    if value is None or _missing(value):
        return "–"
    number = fmt_float(value * 100, lang, digits)
    return f"{number} %" if lang == "pt-BR" else f"{number}%"


def fmt_time(value: datetime | None, lang: Lang) -> str:
    """A date and time as the language writes it (day first in pt-BR); instants say UTC."""
    if value is None:
        return "–"
    text = value.strftime("%d/%m/%Y %H:%M" if lang == "pt-BR" else "%Y-%m-%d %H:%M")
    return f"{text} UTC" if value.tzinfo is not None else text
