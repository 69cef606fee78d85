"""Unit tests of the bronze → warehouse transforms on small hand-built bronze frames.

``BronzeBuilder`` is the tiny factory the transform, mart, leakage and parity
tests share: it writes rows in the bronze schema, with lineage columns that
say which file (and so which ingestion time) each row came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from roadtest.contracts.partner import ZONE_CHAIN, SourceTable, bronze_schema
from roadtest.contracts.warehouse import TRANSFORM_TABLES
from roadtest.etl.clean import BronzeInputError
from roadtest.etl.engines import run_transforms
from roadtest.lake.validate import validate_rows

T0 = datetime(2024, 3, 4, 6, 0, 0)
INGESTED = datetime(2024, 4, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A plant timestamp ``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


@dataclass
class BronzeBuilder:
    """Collects bronze rows per table; ``file`` names the export a row came from."""

    ingested: dict[str, datetime] = field(default_factory=dict)
    rows: dict[SourceTable, list[dict[str, object]]] = field(
        default_factory=lambda: {t: [] for t in SourceTable}
    )
    _row_numbers: dict[tuple[SourceTable, str], int] = field(default_factory=dict)

    def file(self, name: str, ingested: datetime) -> BronzeBuilder:
        """Declare when export ``name`` was ingested (default: INGESTED)."""
        self.ingested[name] = ingested
        return self

    def _lineage(self, table: SourceTable, file: str) -> dict[str, object]:
        key = (table, file)
        self._row_numbers[key] = self._row_numbers.get(key, 0) + 1
        return {
            "_file_hash": hashlib.sha256(file.encode()).hexdigest(),
            "_source_file": file,
            "_sheet": None,
            "_row_number": self._row_numbers[key],
            "_ingested_at": self.ingested.get(file, INGESTED),
            "_flags": "",
        }

    def result(
        self,
        knr: str,
        name: str,
        data: datetime,
        *,
        value_id: str | None = "1",
        id_group: int = 2,
        status: int = 10,
        value: float | None = 10.0,
        unit: str | None = "Nm",
        file: str = "resultados_1.xlsx",
    ) -> BronzeBuilder:
        """Add one RESULTADOS row."""
        self.rows[SourceTable.RESULTADOS].append(
            {
                "KNR": knr,
                "NAME": name,
                "ID": id_group,
                "STATUS": status,
                "UNIT": unit,
                "VALUE_ID": value_id,
                "VALUE": value,
                "DATA": data,
                **self._lineage(SourceTable.RESULTADOS, file),
            }
        )
        return self

    def defect(
        self,
        knr: str,
        halle: str,
        falha: str,
        data: datetime,
        *,
        s_group_id: int | None = 5,
        modelo: str = "MOD1",
        cor: str = "2R2R",
        motor: str = "DHS",
        estacao: str = "HCEQS506",
        usuario: str = "INSP01",
        file: str = "falhas_1.xlsx",
    ) -> BronzeBuilder:
        """Add one FALHAS row."""
        self.rows[SourceTable.FALHAS].append(
            {
                "KNR": knr,
                "MODELO": modelo,
                "COR": cor,
                "MOTOR": motor,
                "ESTACAO": estacao,
                "USUARIO": usuario,
                "HALLE": halle,
                "FALHA": falha,
                "S_GROUP_ID": s_group_id,
                "DATA": data,
                **self._lineage(SourceTable.FALHAS, file),
            }
        )
        return self

    def passage(
        self, knr: str, status: str, data: datetime, *, file: str = "status_1.xlsx"
    ) -> BronzeBuilder:
        """Add one STATUS row."""
        self.rows[SourceTable.STATUS].append(
            {"KNR": knr, "STATUS": status, "DATA": data, **self._lineage(SourceTable.STATUS, file)}
        )
        return self

    def line(
        self, knr: str, start: float, codes: tuple[str, ...], step: float = 60
    ) -> BronzeBuilder:
        """Passages at ``codes``, ``step`` minutes apart from minute ``start``."""
        for i, code in enumerate(codes):
            self.passage(knr, code, at(start + i * step))
        return self

    def frames(self) -> dict[SourceTable, pl.DataFrame]:
        """The bronze frames, typed exactly as the lake returns them."""
        return {
            table: pl.DataFrame(self.rows[table], schema=bronze_schema(table), orient="row")
            if self.rows[table]
            else pl.DataFrame(schema=bronze_schema(table))
            for table in SourceTable
        }


def bronze_from_exports(
    exports: dict[SourceTable, pl.DataFrame], ingested: datetime = INGESTED
) -> dict[SourceTable, pl.DataFrame]:
    """Export-form frames (e.g. a simulated plant's) → bronze rows, via the lake's validation."""
    bronze = {}
    for table, frame in exports.items():
        raw = frame.select(pl.all().cast(pl.String)).with_columns(
            _file_hash=pl.lit(hashlib.sha256(table.value.encode()).hexdigest()),
            _source_file=pl.lit(f"{table.value.lower()}.parquet"),
            _sheet=pl.lit(None, pl.String),
            _row_number=pl.int_range(1, frame.height + 1, dtype=pl.Int64),
            _ingested_at=pl.lit(ingested),
        )
        rows, rejected = validate_rows(raw, table)
        assert rejected.is_empty(), rejected.head()
        bronze[table] = rows
    return bronze


def run(builder: BronzeBuilder) -> dict[str, pl.DataFrame]:
    """All warehouse tables of the builder's rows, computed by Polars."""
    return run_transforms(builder.frames())


def row(frame: pl.DataFrame, **where: object) -> dict[str, object]:
    """The single row of ``frame`` matching ``where``."""
    match = frame.filter(*(pl.col(k) == v for k, v in where.items()))
    assert match.height == 1, f"{match.height} rows match {where}"
    return match.row(0, named=True)


KNR = "2024-0000001"
OTHER = "2024-0000002"
PRE_CHAIN = ("R750", "L540", "G700", "M600", "M620", "M700")
FULL_CHAIN = (*PRE_CHAIN, "M710", "M720", "M800")


# --- output contract ------------------------------------------------------------------


def test_every_table_has_the_contract_schema() -> None:
    tables = run(BronzeBuilder().line(KNR, 0, FULL_CHAIN).result(KNR, "012001", at(5)))
    assert list(tables) == [spec.name for spec in TRANSFORM_TABLES]
    for spec in TRANSFORM_TABLES:
        assert tables[spec.name].schema == spec.schema(), spec.name
        key = tables[spec.name].select(spec.primary_key)
        assert not key.is_duplicated().any(), spec.name


def test_empty_bronze_gives_empty_tables() -> None:
    tables = run(BronzeBuilder())
    for spec in TRANSFORM_TABLES:
        assert tables[spec.name].is_empty()
        assert tables[spec.name].schema == spec.schema()


def test_missing_table_is_named() -> None:
    frames = BronzeBuilder().frames()
    del frames[SourceTable.FALHAS]
    with pytest.raises(BronzeInputError, match="FALHAS"):
        run_transforms(frames)


def test_missing_column_is_named() -> None:
    frames = BronzeBuilder().frames()
    frames[SourceTable.STATUS] = frames[SourceTable.STATUS].drop("_ingested_at")
    with pytest.raises(BronzeInputError, match=r"STATUS lacks the column.*_ingested_at"):
        run_transforms(frames)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown transform engine 'pandas'"):
        run_transforms(BronzeBuilder().frames(), engine="pandas")  # type: ignore[arg-type]


# --- cleaning -------------------------------------------------------------------------


def test_exact_duplicates_and_rows_repeated_across_exports_collapse() -> None:
    late = datetime(2024, 5, 1, tzinfo=UTC)
    b = BronzeBuilder().file("second.xlsx", late)
    b.result(KNR, "012001", at(5), value=3.0).result(KNR, "012001", at(5), value=3.0)
    b.result(KNR, "012001", at(5), value=3.0, file="second.xlsx")
    b.passage(KNR, "R750", at(0)).passage(KNR, "R750", at(0), file="second.xlsx")
    b.defect(KNR, "ZP5", "PORTA. RISCO", at(1)).defect(KNR, "ZP5", "PORTA. RISCO", at(1))
    tables = run(b)
    result = row(tables["fact_test_result"], knr=KNR)
    assert result["source_file_hash"] == hashlib.sha256(b"second.xlsx").hexdigest()
    assert tables["fact_zone_passage"].height == 1
    assert tables["fact_defect"].height == 1
    assert row(tables["dim_vehicle"], knr=KNR)["n_results"] == 1


def test_resent_file_corrects_values_latest_ingestion_wins() -> None:
    b = BronzeBuilder().file("old.xlsx", INGESTED).file("fix.xlsx", INGESTED + timedelta(days=1))
    # The correction is listed first: row order must not matter, ingestion time does.
    b.result(KNR, "012001", at(5), value=4.0, status=10, file="fix.xlsx")
    b.result(KNR, "012001", at(5), value=40.0, status=13, file="old.xlsx")
    b.defect(KNR, "ZP6", "PORTA. RISCO", at(6), s_group_id=4, file="fix.xlsx")
    b.defect(KNR, "ZP6", "PORTA. RISCO", at(6), s_group_id=None, file="old.xlsx")
    tables = run(b)
    result = row(tables["fact_test_result"], knr=KNR)
    assert (result["value"], result["status"], result["is_nok"]) == (4.0, 10, False)
    assert row(tables["fact_defect"], knr=KNR)["s_group"] == "doors"


def test_files_ingested_at_the_same_instant_resolve_deterministically() -> None:
    def value_kept(first: str, second: str) -> float:
        b = BronzeBuilder()
        b.result(KNR, "012001", at(5), value=1.0, file=first)
        b.result(KNR, "012001", at(5), value=2.0, file=second)
        return float(str(row(run(b)["fact_test_result"], knr=KNR)["value"]))

    assert value_kept("a.xlsx", "b.xlsx") == value_kept("a.xlsx", "b.xlsx")
    # Swapping which file holds which value swaps the answer: the file hash decides.
    assert value_kept("a.xlsx", "b.xlsx") != value_kept("b.xlsx", "a.xlsx")


def test_keys_and_codes_are_trimmed() -> None:
    b = BronzeBuilder()
    b.passage(f" {KNR} ", " r750 ", at(0)).passage(KNR, "R750", at(0))
    b.defect(KNR, "ZP62  ", "  PORTA. RISCO ", at(1))
    b.result(f"{KNR}  ", " 012001", at(2), value_id=None, unit=" Nm ")
    tables = run(b)
    passage = row(tables["fact_zone_passage"], knr=KNR)
    assert passage["status_code"] == "R750"
    defect = row(tables["fact_defect"], knr=KNR)
    assert (defect["halle"], defect["falha"], defect["zone"]) == ("ZP62", "PORTA. RISCO", "ZP6")
    result = row(tables["fact_test_result"], knr=KNR)
    assert (result["name"], result["value_id"], result["unit"]) == ("012001", "", "Nm")
    assert tables["dim_vehicle"]["knr"].to_list() == [KNR]


# --- zone passages --------------------------------------------------------------------


def test_zone_mapping_follows_the_main_chain() -> None:
    tables = run(BronzeBuilder().line(KNR, 0, (*FULL_CHAIN, "X123")))
    passages = tables["fact_zone_passage"]
    for order, (code, zone) in enumerate(ZONE_CHAIN, start=1):
        p = row(passages, status_code=code)
        assert (p["zone"], p["line_order"]) == (zone, order)
    off_chain = row(passages, status_code="X123")
    assert off_chain["zone"] is None and off_chain["gap_seconds"] is None
    zones = tables["dim_zone"]
    assert row(zones, status_code="X123")["in_main_chain"] is False
    assert row(zones, status_code="M710")["after_road_test"] is True
    assert row(zones, status_code="M700")["after_road_test"] is False
    assert zones.height == len(FULL_CHAIN) + 1


def test_negative_gap_is_flagged_kept_in_the_fact_and_nulled_in_features() -> None:
    b = BronzeBuilder().line(KNR, 0, PRE_CHAIN)
    b.rows[SourceTable.STATUS][1]["DATA"] = at(-30)  # L540 30 min before R750
    tables = run(b)
    l540 = row(tables["fact_zone_passage"], status_code="L540")
    assert l540["gap_seconds"] == -1800.0 and l540["is_negative_gap"] is True
    g700 = row(tables["fact_zone_passage"], status_code="G700")
    assert g700["gap_seconds"] == 9000.0 and g700["is_negative_gap"] is False
    mart = row(tables["mart_vehicle_features"], knr=KNR)
    assert mart["n_negative_gaps"] == 1
    assert mart["dwell_zp5_s"] is None
    assert mart["dwell_zp5a_s"] == 9000.0
    assert mart["dwell_zp61_s"] == 3600.0


def test_missing_chain_passage_is_flagged_and_gap_spans_it() -> None:
    tables = run(BronzeBuilder().line(KNR, 0, ("R750", "G700", "M600")))
    g700 = row(tables["fact_zone_passage"], status_code="G700")
    assert g700["is_missing_previous"] is True
    assert g700["gap_seconds"] == 3600.0  # measured from R750, the nearest earlier code
    assert row(tables["fact_zone_passage"], status_code="M600")["is_missing_previous"] is False
    assert row(tables["dim_vehicle"], knr=KNR)["has_complete_chain"] is False
    mart = row(tables["mart_vehicle_features"], knr=KNR)
    assert (mart["n_chain_zones"], mart["has_complete_chain"]) == (3, False)
    assert mart["dwell_zp5_s"] is None and mart["dwell_zp61_s"] == 3600.0


# --- test results ---------------------------------------------------------------------


def test_rework_is_a_retest_of_the_same_program_and_sub_result() -> None:
    b = BronzeBuilder().line(KNR, 0, PRE_CHAIN)
    b.result(KNR, "012001", at(5), value_id="1", status=13)
    b.result(KNR, "012001", at(5), value_id="2")  # same batch, other bolt: no retest
    b.result(KNR, "012001", at(20), value_id="1")  # retest of bolt 1, same zone
    b.result(KNR, "012001", at(200), value_id="1")  # retest after ZP61 and ZP6 entries
    b.result(OTHER, "012001", at(30), value_id="1")  # another vehicle: first measurement
    facts = run(b)["fact_test_result"]
    flags = {
        (r["knr"], r["value_id"], r["data"]): (r["is_rework"], r["rework_after_zone_exit"])
        for r in facts.iter_rows(named=True)
    }
    assert flags[(KNR, "1", at(5))] == (False, False)
    assert flags[(KNR, "2", at(5))] == (False, False)
    assert flags[(KNR, "1", at(20))] == (True, False)
    assert flags[(KNR, "1", at(200))] == (True, True)
    assert flags[(OTHER, "1", at(30))] == (False, False)


def test_zone_at_result_is_the_zone_entered_last() -> None:
    b = BronzeBuilder().line(KNR, 0, FULL_CHAIN)
    b.result(KNR, "012001", at(-5)).result(KNR, "012002", at(0)).result(KNR, "012003", at(61))
    b.result(KNR, "SECTION_ZP8_01", at(9 * 60))
    facts = run(b)["fact_test_result"]
    assert row(facts, name="012001")["zone_at_result"] is None
    assert row(facts, name="012002")["zone_at_result"] == "ZP5"  # same instant as R750
    assert row(facts, name="012003")["zone_at_result"] == "ZP5A"
    assert row(facts, name="SECTION_ZP8_01")["zone_at_result"] == "ZP8"


def test_known_before_road_test_excludes_start_instant_and_section_zp8() -> None:
    b = BronzeBuilder().line(KNR, 0, FULL_CHAIN)  # M710 at minute 360
    b.result(KNR, "012001", at(359)).result(KNR, "012002", at(360)).result(KNR, "012003", at(400))
    b.result(KNR, "SECTION_ZP8_01", at(100))
    facts = run(b)["fact_test_result"]
    known = dict(zip(facts["name"], facts["known_before_road_test"], strict=True))
    assert known == {
        "012001": True,
        "012002": False,
        "012003": False,
        "SECTION_ZP8_01": False,
    }


def test_dim_test_spec_window_uses_pre_road_test_ok_values_only() -> None:
    b = BronzeBuilder().line(KNR, 0, FULL_CHAIN)
    b.result(KNR, "012001", at(10), value=10.0).result(KNR, "012001", at(20), value=12.0)
    b.result(KNR, "012001", at(30), value=30.0, status=13)  # NOK: outside the window
    b.result(KNR, "012001", at(500), value=99.0)  # after the road-test start
    b.result(OTHER, "012001", at(40), value=8.0, value_id="2", id_group=1, unit=None)
    b.result(OTHER, "SECTION_ZP8_01", at(50), value=1.0, id_group=999)
    dim = run(b)["dim_test"]
    bolt = row(dim, name="012001", value_id="1")
    assert (bolt["ok_min"], bolt["ok_max"], bolt["n_ok"]) == (10.0, 12.0, 2)
    assert (bolt["id_group_name"], bolt["unit"], bolt["post_road_test"]) == ("bolting", "Nm", False)
    assert row(dim, name="012001", value_id="2")["unit"] is None
    zp8 = row(dim, name="SECTION_ZP8_01")
    assert (zp8["post_road_test"], zp8["id_group_name"], zp8["n_ok"]) == (True, "unknown", 0)


# --- defects --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("falha", "part", "defect_type"),
    [
        ("PARALAMA DIANTEIRO 01. AMASSADO", "PARALAMA DIANTEIRO 01", "AMASSADO"),
        ("PARA-CHOQUE DIANT. 01. RISCADO", "PARA-CHOQUE DIANT. 01", "RISCADO"),
        ("PORTA TRAS. RUIDO.", "PORTA TRAS", "RUIDO."),
        ("FALTA DOCUMENTO", "FALTA DOCUMENTO", None),
        ("V.I.N. ILEGIVEL", "V.I.N", "ILEGIVEL"),
    ],
)
def test_defect_text_splits_at_the_last_dot_space(
    falha: str, part: str, defect_type: str | None
) -> None:
    defect = row(run(BronzeBuilder().defect(KNR, "ZP7", falha, at(1)))["fact_defect"], knr=KNR)
    assert (defect["part"], defect["defect_type"]) == (part, defect_type)


