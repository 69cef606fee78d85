"""Print the requirements of roadtest (base plus chosen extras) from pyproject.toml.

Images install their dependencies in a layer of their own, before the source is
copied, so that editing the code does not reinstall every package; this reads
the dependency list without needing the package itself.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def read_requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """The base dependencies followed by those of each extra, refusing an unknown extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    missing = [extra for extra in extras if extra not in optional]
    if missing:
        known = ", ".join(sorted(optional)) or "none"
        raise SystemExit(
            f"pyproject.toml has no extra {', '.join(missing)} (known extras: {known}); "
            "fix the image's extras build argument"
        )
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements.extend(optional[extra])
    return requirements


def main() -> None:
    """``python project_requirements.py PYPROJECT [EXTRA,EXTRA...]``."""
    pyproject = Path(sys.argv[1])
    extras = [e for e in (sys.argv[2] if len(sys.argv) > 2 else "").split(",") if e]
    print("\n".join(read_requirements(pyproject, extras)))


if __name__ == "__main__":
    main()
