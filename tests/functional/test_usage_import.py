"""kaitong usage import (JSON lines, CSV) and kaitong usage simulate."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kaitong.billing import closing, commands, ingest
from kaitong.billing.models import UsageSample
from tests.support.billing import DAY, after_close, hour, sample, workspaces

pytestmark = pytest.mark.django_db


def test_json_lines_then_csv_upsert_the_same_rows(tmp_path):
    ws_a, ws_b = workspaces(2)
    lines = [sample(ws_a, "logs", DAY, h, h * 10) for h in range(24)] + [sample(ws_b.token, "sms", DAY, 1, "2.5")]
    jsonl = tmp_path / "usage.jsonl"
    jsonl.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    stream = io.StringIO()
    assert commands.import_file(path=jsonl, now=after_close(), stream=stream) == 25
    assert "importing" in stream.getvalue() and "25/25" in stream.getvalue()
    csv_file = tmp_path / "usage.csv"
    csv_file.write_text(f"workspace,item,hour,quantity\n{ws_a.pk},logs,{hour(DAY, 3)},999\n")
    assert commands.import_file(path=csv_file, now=after_close(), stream=io.StringIO()) == 1
    assert UsageSample.objects.count() == 25
    assert UsageSample.objects.filter(workspace=ws_a, quantity=Decimal(999)).count() == 1


def test_a_bad_file_imports_nothing_and_names_every_bad_line(tmp_path):
    (ws,) = workspaces(1)
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(sample(ws, "logs", DAY, 0, 1)),
                "{not json",
                json.dumps(sample(ws, "beer", DAY, 0, 1)),
                json.dumps(sample(ws, "logs", DAY, 1, 1)),
            ]
        )
    )
    with pytest.raises(ingest.SamplesRejected) as caught:
        commands.import_file(path=path, now=after_close(), stream=io.StringIO())
    assert [(e.index, e.field) for e in caught.value.errors] == [(1, ""), (2, "item")]
    assert UsageSample.objects.count() == 0


def test_the_cli_reports_errors_and_exits_non_zero(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("workspace,item,hour,quantity\n1,logs,yesterday,1\n")
    with pytest.raises(SystemExit) as exited:
        commands.usage_import(path=str(path))
    assert "nothing was imported" in str(exited.value)
    assert "sample 0: hour" in capsys.readouterr().err


def test_simulate_feeds_every_workspace_for_the_day(monkeypatch):
    workspaces(2)
    monkeypatch.setattr(commands.timezone, "now", lambda: datetime(2026, 11, 21, 0, 0, tzinfo=UTC))
    commands.usage_simulate(day=DAY.isoformat())
    assert UsageSample.objects.count() == 2 * len(commands.PLAUSIBLE) * 24
    commands.usage_simulate(day=DAY.isoformat())  # again: the same rows, upserted
    assert UsageSample.objects.count() == 2 * len(commands.PLAUSIBLE) * 24
    result = closing.do_close_day(day=DAY, now=after_close())
    assert result.total > 0
