"""Triage step ``features``: feature views whose online values outlived their TTL around the onset.

Reads the bundle's ``features/`` Feast snapshot through the source factory (kind ``features``,
:mod:`core.sources.features_feast`; plain JSON, no Feast needed) and judges each online feature view's
freshness at the end of the data: the end of its last materialised interval plus its TTL is when the
online store stopped serving it fresh values. A view stale by then is ``stale_data`` evidence; stale
from well before the onset (more than :data:`LEAD` ahead of it) explains a new incident less
(:data:`OLD_STRENGTH`). A view never materialised at all counts as stale since the data's start.

Many teams run no feature store, so the step is ``optional``: without a ``features/`` folder it is
listed as not used by the incident and lowers no class's confidence.
"""

from __future__ import annotations

from datetime import timedelta

from core.models import RootCause, TimeWindow
from core.triage.models import StepOutcome, StepResult, TriageContext
from core.triage.registry import signal

NAME = "features"
TITLE = "Feature store freshness (Feast)"
LEAD = timedelta(hours=6)
OLD_STRENGTH = 0.3
RULES = {
    "feature_view_stale": (RootCause.STALE_DATA, 0.85,
                           "a feature view's last materialisation is older than its TTL: the online store "
                           "serves stale or missing feature values"),
}


class FeaturesStep:
    """Evidence from the materialisation freshness of the bundle's Feast feature views."""

    name = NAME
    title = TITLE
    relevance = {RootCause.STALE_DATA: 0.2}
    rules = RULES
    optional = True  # an incident without a feature store is not "unchecked"

    def run(self, context: TriageContext) -> StepOutcome:
        if not (context.bundle.path / "features").is_dir():
            return StepOutcome(StepResult(NAME, TITLE, "skipped",
                                          "the bundle has no features/ folder (a Feast snapshot)"))
        from core.sources.factory import open_source
        from core.sources.features_feast import freshness

        repo = open_source("features", context.bundle)
        states = freshness(repo, context.data_end)
        stale = [s for s in states if s.stale]
        best = None
        for s in stale:
            since = s.since or context.bundle.window.start
            recent = since >= context.at - LEAD
            detail = s.text() + ("" if recent else "; it was already stale well before the onset")
            sig = signal("feature_view_stale", 1.0 if recent else OLD_STRENGTH, detail, step=NAME,
                         view="distributions", title=f"Feature view {s.view} stale",
                         window=TimeWindow(since, max(context.data_end, since + timedelta(minutes=1))),
                         data=s.to_dict())
            if best is None or sig.contribution > best.contribution:
                best = sig
        summary = (f"{len(stale)} of {len(states)} online feature view(s) stale: "
                   + "; ".join(s.text() for s in stale[:3]) if stale
                   else f"all {len(states)} online feature view(s) fresh at the end of the data")
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, {"freshness": [s.to_dict() for s in states]}),
                           (best,) if best else (), facts={"stale_feature_views": len(stale)},
                           finding=tuple(stale))
