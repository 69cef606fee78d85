"""The dashboard's entry point: ``streamlit run src/roadtest/dashboard/app.py``.

``roadtest dashboard`` runs this file too. Streamlit executes it as a script
(``__name__ == "__main__"``) on every interaction; importing it does nothing.
Each page has a URL of its own (``/planning``, ``/vehicle?knr=…``, …) and the
language is kept in the URL as ``?lang=en``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import streamlit as st

from roadtest.dashboard import ui
from roadtest.dashboard.views import data_ops, health, models, planning, quality, vehicle

PageRender = Callable[[ui.Context], None]

# URL path → (page renderer, icon), in menu order; the first page is the home page ("/").
# (A comment, not a docstring: Streamlit would print a bare string of this script.)
PAGES: Final[dict[str, tuple[PageRender, str]]] = {
    "planning": (planning.render, ":material/checklist:"),
    "vehicle": (vehicle.render, ":material/directions_car:"),
    "quality": (quality.render, ":material/analytics:"),
    "models": (models.render, ":material/model_training:"),
    "data": (data_ops.render, ":material/database:"),
    "health": (health.render, ":material/monitor_heart:"),
}


def _page(name: str, render: PageRender) -> Callable[[], None]:
    def show() -> None:
        render(ui.context())

    show.__name__ = f"page_{name}"
    return show


def _chrome() -> ui.Context:
    """Page configuration, the language picker and the refresh button, shared by every page."""
    st.set_page_config(page_title="roadtest", page_icon=":material/directions_car:", layout="wide")
    ui.language_picker()
    ctx = ui.context()
    ui.refresh_button(ctx)
    return ctx


def main() -> None:
    """Build the navigation in the chosen language and run the selected page."""
    ctx = _chrome()
    pages = [
        st.Page(
            _page(name, render),
            title=ctx.t(f"nav.{name}"),
            icon=icon,
            url_path=name,
            default=index == 0,
        )
        for index, (name, (render, icon)) in enumerate(PAGES.items())
    ]
    st.navigation(pages).run()


def run_page(name: str) -> None:
    """Show one page alone, with the shared chrome (what the page tests run)."""
    render, _ = PAGES[name]
    render(_chrome())


if __name__ == "__main__":
    main()
