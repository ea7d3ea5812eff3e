"""The Triage page's Prevention panel: guard rails from the root cause, their proofs and downloads.

The rules, routes and breaker are generated on the first button (promtool and amtool run then);
the data contract on its own button (Great Expectations takes seconds to import). Plans are kept
in the session per incident and cause, so the Post-mortem page can use them (:func:`plan_for`).
"""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.markdown_text import md_escape
from core.models import ROOT_CAUSE_LABELS, Incident, RootCause
from core.prevention.contract import gx_available
from core.prevention.plan import (
    ALERTMANAGER_FILE,
    POLICY_PY,
    RULES_FILE,
    PreventionPlan,
    add_contract,
    prevent,
)

PLAN_KEY = "prevention_plan"
CONTRACT_ERROR = "prevention_contract_error"


def _mime(name: str) -> str:
    if name.endswith((".yml", ".yaml")):
        return "application/yaml"
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".md"):
        return "text/markdown"
    return "text/x-python" if name == POLICY_PY else "text/plain"


def cause_of(incident: Incident, top: RootCause | None = None) -> tuple[RootCause | None, str]:
    """The cause to guard against: the confirmed one, else triage's most likely class."""
    if incident.root_cause is not None:
        return incident.root_cause, "the incident's confirmed root cause"
    if top is not None:
        return top, "triage's most likely class"
    return None, ""


def plan_for(incident: Incident, cause: RootCause | None = None) -> PreventionPlan | None:
    """The guard rails generated in this session for ``incident`` (and ``cause``), if any."""
    plans = st.session_state.get(PLAN_KEY, {})
    cause = cause or incident.root_cause
    if cause is not None:
        return plans.get((incident.id, cause.value))
    return next((p for (iid, _c), p in plans.items() if iid == incident.id), None)


def generate(incident: Incident, cause: RootCause | None, *, contract: bool = False) -> PreventionPlan:
    """Generate and prove the guard rails (promtool, amtool, breaker replay) and keep them in the session.

    ``cause`` None: the bundle's root cause, else triage's top hypothesis. ``contract``: also the data contract.

    Raises:
        WorkbenchError: the bundle cannot be used, or promtool is missing.
    """
    if not incident.bundle_path:
        from core.errors import InvalidInputError

        raise InvalidInputError("this incident has no bundle, so there are no series to choose thresholds from; "
                                "import the incident's bundle on the Incidents page")
    plan = prevent(incident.bundle_path, cause=cause, contract=contract,
                   milestones={k: v for k, v in incident.milestones.items() if v})
    st.session_state.setdefault(PLAN_KEY, {})[(incident.id, plan.cause.value)] = plan
    return plan


def show(incident: Incident, result) -> None:
    """A "Prevention" expander: generate the guard rails, then show the proofs and offer the files."""
    cause, why = cause_of(incident, result.top.root_cause if result.top is not None else None)
    opened = cause is not None and plan_for(incident, cause) is not None  # stays open once generated
    with st.expander("Prevention: guard rails that would have caught this earlier", icon=":material/shield:",
                     expanded=opened):
        if cause is None:
            st.info("No root cause yet: confirm one, or run triage, to generate guard rails.")
            return
        st.write(f"For **{ROOT_CAUSE_LABELS[cause]}** ({why}): Prometheus alerting rules with thresholds from "
                 "the baseline and unit tests from the incident's own series (checked with `promtool`), "
                 "Alertmanager routes (checked with `amtool`), a circuit breaker replayed over the incident, "
                 "and a data contract for the changed columns.")
        if st.button("Generate guard rails", key="prevention_run", icon=":material/shield:"):
            with st.spinner("Generating the guard rails and proving them with promtool and amtool…"):
                try:
                    generate(incident, cause)
                except WorkbenchError as exc:
                    st.error(f"**The guard rails could not be generated.** {exc}")
                    return
        plan = plan_for(incident, cause)
        if plan is None:
            return
        render(plan, incident)


def _tool_result(title: str, ok: bool, lines: list[str], output: str | None) -> None:
    text = "  \n".join(md_escape(x) for x in lines)
    if ok:
        st.success(f"**{title}**  \n{text}", icon=":material/check_circle:")
    else:
        st.error(f"**{title}**  \n{text}", icon=":material/error:")
        if output:
            st.code(output, language="text")


