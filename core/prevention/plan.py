"""All guard rails of one incident bundle, written and proven: used by ``python -m core prevent`` and the Triage page.

:func:`prevent` decides the root cause (the one given, else the bundle's confirmed
``root_cause``, else triage's top hypothesis) and the onset (:func:`core.onset.bundle_onset`),
generates the rules (:mod:`core.prevention.rules`), their unit tests and proofs
(:mod:`core.prevention.proof`), the Alertmanager routes and their amtool proof
(:mod:`core.prevention.routes`), the circuit breaker with its replay
(:mod:`core.prevention.fallback`) and, when asked (Great Expectations imports slowly), the
data contract with its proof (:mod:`core.prevention.contract`); it writes the files
:data:`FILES` (and the contract's file) into a folder, with ``proof.md`` summing up the proofs.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from core.bundle import Bundle, read_bundle
from core.errors import InvalidInputError
from core.models import RootCause
from core.onset import bundle_milestones, bundle_onset
from core.prevention import fallback, proof, routes
from core.prevention.contract import Contract, build_contract
from core.prevention.rules import RuleSet, generate_rules

RULES_FILE = "rules.yml"
TESTS_FILE = "rules_test.yml"
POLICY_YAML = "fallback.yaml"
POLICY_PY = "fallback.py"
ALERTMANAGER_FILE = "alertmanager.yml"
PROOF_FILE = "proof.md"
FILES = (RULES_FILE, TESTS_FILE, ALERTMANAGER_FILE, POLICY_YAML, POLICY_PY, PROOF_FILE)


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
    routes: routes.RouteProof | None = None
    contract: Contract | None = None  # None until asked for (Great Expectations imports slowly)
    impact_end: datetime | None = None
    bundle_path: Path | None = None

    @property
    def promtool_ok(self) -> bool:
        return self.check.ok and (self.test is None or self.test.ok)

    @property
    def amtool_ok(self) -> bool:
        return self.routes is not None and self.routes.ok

    @property
    def tools_ok(self) -> bool:
        """promtool and amtool both passed."""
        return self.promtool_ok and self.amtool_ok

    def failed_tool(self) -> proof.ToolRun | None:
        """The first failed promtool or amtool run (its output is the message to show)."""
        if not self.check.ok:
            return self.check
        if self.test is not None and not self.test.ok:
            return self.test
        return self.routes.failure() if self.routes is not None else None

    def all_lines(self) -> list[str]:
        """Every proof: the rules' TTD and promtool, amtool, the breaker's replay and the data contract."""
        lines = self.proof_lines()
        if self.routes is not None:
            lines[-1:-1] = self.routes.lines()
        if self.contract is not None:
            lines += self.contract.lines()
        return lines

    def proof_markdown(self) -> str:
        """``proof.md``: what was generated and how each file was proven."""
        out = [f"# Guard rails of incident {self.incident}", "",
               f"Root cause: {self.cause.value} ({self.cause_source}); onset "
               f"{self.onset:%Y-%m-%d %H:%M} UTC ({self.onset_source})"
               + (f"; detected {self.detected:%Y-%m-%d %H:%M} UTC" if self.detected else "") + ".", "",
               "## Proofs", ""]
        out += [f"- {line}" for line in self.all_lines()]
        if self.ruleset.templates:
            out += ["", "## Templates to fill in", ""]
            out += [f"- {t.title}: {t.missing}" for t in self.ruleset.templates]
        if self.contract is not None and not self.contract.skipped:
            out += ["", f"## Data contract ({self.contract.file_name})", ""]
            out += [f"- `{c}`: {why}" for c, why in self.contract.columns]
            for w in (self.contract.reference, self.contract.incident_check):
                if w is not None and w.failed:
                    out += ["", f"Failed on the {w.window} window:", ""] + [f"- {x}" for x in w.failed]
            if self.contract.note:
                out += ["", self.contract.note + "."]
        out += ["", "## Files", ""] + [f"- `{n}`" for n in sorted(self.files) if n != PROOF_FILE] + [""]
        return "\n".join(out)

    def zip_bytes(self) -> bytes:
        """Every file in one zip, under a folder ``<incident>-guard-rails/``."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name in sorted(self.files):
                z.writestr(f"{self.incident}-guard-rails/{name}", self.files[name])
        return buf.getvalue()

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
                "alertmanager": self.routes.to_dict() if self.routes is not None else None,
                "fallback": self.policy.to_dict()["circuit_breaker"], "replay": self.replay.to_dict(),
                "contract": self.contract.to_dict() if self.contract is not None else None,
                "tools_ok": self.tools_ok, "out_dir": str(self.out_dir), "files": sorted(self.files)}

    def with_contract(self, contract: Contract) -> "PreventionPlan":
        """This plan with its data contract: the contract file written and ``proof.md`` rewritten."""
        files = dict(self.files)
        if not contract.skipped:
            files[contract.file_name] = contract.text()
        plan = replace(self, contract=contract, files=files)
        files[PROOF_FILE] = plan.proof_markdown()
        for name in (contract.file_name, PROOF_FILE):
            if name in files:
                (self.out_dir / name).write_text(files[name], encoding="utf-8")
        return plan


def add_contract(plan: PreventionPlan, *, engine: str | None = None) -> PreventionPlan:
    """``plan`` with the data contract of its bundle built and proven (slow with Great Expectations)."""
    b = read_bundle(plan.bundle_path)
    return plan.with_contract(build_contract(b, plan.onset, impact_end=plan.impact_end, engine=engine))


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
            milestones: Mapping[str, datetime | str | None] | None = None, contract: bool = True,
            contract_engine: str | None = None) -> PreventionPlan:
    """Generate, write and prove the guard rails of ``bundle``.

    Args:
        contract: also build and prove the data contract (Great Expectations when installed:
            seconds more); without it, :func:`add_contract` adds it later.
        contract_engine: ``great_expectations`` or ``schema_check`` (default: GX when installed).

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
             ALERTMANAGER_FILE: routes.alertmanager_yaml(ruleset, ruleset.team),
             POLICY_YAML: policy.to_yaml(), POLICY_PY: policy.to_python()}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    check = proof.check_rules(out / RULES_FILE)
    test = proof.run_tests(out / TESTS_FILE) if ruleset.rules and check.ok else None
    route_proof = routes.prove_routes(out / ALERTMANAGER_FILE, ruleset, ruleset.team)
    saved = tuple(proof.ttd_saved(r, onset.at, detected) for r in ruleset.rules)
    plan = PreventionPlan(b.id, the_cause, source, onset.at, onset.source, detected, ruleset, saved, check, test,
                          policy, rep, out, files, route_proof, None, impact_end, b.path)
    if contract:
        return plan.with_contract(build_contract(b, onset.at, impact_end=impact_end, engine=contract_engine))
    files[PROOF_FILE] = plan.proof_markdown()
    (out / PROOF_FILE).write_text(files[PROOF_FILE], encoding="utf-8")
    return plan