def test_defect_zone_group_and_road_test_flags() -> None:
    b = BronzeBuilder().line(KNR, 0, FULL_CHAIN)
    b.defect(KNR, "ZP8R", "A. B", at(600), s_group_id=9830946)
    b.defect(KNR, "XYZ", "A. B", at(10), s_group_id=None)
    b.defect(KNR, "ZP5A", "A. B", at(70), s_group_id=137)
    b.defect(KNR, "AGUA", "A. C", at(100), s_group_id=1)  # water-test defect dated early
    facts = run(b)["fact_defect"]
    zp8r = row(facts, halle="ZP8R")
    assert (zp8r["zone"], zp8r["s_group"], zp8r["before_road_test"]) == ("ZP8", "electrical", False)
    xyz = row(facts, halle="XYZ")
    assert (xyz["zone"], xyz["s_group"], xyz["before_road_test"]) == (None, "unknown", True)
    assert row(facts, halle="ZP5A")["s_group"] == "external underbody"
    assert row(facts, halle="AGUA")["before_road_test"] is False
    assert not facts["is_road_test_defect"].any()


# --- labels ---------------------------------------------------------------------------


def test_failed_vehicle_label_lists_its_rod_failure_groups() -> None:
    b = BronzeBuilder().line(KNR, 0, FULL_CHAIN)  # M710 at minute 360
    b.defect(KNR, "ROD", "PORTA. RUIDO", at(380), s_group_id=9830946)
    b.defect(KNR, "ROD ", "PORTA TRAS. RUIDO", at(390), s_group_id=4)
    b.defect(KNR, "ROD", "CAPO. RISCO", at(395), s_group_id=4)
    b.defect(KNR, "ROD", "X. Y", at(396), s_group_id=None)
    b.defect(KNR, "ZP6", "PARALAMA. AMASSADO", at(200), s_group_id=5)  # before: not a failure
    label = row(run(b)["vehicle_label"], knr=KNR)
    assert label["road_test_failed"] is True
    assert label["failure_groups"] == "4,9830946"
    assert label["fails_doors"] and label["fails_electrical"] and label["fails_unknown"]
    assert not label["fails_front"]
    assert label["n_rod_defects"] == 4
    assert label["road_test_start_at"] == at(360)
    assert label["labelled_at"] == at(396)


