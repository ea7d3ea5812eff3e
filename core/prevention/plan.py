"""All guard rails of one incident bundle, written and proven: used by ``python -m core prevent`` and the Triage page.

:func:`prevent` decides the root cause (the one given, else the bundle's confirmed
``root_cause``, else triage's top hypothesis) and the onset (:func:`core.onset.bundle_onset`),
generates the rules (:mod:`core.prevention.rules`), their unit tests and proofs
(:mod:`core.prevention.proof`) and the circuit breaker with its replay
(:mod:`core.prevention.fallback`), and writes the files :data:`FILES` into a folder.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from core.bundle import Bundle, read_bundle
from core.errors import InvalidInputError
from core.models import RootCause
from core.onset import bundle_milestones, bundle_onset
from core.prevention import fallback, proof
from core.prevention.rules import RuleSet, generate_rules

RULES_FILE = "rules.yml"
TESTS_FILE = "rules_test.yml"
POLICY_YAML = "fallback.yaml"
POLICY_PY = "fallback.py"
FILES = (RULES_FILE, TESTS_FILE, POLICY_YAML, POLICY_PY)


@dataclass(frozen=True)
class PreventionPlan:
    incident: str
    cause: RootCause
    cause_source: str  # given | bundle | triage
    onset: datetime
    onset_source: str
    detected: datetime | None
    ruleset: RuleSet
    saved: tuple[proof.Saved, ...]
    check: proof.ToolRun
    test: proof.ToolRun | None  # None when there is no rule to test
    policy: fallback.Policy
    replay: fallback.Replay
    out_dir: Path
    files: dict[str, str]  # file name -> text

    @property
    def promtool_ok(self) -> bool:
        return self.check.ok and (self.test is None or self.test.ok)

    def proof_lines(self) -> list[str]:
        lines = [s.sentence for s in self.saved]
        lines.append(("promtool check rules: passed" if self.check.ok else "promtool check rules: FAILED")
                     + f" ({len(self.ruleset.rules)} rule(s))")
        if self.test is None:
            lines.append("promtool test rules: not run (" + ("no rule to test" if self.check.ok
                                                            else "the rules file did not pass the check") + ")")
        else:
            lines.append("promtool test rules: passed (fires on the incident, silent on the baseline)"
                         if self.test.ok else "promtool test rules: FAILED")
        lines.append(self.replay.sentence)
        return lines

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat().replace("+00:00", "Z") if t else None
        return {"incident": self.incident, "root_cause": self.cause.value, "root_cause_source": self.cause_source,
                "onset": iso(self.onset), "onset_source": self.onset_source, "detected": iso(self.detected),
                "rules": self.ruleset.to_dict(), "ttd_saved": [s.to_dict() for s in self.saved],
                "promtool": {"check": self.check.to_dict(), "test": self.test.to_dict() if self.test else None,
                             "ok": self.promtool_ok},
                "fallback": self.policy.to_dict()["circuit_breaker"], "replay": self.replay.to_dict(),
                "out_dir": str(self.out_dir), "files": sorted(self.files)}


def decide_cause(bundle: Bundle, cause: str | RootCause | None) -> tuple[RootCause, str]:
    """The root cause to guard against: the one given, else the bundle's, else triage's top hypothesis."""
    if cause:
        try:
            return RootCause(cause), "given"
        except ValueError:
            raise InvalidInputError(f"unknown root cause '{cause}'; pick one of "
                                    f"{', '.join(c.value for c in RootCause)}") from None
    stated = bundle.manifest.get("root_cause")
    if stated in {c.value for c in RootCause}:
        return RootCause(stated), "bundle"
    from core.triage.runner import triage_bundle

    top = triage_bundle(bundle).top
    if top is None:
        raise InvalidInputError(f"bundle {bundle.id}: triage found no root-cause hypothesis; give one with --cause")
    return top.root_cause, "triage"


def prevent(bundle: Bundle | Path | str, *, out_dir: Path | str | None = None, cause: str | RootCause | None = None,
            milestones: Mapping[str, datetime | str | None] | None = None) -> PreventionPlan:
    """Generate, write and prove the guard rails of ``bundle``.

    Raises:
        InvalidInputError: the bundle is invalid, the cause unknown, or the series too short.
        proof.PromtoolMissing: promtool is not installed.
    """
    b = bundle if isinstance(bundle, Bundle) else read_bundle(bundle)
    the_cause, source = decide_cause(b, cause)
    ms = dict(bundle_milestones(b) if milestones is None else milestones)
    onset = bundle_onset(b, milestones=ms)
    detected = ms.get("detected")
    if isinstance(detected, str):
        from core.models import utc

        detected = utc(detected)
    ruleset = generate_rules(b, the_cause, onset.at)
    policy, signals = fallback.build_policy(b, onset.at)
    impact_end = ms.get("mitigated") or b.window.end
    if isinstance(impact_end, str):
        from core.models import utc

        impact_end = utc(impact_end)
    rep = fallback.replay(policy, signals, data=fallback.serving_data(b).frame, onset=onset.at,
                          impact_end=impact_end)
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"prevent-{b.id}-"))
    out.mkdir(parents=True, exist_ok=True)
    files = {RULES_FILE: ruleset.to_yaml(), TESTS_FILE: proof.unit_tests_yaml(ruleset, RULES_FILE),
             POLICY_YAML: policy.to_yaml(), POLICY_PY: policy.to_python()}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    check = proof.check_rules(out / RULES_FILE)
    test = proof.run_tests(out / TESTS_FILE) if ruleset.rules and check.ok else None
    saved = tuple(proof.ttd_saved(r, onset.at, detected) for r in ruleset.rules)
    return PreventionPlan(b.id, the_cause, source, onset.at, onset.source, detected, ruleset, saved, check, test,
                          policy, rep, out, files)
