"""The Triage page's Prevention panel: guard rails from the root cause, their promtool proofs and downloads."""

from __future__ import annotations

import streamlit as st

from core.markdown_text import md_escape
from core.errors import WorkbenchError
from core.models import ROOT_CAUSE_LABELS, Incident
from core.prevention.plan import FILES, POLICY_PY, POLICY_YAML, RULES_FILE, TESTS_FILE, PreventionPlan, prevent
from core.triage import TriageResult

PLAN_KEY = "prevention_plan"
MIME = {RULES_FILE: "application/yaml", TESTS_FILE: "application/yaml", POLICY_YAML: "application/yaml",
        POLICY_PY: "text/x-python"}


def _cause(incident: Incident, result: TriageResult):
    if incident.root_cause is not None:
        return incident.root_cause, "the incident's confirmed root cause"
    if result.top is not None:
        return result.top.root_cause, "triage's most likely class"
    return None, ""


def show(incident: Incident, result: TriageResult) -> None:
    """A "Prevention" expander: generate the guard rails, then show the proofs and offer the files."""
    with st.expander("Prevention: guard rails that would have caught this earlier", icon=":material/shield:"):
        cause, why = _cause(incident, result)
        if cause is None:
            st.info("No root cause yet: confirm one, or run triage, to generate guard rails.")
            return
        st.write(f"For **{ROOT_CAUSE_LABELS[cause]}** ({why}): Prometheus alerting rules with thresholds from "
                 "the baseline, unit tests from the incident's own series checked with `promtool`, and a "
                 "circuit breaker replayed over the incident.")
        plans = st.session_state.setdefault(PLAN_KEY, {})
        key = (incident.id, cause.value)
        if st.button("Generate guard rails", key="prevention_run", icon=":material/shield:"):
            with st.spinner("Generating and proving the guard rails with promtool…"):
                try:
                    plans[key] = prevent(incident.bundle_path, cause=cause,
                                         milestones={k: v for k, v in incident.milestones.items() if v})
                except WorkbenchError as exc:
                    st.error(f"**The guard rails could not be generated.** {exc}")
                    return
        plan: PreventionPlan | None = plans.get(key)
        if plan is None:
            return
        _render(plan)


def _render(plan: PreventionPlan) -> None:
    for line in plan.proof_lines():
        st.markdown(f"- {md_escape(line)}")  # metric and column names come from the bundle
    if not plan.check.ok:
        st.error("promtool check rules failed:")
        st.code(plan.check.output, language="text")
    elif plan.test is not None and not plan.test.ok:
        st.error("promtool test rules failed:")
        st.code(plan.test.output, language="text")
    for t in plan.ruleset.templates:
        st.caption(md_escape(f"Template only — {t.title}: {t.missing}"))
    st.code(plan.files[RULES_FILE], language="yaml")
    cols = st.columns(len(FILES))
    for col, name in zip(cols, FILES):
        col.download_button(name, plan.files[name], file_name=f"{plan.incident}-{name}", mime=MIME[name],
                            key=f"prevention_dl_{name}", icon=":material/download:")
