"""What every page shares: the language, the settings, cached reads and friendly failures.

Reads are cached per store URL for ``CACHE_TTL_S`` seconds (the sidebar's
refresh button clears them), so moving between pages does not re-read the
warehouse, and a new ETL run shows up within a minute. Arguments whose name
starts with ``_`` are not part of a cache key (Streamlit's rule): the settings
object travels that way, next to the URL that identifies the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import streamlit as st
from mlflow.exceptions import MlflowException

from roadtest.dashboard import data, sources
from roadtest.dashboard.i18n import DEFAULT_LANGUAGE, LANGUAGES, Lang, has_text, translate
from roadtest.dashboard.sources import DashboardSettings, SourceUnavailableError
from roadtest.training.registry import Registry, RegistryError
from roadtest.training.scoring import LoadedModel, load_version, score_vehicles
from roadtest.warehouse import Warehouse

logger = logging.getLogger("roadtest.dashboard")

CACHE_TTL_S: Final = 60
LANGUAGE_KEY: Final = "lang"


@dataclass(frozen=True)
class Context:
    """The settings and language of one run of a page."""

    settings: DashboardSettings
    lang: Lang

    def t(self, key: str, **values: Any) -> str:
        """The text ``key`` in this page's language."""
        return translate(key, self.lang, **values)

    @property
    def warehouse_url(self) -> str:
        """The warehouse the pages read."""
        return self.settings.resolved_warehouse_url()

    @property
    def tracking_uri(self) -> str:
        """The MLflow store holding the registry."""
        return self.settings.resolved_mlflow_tracking_uri()


def language_picker() -> Lang:
    """The sidebar's language choice (pt-BR by default), kept in the URL as ``?lang=``."""
    choice = st.sidebar.selectbox(
        "Idioma / Language",
        LANGUAGES,
        index=LANGUAGES.index(DEFAULT_LANGUAGE),
        key=LANGUAGE_KEY,
        bind="query-params",
    )
    return choice if choice in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> Lang:
    """The language chosen in this session (the default before the picker has run)."""
    value = st.session_state.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def context() -> Context:
    """Settings read now (from ``ROADTEST_*``) and the session's language."""
    return Context(settings=DashboardSettings(), lang=current_language())


def show_unavailable(ctx: Context, error: SourceUnavailableError) -> None:
    """An empty or busy store, told as what to do next."""
    st.info(ctx.t(error.key, **error.values), icon=":material/info:")


def guarded(ctx: Context, render: Callable[[Context], None]) -> None:
    """Render a page section; a missing store or a failure becomes a message, never a traceback."""
    try:
        render(ctx)
    except SourceUnavailableError as error:
        show_unavailable(ctx, error)
    except (RegistryError, MlflowException) as error:
        logger.warning("registry unavailable: %s", error)
        st.warning(ctx.t("error.registry", detail=str(error)), icon=":material/warning:")
    except Exception as error:
        logger.exception("dashboard section failed")
        st.error(
            ctx.t("error.unexpected", detail=f"{type(error).__name__}: {error}"),
            icon=":material/error:",
        )


def show_table(
    ctx: Context,
    frame: pl.DataFrame,
    key: str,
    percent: Collection[str] = (),
) -> None:
    """A table with translated headers; ``percent`` columns (shares) shown as percentages."""
    names = {c: ctx.t(f"col.{c}") if has_text(f"col.{c}") else c for c in frame.columns}
    config = {
        names[c]: st.column_config.NumberColumn(names[c], format="percent")
        for c in percent
        if c in names
    }
    st.dataframe(frame.rename(names), hide_index=True, key=key, column_config=config)


def refresh_button(ctx: Context) -> None:
    """Sidebar button that forgets every cached read."""
    if st.sidebar.button(ctx.t("app.refresh"), icon=":material/refresh:"):
        st.cache_data.clear()


# --- cached reads ----------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def warehouse(url: str) -> Warehouse:
    """The read-only warehouse at ``url`` (cheap to keep: it holds no connection)."""
    return sources.open_warehouse(url)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def table(url: str, name: str, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
    """All rows of a warehouse table (or the given columns)."""
    store = warehouse(url)
    sources.require_schema(store)
    return sources.read_table(store, name, columns=columns)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def vehicle_rows(url: str, name: str, knrs: tuple[str, ...]) -> pl.DataFrame:
    """The rows of ``knrs`` in a vehicle-keyed warehouse table."""
    store = warehouse(url)
    sources.require_schema(store)
    return sources.read_table(store, name, where={"knr": knrs})


def table_of(ctx: Context, name: str, columns: Collection[str] | None = None) -> pl.DataFrame:
    """``table`` for the context's warehouse."""
    return table(ctx.warehouse_url, name, None if columns is None else tuple(columns))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def health_history(url: str) -> pl.DataFrame | None:
    """The ``health_check`` table's rows, None where the table does not exist."""
    store = warehouse(url)
    sources.require_schema(store)
    return sources.read_health_history(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def manifest(lake_uri: str, _settings: DashboardSettings) -> pl.DataFrame:
    """The lake manifest: one row per ingested file."""
    return sources.open_lake(_settings).read_manifest()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def quarantine(lake_uri: str, _settings: DashboardSettings) -> pl.DataFrame:
    """Every quarantined row with its reason."""
    return sources.open_lake(_settings).read_quarantine()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def versions(tracking_uri: str, _settings: DashboardSettings) -> list[data.VersionRecord]:
    """Every registered version with its metrics and parameters, oldest first."""
    return sources.version_records(sources.open_registry(_settings))


def versions_of(ctx: Context) -> list[data.VersionRecord]:
    """``versions`` for the context's registry."""
    return versions(ctx.tracking_uri, ctx.settings)


def champion_of(ctx: Context) -> data.VersionRecord | None:
    """The champion's record, None before the first promotion."""
    return next((v for v in versions_of(ctx) if v.champion), None)


@st.cache_resource(show_spinner=False, max_entries=4)
def model(tracking_uri: str, version: str) -> LoadedModel:
    """A registered version loaded for scoring (ONNX Runtime or scikit-learn; no torch)."""
    return load_version(Registry(tracking_uri), version)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def scores(url: str, tracking_uri: str, version: str, knrs: tuple[str, ...]) -> pl.DataFrame:
    """``version``'s scores of the vehicles ``knrs`` (probability, decision, likeliest groups).

    Scores are computed here, not read from the predictions table: that table keeps
    probabilities only, and the page needs each car's likeliest failure groups too.
    Nothing is written.
    """
    features = vehicle_rows(url, "mart_vehicle_features", knrs)
    events = vehicle_rows(url, "mart_vehicle_events", knrs)
    return score_vehicles(model(tracking_uri, version), features, events)
