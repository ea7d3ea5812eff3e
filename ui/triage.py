"""Streamlit helpers of the Triage page: running triage with progress, links to the evidence, accept and pin."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.flows import pin as flows_pin
from core.flows.accept import AcceptedHypothesis, accept_hypothesis
from core.flows.triage import triage_incident
from core.models import Incident, TimeWindow, iso
from core.store import Store
from core.sources.mlflow_runs import configured_tracking_uri
from core.triage import RankedHypothesis, TriageResult, step_titles

PAGES_DIR = "app_pages"  # the one place the pages folder is named
VIEW_PAGES = {
    "metrics": ("metrics.py", "Metrics"),
    "timeline": ("timeline.py", "Timeline"),
    "distributions": ("distributions.py", "Distributions"),
    "logs": ("logs.py", "Logs"),
    "models": ("models.py", "Models"),
    "lineage": ("lineage.py", "Lineage"),
}
STATUS_ICONS = {"ok": ":material/check_circle:", "skipped": ":material/block:", "failed": ":material/error:"}
RESULT_KEY = "triage_result"


def tracking_uri() -> str | None:
    """The MLflow registry used by the registry step, chosen as the CLI does."""
    return configured_tracking_uri()


def page_path(view: str) -> str:
    return f"{PAGES_DIR}/{VIEW_PAGES[view][0]}"


def page_path_fishbone() -> str:
    return f"{PAGES_DIR}/fishbone.py"


def md_escape(text: str) -> str:
    """Text shown literally inside Markdown (no emphasis, links or HTML from data)."""
    out = str(text)
    for ch in "\\`*_{}[]()<>#+-.!|~$":
        out = out.replace(ch, "\\" + ch)
    return out


def link_params(incident_id: str, window: TimeWindow | None, view: str = "",
                data: dict[str, Any] | None = None) -> dict[str, str]:
    """The query parameters that open a page on the evidence itself: the incident, the evidence's window,
    and the page's focus (Logs: the query that finds the lines, with no leftover chips or document;
    Distributions: the column). The Models page opens on the first diff tab with a change by itself.
    """
    params = {"incident": incident_id}
    if window is not None:
        params["from"] = iso(window.start)
        params["to"] = iso(window.end)
    data = data or {}
    if view == "logs":
        params.update(logs_query=str(data.get("query") or ""), logs_filters="", logs_doc="")
    elif view == "distributions":
        column = data.get("column") or next(iter(data.get("columns") or []), None)
        params["distributions_column"] = str(column) if column else ""
    return params


def link_label(view: str, window: TimeWindow | None, shared: TimeWindow) -> tuple[str, str]:
    """The label and help of an evidence link; both say when following it changes the shared range."""
    from core.timerange import describe

    label = f"Open in {VIEW_PAGES[view][1]}"
    if window is None or window == shared:
        return label, "Keeps the shared time range."
    return f"{label} · sets the range", f"Sets the shared time range to {describe(window)}."


def run_triage(incident: Incident) -> TriageResult:
    """Run triage over the incident's bundle, showing one status line per step.

    The onset follows the one policy (core.onset) with the incident's stored milestones
    (core.flows.triage), so the page cuts at the same instant as the Timeline, Metrics and
    post-mortem views, and as ``python -m core accept``.
    """
    titles = step_titles()
    with st.status("Running triage…", expanded=True) as box:
        def progress(name: str, status: str, message: str) -> None:
            if status == "running":
                box.update(label=f"{message}…")
            else:
                st.markdown(f"{STATUS_ICONS.get(status, '')} **{titles.get(name, name)}** ({status})")
                st.text(message)

        result = triage_incident(incident, tracking_uri=tracking_uri(), progress=progress)
        box.update(label=f"Triage finished in {result.seconds:.1f} s", state="complete", expanded=False)
    return result


def stored_result(incident_id: str) -> TriageResult | None:
    got = st.session_state.get(RESULT_KEY)
    if got and got[0] == incident_id:
        return got[1]
    return None


def store_result(incident_id: str, result: TriageResult) -> None:
    st.session_state[RESULT_KEY] = (incident_id, result)


PROBABILITY_HELP = ("How likely this class is the root cause: its score and its lead over the next class, "
                    "Platt-calibrated on generated incident scenarios (docs/triage.md, 'Probability'). "
                    "Read it as a guide, not as a frequency measured on real incidents. "
                    "'unconfirmed': the class's key evidence could not be looked at, or no KPI change was "
                    "detected, so no probability is given.")


def probability_text(h: RankedHypothesis) -> str:
    """'72 % likely', '< 1 % likely', '> 99 % likely'; 'unconfirmed' when the class could not be confirmed;
    '' for a result without probabilities."""
    if h.status == "unconfirmed":
        return "unconfirmed"
    if h.probability is None:
        return ""
    if h.probability < 0.005:
        return "< 1 % likely"
    if h.probability >= 0.995:
        return "> 99 % likely"
    return f"{h.probability * 100:.0f} % likely"


def hypothesis_line(h: RankedHypothesis) -> str:
    """'**1. Data drift** · score **0.82** · **72 % likely** · confidence 90% · `likely`'; a zero score says nothing
    points there."""
    head = f"**{h.rank}. {md_escape(h.label)}** · score **{h.score:.2f}**"
    chance = probability_text(h)
    if h.score <= 0:
        return f"{head} · {chance} · no signal points here" if chance else f"{head} · no signal points here"
    if chance:
        head += f" · **{chance}**"
    return f"{head} · confidence {h.confidence:.0%} · `{h.status}`"


def accept(store: Store, incident_id: str, hypothesis: RankedHypothesis, author: str) -> AcceptedHypothesis:
    """Accept a hypothesis as a suspected fishbone cause (core.flows.accept): a short label; the explanation
    and name go to its notes."""
    return accept_hypothesis(store, incident_id, hypothesis, author)


def pin(store: Store, incident: Incident, result: TriageResult, author: str) -> int:
    """Pin the triage result as evidence (core.flows.pin); returns the evidence id."""
    return flows_pin.pin_triage(store, incident, result, author, tracking_uri=tracking_uri()).id
