"""The landing sensor's cursor arithmetic and the failure alert's body."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from roadtest.orchestration.alerts import alert_payload
from roadtest.orchestration.sensors import file_key, read_cursor, unseen


def test_a_file_is_new_until_seen_and_again_when_replaced(tmp_path: Path) -> None:
    export = tmp_path / "sub" / "FALHAS.csv"
    export.parent.mkdir()
    export.write_text("KNR;DATA\n")
    first = file_key(export, tmp_path)
    assert first.startswith("sub/FALHAS.csv|9|")
    assert unseen([first], read_cursor(None)) == [first]
    cursor = json.dumps([first])
    assert unseen([first], read_cursor(cursor)) == []
    export.write_text("KNR;DATA\nA;B\n")
    os.utime(export, ns=(1, 2))
    assert unseen([file_key(export, tmp_path)], read_cursor(cursor)) != []


def test_the_alert_names_the_job_the_run_and_the_reason() -> None:
    at = datetime(2026, 2, 1, tzinfo=UTC)
    payload = alert_payload("retrain_job", "abc123", "disk full", at)
    assert payload["text"] == "roadtest: run abc123 of retrain_job failed: disk full"
    assert payload["failed_at"] == "2026-02-01T00:00:00+00:00"
    assert json.loads(json.dumps(payload)) == payload
