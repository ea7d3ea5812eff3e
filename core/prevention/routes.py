"""An Alertmanager route snippet for the generated rules, validated with the real ``amtool``.

The snippet (``alertmanager.yml``) routes on the labels every generated rule carries
(:func:`core.prevention.rules.build_rule`): ``team`` and ``service`` pick the team's route,
``severity`` picks its receiver (``page`` → ``<team>-pager``, anything else →
``<team>-tickets``). The receivers are placeholders: each holds a webhook URL on the reserved
``.invalid`` domain (it can never deliver) for the team to replace with its PagerDuty, Slack,
e-mail or webhook settings. ``group_by`` keeps one notification per alert and service.

The proof is two real amtool runs: ``amtool check-config alertmanager.yml`` (the file is a
valid Alertmanager configuration) and, for every distinct label set of the rules,
``amtool config routes test --verify.receivers=<expected> label=value ...`` (the alert
reaches the team's pager, not the catch-all).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.prevention.proof import ToolRun
from core.prevention.rules import RuleSet

AMTOOL_TIMEOUT_S = 60
PLACEHOLDER_URL = "https://REPLACE-WITH-YOUR-RECEIVER.invalid/{name}"
INSTALL = ("amtool is not installed: install Debian's 'prometheus-alertmanager' package "
           "(scripts/install_test_deps.sh does) or put amtool on PATH")


def amtool() -> str | None:
    """The path of amtool, or None when it is not on PATH."""
    return shutil.which("amtool")


def receivers(team: str) -> tuple[str, str]:
    """(pager receiver, ticket receiver) of ``team``."""
    return f"{team}-pager", f"{team}-tickets"


def expected_receiver(team: str, labels: dict[str, str]) -> str:
    pager, tickets = receivers(team)
    return pager if labels.get("severity") == "page" else tickets


def alertmanager_doc(ruleset: RuleSet, team: str) -> dict[str, Any]:
    """The route tree and placeholder receivers as a dict (see the module docstring)."""
    pager, tickets = receivers(team)
    team_matchers = [f'team="{team}"']
    if ruleset.service:
        team_matchers.append(f'service="{ruleset.service}"')

    def receiver(name: str) -> dict[str, Any]:
        return {"name": name, "webhook_configs": [{"url": PLACEHOLDER_URL.format(name=name), "send_resolved": True}]}

    return {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "service"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [{
                "matchers": team_matchers,
                "receiver": tickets,
                "routes": [{"matchers": ['severity="page"'], "receiver": pager}],
            }],
        },
        "receivers": [receiver("default"), receiver(pager), receiver(tickets)],
    }


def alertmanager_yaml(ruleset: RuleSet, team: str) -> str:
    """The ``alertmanager.yml`` snippet with a header saying what to fill in."""
    import yaml

    pager, tickets = receivers(team)
    head = "\n".join([
        f"# Alertmanager routes for the guard rails of incident {ruleset.incident} (rules.yml).",
        f"# Alerts with team=\"{team}\"" + (f" and service=\"{ruleset.service}\"" if ruleset.service else "")
        + f" go to {pager} when severity=\"page\", else to {tickets}.",
        "# FILL IN: replace each receiver's placeholder webhook URL (*.invalid never delivers) with your",
        "# pagerduty_configs / slack_configs / email_configs / webhook_configs, then merge the route under",
        "# your existing root route. Validate with: amtool check-config alertmanager.yml",
        "",
    ])
    return head + yaml.safe_dump(alertmanager_doc(ruleset, team), sort_keys=False, width=200)


@dataclass(frozen=True)
class RouteProof:
    """``amtool check-config`` and one ``amtool config routes test`` per label set of the rules."""

    check: ToolRun
    routes: tuple[ToolRun, ...]
    installed: bool = True

    @property
    def ok(self) -> bool:
        return self.check.ok and all(r.ok for r in self.routes)

    def lines(self) -> list[str]:
        if not self.installed:
            return [f"amtool check-config: not run ({INSTALL})"]
        first = "amtool check-config: passed" if self.check.ok else "amtool check-config: FAILED"
        out = [first]
        if self.routes:
            good = sum(r.ok for r in self.routes)
            out.append(f"amtool config routes test: {good} of {len(self.routes)} label set(s) reach the "
                       "expected receiver" + ("" if good == len(self.routes) else " - FAILED"))
        return out

    def failure(self) -> ToolRun | None:
        if not self.check.ok:
            return self.check
        return next((r for r in self.routes if not r.ok), None)

    def to_dict(self) -> dict[str, Any]:
        return {"installed": self.installed, "ok": self.ok, "check": self.check.to_dict(),
                "routes": [r.to_dict() for r in self.routes]}


def _run(args: list[str], cwd: Path) -> ToolRun:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=AMTOOL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return ToolRun(tuple(args), False, f"amtool did not finish within {AMTOOL_TIMEOUT_S} s")
    # amtool warns that --config.file overrides --alertmanager.url; that line is noise
    out = "\n".join(line for line in (proc.stdout + proc.stderr).strip().splitlines()
                    if "overrides the --alertmanager.url" not in line)
    return ToolRun(tuple(args), proc.returncode == 0, out)


def prove_routes(path: Path, ruleset: RuleSet, team: str) -> RouteProof:
    """Run ``amtool check-config`` on ``path`` and test the route of every rule's labels."""
    path = Path(path)
    exe = amtool()
    if exe is None:
        return RouteProof(ToolRun(("amtool", "check-config", path.name), False, INSTALL), (), installed=False)
    check = _run([exe, "check-config", path.name], path.parent)
    if not check.ok:
        return RouteProof(check, ())
    runs = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for r in ruleset.rules:
        labels = {"alertname": r.alert, **r.labels}
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "alertname"))
        if key in seen:
            continue
        seen.add(key)
        want = expected_receiver(team, labels)
        args = [exe, "config", "routes", "test", f"--config.file={path.name}", f"--verify.receivers={want}"]
        runs.append(_run(args + [f"{k}={v}" for k, v in labels.items()], path.parent))
    return RouteProof(check, tuple(runs))
