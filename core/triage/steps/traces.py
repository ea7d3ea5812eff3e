"""Triage step ``traces``: where the cascade started, from the bundle's OTLP traces.

Reads the bundle's ``traces/`` folder (:mod:`core.sources.traces_otel`) and ranks the services by
the start of their own errors (:func:`core.analysis.traces.cascade_ranking`) in the incident window
(from :data:`BEFORE` ahead of the onset to the end of the data, at least :data:`AFTER` past the
onset) against the baseline before it (:data:`BASELINE` long). The origin's own error spans decide
what the cascade supports:

* a data or feature service (its name says feature, data, pipeline, feed, …) → ``stale_data``
  (stronger when its errors speak of staleness: stale, fresh, old, late, lag) and ``data_drift``;
* database, cache or network spans (``db.system``, a cache system, timeouts, refused or reset
  connections) → ``infrastructure``.

A cascade that starts in another kind of service is reported in the summary without evidence.
The strength falls with the share of the origin's errors that are inherited and with the distance
of its start from the onset (full within 2 h before to 1 h after it, half outside). Without a
``traces/`` folder the step is skipped with that reason.
"""

from __future__ import annotations

import re
from datetime import timedelta

from core.models import RootCause, TimeWindow
from core.triage.models import EvidenceItem, Signal, StepOutcome, StepResult, TriageContext
from core.triage.rules import clip

NAME = "traces"
TITLE = "Cascade origin in the distributed traces"
BEFORE, AFTER, BASELINE = timedelta(minutes=30), timedelta(minutes=30), timedelta(hours=6)
NEAR_BEFORE, NEAR_AFTER = timedelta(hours=2), timedelta(hours=1)
STALE_WORDS = re.compile(r"stale|fresh|outdated|\bold\b|late|lag|behind|no new|missing partition", re.I)
RULES = {
    "trace_cascade_stale_data": (RootCause.STALE_DATA, 0.45,
                                 "the traces' cascade started with own errors in a data or feature service"),
    "trace_cascade_data_drift": (RootCause.DATA_DRIFT, 0.3,
                                 "the traces' cascade started in a data or feature service"),
    "trace_cascade_infrastructure": (RootCause.INFRASTRUCTURE, 0.5,
                                     "the traces' cascade started with own errors in database, cache or "
                                     "network spans"),
}


def windows(context: TriageContext) -> tuple[TimeWindow, TimeWindow]:
    """(baseline, incident window) around the onset."""
    start = context.at - BEFORE
    end = max(context.data_end, context.at + AFTER)
    return TimeWindow(start - BASELINE, start), TimeWindow(start, end)


def assess(ranking, at) -> tuple[list[Signal], dict]:
    """The signals of a cascade ranking for an incident whose onset is ``at``."""
    facts = {"ranking": [r.to_dict() for r in ranking[:5]], "origin": None}
    if not ranking or not ranking[0].degraded:
        return [], facts
    top = ranking[0]
    facts["origin"] = top.service
    start = top.degradation_start or top.first_own_error
    near = start is not None and at - NEAR_BEFORE <= start <= at + NEAR_AFTER
    strength = (1.0 if near else 0.5) * (1.0 - top.inherited_share)
    if top.category == "data":
        stale = bool(STALE_WORDS.search(top.sample))
        rules = {"trace_cascade_stale_data": strength * (1.0 if stale else 0.6),
                 "trace_cascade_data_drift": strength * (0.5 if stale else 0.6)}
    elif top.category in ("database", "cache", "network"):
        rules = {"trace_cascade_infrastructure": strength}
    else:
        return [], facts
    when = f"{top.first_own_error:%H:%M:%S}" if top.first_own_error else "?"
    detail = (f"the cascade starts in {top.service} ({top.category}): own errors from {when}, "
              f"{top.inherited_share:.0%} inherited"
              + (f", then errors in {', '.join(top.downstream_affected)}" if top.downstream_affected else "")
              + (f"; first: {top.sample}" if top.sample else ""))
    out = []
    for name, s in rules.items():
        cls, weight, reason = RULES[name]
        item = EvidenceItem(step=NAME, kind=name, title=f"Cascade origin: {top.service}", detail=detail,
                            view="traces", window=None, data=top.to_dict())
        out.append(Signal(cls, name, clip(s), weight, reason, item))
    return out, facts


class TracesStep:
    """Evidence from the cascade origin of the bundle's ``traces/`` (OTLP JSON)."""

    name = NAME
    title = TITLE
    relevance = {RootCause.INFRASTRUCTURE: 0.15, RootCause.STALE_DATA: 0.1, RootCause.DATA_DRIFT: 0.05}
    rules = RULES
    optional = True  # an incident without traces is not "unchecked": the team may not export traces

    def run(self, context: TriageContext) -> StepOutcome:
        source = context.traces()  # read once for every step (the changes step reads its dependency graph)
        if source is None:
            return StepOutcome(StepResult(NAME, TITLE, "skipped",
                                          "the bundle has no traces/ folder (OpenTelemetry traces)"))
        from core.analysis.traces import cascade_ranking

        baseline, window = windows(context)
        n = source.rows("SELECT count(*) FROM spans WHERE start >= ? AND start < ?",
                        [window.start, window.end])[0][0]
        if not n:
            return StepOutcome(StepResult(NAME, TITLE, "skipped",
                                          f"the traces have no span between {window.start:%Y-%m-%d %H:%M} and "
                                          f"{window.end:%H:%M} UTC (the incident window)"))
        ranking = cascade_ranking(source, window, baseline)
        signals, facts = assess(ranking, context.at)
        if facts["origin"]:
            top = ranking[0]
            summary = (f"the cascade starts in {top.service} ({top.category}); "
                       + top.reason)
        elif ranking:
            summary = "errors in the traces, but no service's own errors rose above its baseline"
        else:
            summary = f"no error spans among {n} span(s) in the incident window: no cascade"
        warn = len(source.warnings)
        if warn:
            summary += f" ({warn} problem(s) reading the traces, e.g. {source.warnings[0]})"
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, {"spans": int(n)}), tuple(signals),
                           facts=facts, finding=ranking)
