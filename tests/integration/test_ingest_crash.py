"""An ingest process killed by SIGKILL inside the write sequence loses and duplicates nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from roadtest.contracts.partner import SourceTable
from roadtest.lake import Lake, ingest_paths

# Runs ``ingest_paths`` in a fresh interpreter and kills it (SIGKILL, no cleanup
# possible) right after the named Lake write step returns.
KILLED_INGEST = """
import json, os, signal, sys
from pathlib import Path
from roadtest.lake import Lake, ingest_paths, store

step = sys.argv[1]
original = getattr(store.Lake, step)

def step_then_die(self, *args, **kwargs):
    original(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

setattr(store.Lake, step, step_then_die)
lake = Lake(sys.argv[2], json.loads(sys.argv[3]))
ingest_paths(lake, [Path(sys.argv[4])])
"""

HEADER = "KNR;STATUS;DATA\n"


def status_csv(path: Path, knrs: list[str], bad_rows: int) -> Path:
    lines = [f"{knr};M710;2024-01-05 06:12:33\n" for knr in knrs]
    lines += [f"2023-99{i:05d};??;2024-01-05 06:12:33\n" for i in range(bad_rows)]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def run_killed_ingest(lake: Lake, step: str, path: Path) -> int:
    options = json.dumps(lake.storage_options)
    process = subprocess.run(
        [sys.executable, "-c", KILLED_INGEST, step, lake.uri, options, str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()[-2000:]
    return process.returncode


@pytest.mark.parametrize("step", ["put_raw", "append_quarantine", "append_bronze"])
def test_killed_ingest_is_completed_exactly_by_a_rerun(
    lake: Lake, tmp_path: Path, step: str
) -> None:
    earlier = status_csv(tmp_path / "earlier.csv", ["2023-0000001"], bad_rows=0)
    ingest_paths(lake, [earlier])
    bronze_before = lake.read_bronze(SourceTable.STATUS)
    version_before = lake.bronze_version(SourceTable.STATUS)
    new_knrs = [f"2023-00001{i:02d}" for i in range(30)]
    target = status_csv(tmp_path / "target.csv", new_knrs, bad_rows=3)

    run_killed_ingest(lake, step, target)

    assert lake.read_manifest().get_column("file_name").to_list() == ["earlier.csv"]
    after_kill = lake.read_bronze(SourceTable.STATUS)
    if step == "append_bronze":
        assert after_kill.height == bronze_before.height + len(new_knrs)
    else:
        assert lake.bronze_version(SourceTable.STATUS) == version_before
        assert after_kill.equals(bronze_before)

    rerun = ingest_paths(lake, [target])

    [outcome] = rerun.files
    assert (outcome.outcome, outcome.rows_bronze, outcome.rows_quarantined) == ("loaded", 30, 3)
    knrs = lake.read_bronze(SourceTable.STATUS).get_column("KNR").sort().to_list()
    assert knrs == sorted(["2023-0000001", *new_knrs])
    assert lake.read_quarantine().height == 3
    assert lake.read_manifest().get_column("file_name").sort().to_list() == [
        "earlier.csv",
        "target.csv",
    ]
    assert ingest_paths(lake, [target]).files[0].outcome == "already_ingested"
