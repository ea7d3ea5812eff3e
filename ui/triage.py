"""Streamlit helpers of the Triage page: running triage with progress, links to the evidence, accept and pin."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.fishbone_map import AcceptedHypothesis, accept_hypothesis
from core.models import Incident, TimeWindow, iso
from core.store import Store
from core.sources.mlflow_runs import configured_tracking_uri
from core.store.evidence import pin_evidence
from core.triage import RankedHypothesis, TriageResult, step_titles, triage_bundle

PAGES_DIR = "app_pages"  # the one place the pages folder is named
VIEW_PAGES = {
    "metrics": ("metrics.py", "Metrics"),
    "timeline": ("timeline.py", "Timeline"),
    "distributions": ("distributions.py", "Distributions"),
    "logs": ("logs.py", "Logs"),
    "models": ("models.py", "Models"),
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
    """The query parameters that open a page on the incident, the evidence's window and (Logs) its query."""
    params = {"incident": incident_id}
    if window is not None:
        params["from"] = iso(window.start)
        params["to"] = iso(window.end)
    if view == "logs" and data and data.get("query"):
        params["q"] = str(data["query"])
    return params


def run_triage(incident: Incident) -> TriageResult:
    """Run triage over the incident's bundle, showing one status line per step.

    The onset follows the one policy (core.onset) with the incident's stored milestones, so the
    page cuts at the same instant as the Timeline, Metrics and post-mortem views.
    """
    titles = step_titles()
    with st.status("Running triage…", expanded=True) as box:
        def progress(name: str, status: str, message: str) -> None:
            if status == "running":
                box.update(label=f"{message}…")
            else:
                st.markdown(f"{STATUS_ICONS.get(status, '')} **{titles.get(name, name)}** ({status})")
                st.text(message)

        result = triage_bundle(incident.bundle_path, tracking_uri=tracking_uri(), progress=progress,
                               milestones=incident.milestones)
        box.update(label=f"Triage finished in {result.seconds:.1f} s", state="complete", expanded=False)
    return result


def stored_result(incident_id: str) -> TriageResult | None:
    got = st.session_state.get(RESULT_KEY)
    if got and got[0] == incident_id:
        return got[1]
    return None


def store_result(incident_id: str, result: TriageResult) -> None:
    st.session_state[RESULT_KEY] = (incident_id, result)


def accept(store: Store, incident_id: str, hypothesis: RankedHypothesis, author: str) -> AcceptedHypothesis:
    return accept_hypothesis(store, incident_id, hypothesis.to_hypothesis(), author)


def compact(result: TriageResult, top: int = 6) -> dict[str, Any]:
    """The triage result small enough to pin (hypotheses with their evidence, skipped steps)."""
    data = result.to_dict()
    data["steps"] = [{k: s[k] for k in ("name", "title", "status", "summary")} for s in data["steps"]]
    for h in data["hypotheses"]:
        for e in h["evidence"]:
            e["evidence"]["data"] = {}
    data["hypotheses"] = data["hypotheses"][:top]
    return data


def pin(store: Store, incident: Incident, result: TriageResult, author: str) -> int:
    top = result.top
    title = (f"Triage: {top.label} most likely (score {top.score:.2f}, confidence {top.confidence:.0%})"
             if top is not None else "Triage result")
    ev = pin_evidence(store, incident.id, kind="triage", title=title,
                      query={"bundle": incident.bundle_path, "registry": bool(tracking_uri())},
                      result=compact(result), window=incident.window, author=author)
    return ev.id
