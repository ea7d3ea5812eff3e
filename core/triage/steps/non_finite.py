"""Triage step ``non_finite``: columns that started carrying ±inf values after the onset.

The drift report of the ``data`` step counts ±inf values apart from the statistics and
reports a ``non_finite`` schema finding when a column's share of them jumps (a division by
zero or an overflow upstream: the data contract broke). This step turns those findings
into ``schema_change`` evidence. It reads nothing itself: it builds on the ``data`` step's
finding (``requires = ("data",)``): when that step did not run, this one does not either.

This step is also the worked example of docs/architecture.md: it is this one file plus
one ``register`` line in ``core/triage/steps/__init__.py``; its rule lives here, not in
the rule book.
"""

from __future__ import annotations

from datetime import timedelta

from core.models import RootCause, TimeWindow
from core.triage.models import Signal, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal
from core.triage.rules import around

NAME = "non_finite"
TITLE = "Infinite values in the data"
RULES = {
    "non_finite_values": (RootCause.SCHEMA_CHANGE, 0.6,
                          "a column started carrying ±inf values (a division by zero or an overflow upstream)"),
}


class NonFiniteStep:
    """Evidence from the ``non_finite`` findings of the data step's drift report."""

    name = NAME
    title = TITLE
    relevance = {RootCause.SCHEMA_CHANGE: 0.2}
    rules = RULES
    requires = ("data",)

    def run(self, context: TriageContext) -> StepOutcome:
        data = context.finding("data")
        if data is None or data.report is None:
            return StepOutcome(StepResult(NAME, TITLE, "skipped", "the data step found no data to check"))
        found = [f for f in data.report.schema if f.kind == "non_finite"]
        if data.reference_window and data.current_window:
            window = TimeWindow(data.reference_window.start, data.current_window.end)
        else:
            window = around(context.at, timedelta(days=1), timedelta(days=1))
        best: Signal | None = None
        for f in found:
            sig = signal("non_finite_values", f.score, f.message, step=NAME, view="distributions",
                         title=f"Infinite values: {', '.join(f.columns)}", window=window,
                         data={"finding": f.kind, "columns": list(f.columns), **dict(f.details)})
            if best is None or sig.contribution > best.contribution:
                best = sig
        columns = [c for f in found for c in f.columns]
        summary = (f"{len(columns)} column(s) gained ±inf values: {', '.join(columns[:5])}" if columns
                   else "no column gained ±inf values")
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, {"columns": columns}),
                           (best,) if best is not None else (), finding=tuple(found))
