"""Proof that generated rules are valid and would have caught the incident, with the real ``promtool``.

``check_rules`` runs ``promtool check rules`` on a rules file. ``unit_tests`` writes a
``promtool test rules`` file from the incident's own series: the input series are the
bundle's metrics on the 1-minute evaluation grid from the start of the baseline (time 0),
and for every rule the test expects no alert at the baseline's closest approach to the
threshold and at the end of the baseline, none one minute before the time the rule
first fires on the incident, and the alert at that time. ``run_tests`` runs it.
``ttd_saved`` turns the first firing into "N minutes before the incident was detected".
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import WorkbenchError
from core.prevention.rules import INTERVAL_MIN, AlertRule, RuleSet

PROMTOOL_TIMEOUT_S = 300


class PromtoolMissing(WorkbenchError):
    """promtool is not installed."""

    exit_code = 5


@dataclass(frozen=True)
class ToolRun:
    """One promtool run: the command, whether it passed and what it printed."""

    command: tuple[str, ...]
    ok: bool
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {"command": " ".join(self.command), "ok": self.ok, "output": self.output}


def promtool() -> str:
    """The path of promtool.

    Raises:
        PromtoolMissing: it is not on PATH.
    """
    path = shutil.which("promtool")
    if not path:
        raise PromtoolMissing("promtool is not installed: install Debian's 'prometheus' package "
                              "(scripts/install_test_deps.sh does) or put promtool on PATH")
    return path


def _run(args: list[str], cwd: Path) -> ToolRun:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        return ToolRun(tuple(args), False, f"promtool did not finish within {PROMTOOL_TIMEOUT_S} s")
    out = (proc.stdout + proc.stderr).strip()
    return ToolRun(tuple(args), proc.returncode == 0, out)


def check_rules(path: Path) -> ToolRun:
    """``promtool check rules PATH``."""
    path = Path(path)
    return _run([promtool(), "check", "rules", path.name], path.parent)


def run_tests(path: Path) -> ToolRun:
    """``promtool test rules PATH`` (rule files are found relative to PATH's folder)."""
    path = Path(path)
    return _run([promtool(), "test", "rules", path.name], path.parent)


def _minutes(ruleset: RuleSet, t: datetime) -> int:
    return int((pd.Timestamp(t) - pd.Timestamp(ruleset.origin)) / timedelta(minutes=INTERVAL_MIN)) * INTERVAL_MIN


def _values(s: pd.Series) -> str:
    return " ".join("_" if pd.isna(v) else f"{float(v):.6g}" for v in s.to_numpy())


def _escape(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"')


def _selector(prom: str, labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return prom
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return f"{prom}{{{inner}}}"


@dataclass(frozen=True)
class Checkpoint:
    rule: str
    at: datetime
    minute: int
    fires: bool
    why: str


def checkpoints(ruleset: RuleSet, rule: AlertRule) -> list[Checkpoint]:
    """When the unit test looks at ``rule``, and whether the alert must be firing then."""
    out: list[Checkpoint] = []
    first_ok = ruleset.origin + timedelta(minutes=rule.window_min)
    if rule.baseline_extreme_at is not None and rule.baseline_extreme_at >= first_ok:
        out.append(Checkpoint(rule.alert, rule.baseline_extreme_at, 0, False,
                              "the baseline's closest approach to the threshold"))
    b_end = ruleset.baseline_end - timedelta(minutes=INTERVAL_MIN)
    out.append(Checkpoint(rule.alert, b_end, 0, False, "the end of the baseline"))
    if rule.fires_at is not None:
        out.append(Checkpoint(rule.alert, rule.fires_at - timedelta(minutes=INTERVAL_MIN), 0, False,
                              "one minute before it first fires"))
        out.append(Checkpoint(rule.alert, rule.fires_at, 0, True, "the first firing on the incident"))
    return [Checkpoint(c.rule, c.at, _minutes(ruleset, c.at), c.fires, c.why) for c in out]


def unit_tests_yaml(ruleset: RuleSet, rules_file: str = "rules.yml") -> str:
    """The ``promtool test rules`` file proving each rule on the incident's series."""
    import yaml

    last = max([ruleset.baseline_end] + [r.fires_at for r in ruleset.rules if r.fires_at]) + timedelta(minutes=5)
    series: dict[str, pd.Series] = {}
    for r in ruleset.rules:
        for labels, s in r.series.per_series.items():
            series.setdefault(_selector(r.prom_metric, labels), s[s.index <= last])
    alert_tests = []
    for r in ruleset.rules:
        for c in checkpoints(ruleset, r):
            exp = []
            if c.fires:
                exp = [{"exp_labels": dict(r.labels), "exp_annotations": dict(r.annotations)}]
            alert_tests.append({"eval_time": f"{c.minute}m", "alertname": r.alert, "exp_alerts": exp})
    doc = {"rule_files": [rules_file], "evaluation_interval": f"{INTERVAL_MIN}m", "tests": [{
        "interval": f"{INTERVAL_MIN}m",
        "input_series": [{"series": sel, "values": _values(s)} for sel, s in series.items()],
        "alert_rule_test": alert_tests}]}
    head = (f"# Unit tests of the guard rails of incident {ruleset.incident}: the incident's own series from "
            f"{ruleset.origin.isoformat().replace('+00:00', 'Z')} (time 0), one value per {INTERVAL_MIN}m.\n")
    return head + yaml.safe_dump(doc, sort_keys=False, width=1 << 30)


@dataclass(frozen=True)
class Saved:
    """What the first firing of a rule means for the time to detect."""

    alert: str
    fires_at: datetime | None
    detected: datetime | None
    onset: datetime
    minutes_before_detection: float | None
    minutes_after_onset: float | None
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat().replace("+00:00", "Z") if t else None
        return {"alert": self.alert, "fires_at": iso(self.fires_at), "detected": iso(self.detected),
                "minutes_before_detection": self.minutes_before_detection,
                "minutes_after_onset": self.minutes_after_onset, "sentence": self.sentence}


def _hm(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def ttd_saved(rule: AlertRule, onset: datetime, detected: datetime | None) -> Saved:
    """"This alert would have fired at T, N minutes before the incident was detected"."""
    if rule.fires_at is None:
        return Saved(rule.alert, None, detected, onset, None, None,
                     f"{rule.alert} would not have fired on this incident's series")
    after = (rule.fires_at - onset).total_seconds() / 60
    if detected is None:
        return Saved(rule.alert, rule.fires_at, None, onset, None, after,
                     f"{rule.alert} would have fired at {_hm(rule.fires_at)}, {after:.0f} min after the onset "
                     "(the incident has no 'detected' milestone to compare with)")
    before = (detected - rule.fires_at).total_seconds() / 60
    when = (f"{before:.0f} min before the incident was detected" if before >= 0
            else f"{-before:.0f} min after the incident was detected")
    return Saved(rule.alert, rule.fires_at, detected, onset, before, after,
                 f"{rule.alert} would have fired at {_hm(rule.fires_at)}, {when} "
                 f"({after:.0f} min after the onset)")