def test_vehicle_that_passed_has_a_label_without_groups() -> None:
    b = BronzeBuilder().line(KNR, 0, FULL_CHAIN)
    b.defect(KNR, "AGUA", "PORTA. INFILTRACAO", at(500), s_group_id=4)
    label = row(run(b)["vehicle_label"], knr=KNR)
    assert label["road_test_failed"] is False
    assert label["failure_groups"] == ""
    assert label["n_rod_defects"] == 0
    assert label["labelled_at"] == label["road_test_start_at"] == at(360)


def test_rod_defect_without_m710_passage_starts_the_road_test() -> None:
    b = BronzeBuilder().line(KNR, 0, PRE_CHAIN)
    b.defect(KNR, "ROD", "PORTA. RUIDO", at(420), s_group_id=4)
    b.passage(OTHER, "M710", at(50)).defect(OTHER, "ROD", "X. Y", at(40), s_group_id=1)
    tables = run(b)
    assert row(tables["vehicle_label"], knr=KNR)["road_test_start_at"] == at(420)
    # The earliest of the two signals starts it, even when the defect precedes the passage.
    assert row(tables["vehicle_label"], knr=OTHER)["road_test_start_at"] == at(40)
    assert row(tables["dim_vehicle"], knr=KNR)["reached_road_test"] is True