def render(plan: PreventionPlan, incident: Incident) -> None:
    """The proofs, the templates, the contract and the downloads of ``plan``."""
    best = max((s for s in plan.saved if s.minutes_before_detection is not None),
               key=lambda s: s.minutes_before_detection, default=None)
    if best is not None and best.minutes_before_detection > 0:
        st.metric("Time to detect saved", f"{best.minutes_before_detection:.0f} min",
                  help="The earliest generated alert against the incident's 'detected' milestone.")
    st.markdown("**Time to detect**")
    for s in plan.saved:
        st.markdown(f"- {md_escape(s.sentence)}")  # metric and column names come from the bundle
    if not plan.saved:
        st.warning("No rule could be generated from this bundle's series: see the templates below.")
    promtool_lines = [x for x in plan.proof_lines() if x.startswith("promtool")]
    failed = plan.check if not plan.check.ok else (plan.test if plan.test is not None and not plan.test.ok else None)
    _tool_result("promtool", plan.promtool_ok, promtool_lines, failed.output if failed else None)
    if plan.routes is not None:
        bad = plan.routes.failure()
        _tool_result("amtool (Alertmanager routes)", plan.routes.ok, plan.routes.lines(),
                     bad.output if bad is not None and plan.routes.installed else None)
    st.markdown("**Circuit breaker replay**")
    st.markdown(f"- {md_escape(plan.replay.sentence)}")
    off = [c for c in plan.policy.conditions if not c.enabled]
    if off:
        st.caption("Disabled conditions: " + md_escape("; ".join(f"{c.name} ({c.reason})" for c in off)))
    for note in plan.ruleset.notes:
        st.warning(md_escape(note))
    for t in plan.ruleset.templates:
        with st.container(border=True):
            st.markdown(f"**Template only — {md_escape(t.title)}.** {md_escape(t.missing)}. "
                        "Export the series named below, fill in the threshold and uncomment:")
            st.code(t.text, language="yaml", wrap_lines=True)
    _files(_contract(plan, incident))


def _build_contract(plan: PreventionPlan, incident: Incident) -> None:
    """Button callback: the plan with its data contract, kept in the session (before the page reruns)."""
    try:
        plan = add_contract(plan)
    except WorkbenchError as exc:
        st.session_state[CONTRACT_ERROR] = str(exc)
        return
    st.session_state.setdefault(PLAN_KEY, {})[(incident.id, plan.cause.value)] = plan


def _contract(plan: PreventionPlan, incident: Incident) -> PreventionPlan:
    """The contract's proof, or its button; returns the plan with the contract once built."""
    st.markdown("**Data contract**")
    if plan.contract is None:
        engine = ("a Great Expectations suite" if gx_available() else
                  "the workbench's schema check (Great Expectations is not installed: it is an optional extra, "
                  "pip install -r requirements-gx.txt)")
        st.caption(f"Builds {engine} for the columns the incident changed, then validates it on the reference "
                   "window (must pass) and the incident window (must fail). Takes a few seconds.")
        st.button("Build and prove the data contract", key="prevention_contract", icon=":material/fact_check:",
                  on_click=_build_contract, args=(plan, incident))
        if (err := st.session_state.pop(CONTRACT_ERROR, None)) is not None:
            st.error(f"**The data contract could not be built.** {err}")
        return plan
    c = plan.contract
    if c.note:
        st.info(md_escape(c.note) + ".")
    if c.skipped:
        st.warning(md_escape(c.lines()[0]))
        return plan
    (st.success if c.proven else st.error)("  \n".join(md_escape(x) for x in c.lines()))
    if c.incident_check is not None and c.incident_check.failed:
        with st.expander(f"Checks that failed on the incident window ({len(c.incident_check.failed)})"):
            for line in c.incident_check.failed:
                st.markdown(f"- {md_escape(line)}")
    if c.reference is not None and c.reference.failed:
        st.code("\n".join(c.reference.failed), language="text")
    return plan


def _files(plan: PreventionPlan) -> None:
    st.markdown("**Files**")
    rules, routes_tab = st.tabs([RULES_FILE, ALERTMANAGER_FILE])
    rules.code(plan.files[RULES_FILE], language="yaml")
    routes_tab.code(plan.files[ALERTMANAGER_FILE], language="yaml")
    names = sorted(plan.files)
    for start in range(0, len(names), 4):
        cols = st.columns(4)
        for col, name in zip(cols, names[start:start + 4]):
            col.download_button(name, plan.files[name], file_name=f"{plan.incident}-{name}", mime=_mime(name),
                                key=f"prevention_dl_{name}", icon=":material/download:", on_click="ignore")
    st.download_button("All guard rails (zip)", plan.zip_bytes(), file_name=f"{plan.incident}-guard-rails.zip",
                       mime="application/zip", key="prevention_dl_zip", icon=":material/folder_zip:",
                       type="primary", on_click="ignore")
