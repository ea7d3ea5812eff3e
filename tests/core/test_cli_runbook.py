"""``python -m core runbook`` and ``python -m core similar`` against a real SQLite store (in-process)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from core.__main__ import main
from core.store import open_store
from core.store.incidents import create_incident


@pytest.fixture
def home(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'wb.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    store = open_store(url)
    t = datetime(2026, 2, 1, tzinfo=timezone.utc)
    for n, service in enumerate(["fraud-scorer", "fraud-scorer", "edge"]):
        create_incident(store, id=f"inc-{n}", title=f"incident {n}", service=service, severity="SEV3",
                        root_cause="stale_data", milestones={"started": t})
    store.dispose()
    return tmp_path


def test_list_show_learn_and_export(home, capsys):
    assert main(["runbook", "list", "--json"]) == 0
    assert {b["pattern"] for b in json.loads(capsys.readouterr().out)} >= {"stale_data", "schema_change"}
    assert main(["runbook", "learn", "inc-0", "--author", "ana", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"pattern": "stale_data/fraud-scorer", "version": 1, "created": True}
    assert main(["runbook", "show", "stale_data/fraud-scorer", "--incident", "inc-0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Stale data on fraud-scorer") and "/postmortem?incident=inc-0" in out
    assert main(["runbook", "export", "--all", "--output", str(home)]) == 0
    assert (home / "stale_data__fraud-scorer.md").read_text().startswith("# Stale data on fraud-scorer")
    assert main(["runbook", "show", "nope"]) == 2
    assert "no runbook 'nope'" in capsys.readouterr().err


def test_similar_lists_reasons_and_recurrence(home, capsys):
    assert main(["similar", "inc-0", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [s["incident"] for s in got["similar"]] == ["inc-1", "inc-2"]
    assert [w["text"] for w in got["similar"][0]["why"]] == ["same root-cause class: Stale data",
                                                             "same service: fraud-scorer"]
    assert main(["similar", "--recurrence", "--json"]) == 0
    rec = {r["pattern"]: r for r in json.loads(capsys.readouterr().out)}
    assert rec["stale_data/fraud-scorer"]["before"] == 2 and rec["stale_data/fraud-scorer"]["shipped"] is None
    assert main(["similar"]) == 2
    assert "--recurrence" in capsys.readouterr().err