def test_vehicle_that_has_not_reached_the_road_test_has_no_label() -> None:
    b = BronzeBuilder().line(KNR, 0, PRE_CHAIN).line(OTHER, 10, FULL_CHAIN)
    b.defect(KNR, "ZP7", "PORTA. RISCO", at(300), s_group_id=4)
    b.defect(KNR, "AGUA", "PORTA. INFILTRACAO", at(310), s_group_id=4)  # no M710, no ROD
    b.passage(KNR, "M720", at(320))
    tables = run(b)
    assert tables["vehicle_label"]["knr"].to_list() == [OTHER]
    vehicle = row(tables["dim_vehicle"], knr=KNR)
    assert (vehicle["reached_road_test"], vehicle["labelled"]) == (False, False)
    assert vehicle["road_test_start_at"] is None
    assert row(tables["mart_vehicle_features"], knr=KNR)["labelled"] is False


# --- dimensions -----------------------------------------------------------------------


def test_dim_vehicle_configuration_and_first_seen() -> None:
    b = BronzeBuilder().line(KNR, 10, PRE_CHAIN)
    b.result(KNR, "012001", at(5))
    b.defect(KNR, "ZP6", "A. B", at(100), cor="0Q0Q", motor="CWL")
    b.defect(KNR, "ZP7", "A. C", at(110), cor="0Q0Q", motor="CWL")
    vehicle = row(run(b)["dim_vehicle"], knr=KNR)
    assert (vehicle["modelo"], vehicle["cor"], vehicle["motor"]) == ("MOD1", "0Q0Q", "CWL")
    assert vehicle["first_seen_at"] == at(5)
    assert vehicle["last_seen_at"] == at(310)
    assert vehicle["line_entry_at"] == at(10)
    assert (vehicle["n_results"], vehicle["n_passages"], vehicle["n_defects"]) == (1, 6, 2)


def test_dim_date_matches_the_iso_calendar() -> None:
    days = [
        datetime(2020, 12, 31, 23),
        datetime(2021, 1, 3),
        datetime(2024, 12, 30, 7),
        datetime(2024, 2, 29),
        datetime(2027, 1, 1, 12),
    ]
    b = BronzeBuilder()
    for i, day in enumerate(days):
        b.passage(KNR, "R750", day + timedelta(microseconds=i))
    dates = run(b)["dim_date"]
    expected = (
        pl.DataFrame({"d": [d.date() for d in days]})
        .select(
            date=pl.col("d"),
            year=pl.col("d").dt.year(),
            quarter=pl.col("d").dt.quarter(),
            month=pl.col("d").dt.month(),
            week=pl.col("d").dt.week(),
            weekday=pl.col("d").dt.weekday(),
        )
        .cast({c: pl.Int32 for c in ("year", "quarter", "month", "week", "weekday")})
        .sort("date")
    )
    assert_frame_equal(dates, expected)
