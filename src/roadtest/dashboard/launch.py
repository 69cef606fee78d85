"""How the dashboard is started: the ``streamlit run`` command line, without importing Streamlit.

``roadtest dashboard`` and the browser test use the same command, so what the
test drives is what an operator runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

APP_PATH: Final = Path(__file__).with_name("app.py")


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The command serving the dashboard on ``host:port``: headless, no usage stats, and no
    developer toolbar (the plant floor has nothing to deploy or rerun)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]
