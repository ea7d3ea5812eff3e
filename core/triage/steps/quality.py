"""Triage step ``quality``: the data checks (Great Expectations) that fail around the onset.

Reads the bundle's ``quality/`` folder through the source factory (kind ``quality``,
:mod:`core.sources.quality_gx`) and turns each check failing in its latest run up to the
end of the data into evidence, by what the check is about:

* schema (column set, column exists, type, column count; also any check whose column is gone)
  → ``schema_change``, strong;
* completeness (null rate) → ``schema_change``, weaker (as the data step's null jumps);
* freshness (a bounded newest timestamp) or volume (row count) → ``stale_data``;
* distribution (range, mean, set, quantiles, …) → ``data_drift``.

A check that started failing well before the onset (more than :data:`LEAD` ahead of it)
explains a new incident less: its strength is :data:`OLD_STRENGTH`. Many teams keep no
GX results, so the step is ``optional``: without a ``quality/`` folder it is listed as not used
by the incident (``TriageResult.not_configured``) and lowers no class's confidence.
"""

from __future__ import annotations

from datetime import timedelta

from core.models import RootCause, TimeWindow
from core.triage.models import Signal, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal

NAME = "quality"
TITLE = "Data checks (Great Expectations)"
LEAD = timedelta(hours=6)
OLD_STRENGTH = 0.3
RULES = {
    "gx_schema_check_failed": (RootCause.SCHEMA_CHANGE, 0.85,
                               "a schema check (column set, column, type) of the team's data checks failed"),
    "gx_null_check_failed": (RootCause.SCHEMA_CHANGE, 0.45,
                             "a null-rate check of the team's data checks failed"),
    "gx_freshness_check_failed": (RootCause.STALE_DATA, 0.75,
                                  "a freshness or row-count check of the team's data checks failed"),
    "gx_distribution_check_failed": (RootCause.DATA_DRIFT, 0.6,
                                     "a distribution check (range, mean, categories) of the team's data checks failed"),
}
RULE_OF = {"schema": "gx_schema_check_failed", "completeness": "gx_null_check_failed",
           "freshness": "gx_freshness_check_failed", "volume": "gx_freshness_check_failed",
           "distribution": "gx_distribution_check_failed"}


class QualityStep:
    """Evidence from the failed expectations of the bundle's GX validation results."""

    name = NAME
    title = TITLE
    relevance = {RootCause.SCHEMA_CHANGE: 0.15, RootCause.STALE_DATA: 0.1, RootCause.DATA_DRIFT: 0.1}
    rules = RULES
    optional = True  # an incident without GX results is not "unchecked": the team may not use GX

    def run(self, context: TriageContext) -> StepOutcome:
        if not (context.bundle.path / "quality").is_dir():
            return StepOutcome(StepResult(NAME, TITLE, "skipped",
                                          "the bundle has no quality/ folder (Great Expectations validation results)"))
        from core.sources.factory import open_source

        source = open_source("quality", context.bundle)
        findings = source.findings(until=context.data_end)
        best: dict[str, Signal] = {}
        for f in findings:
            rule = RULE_OF.get(f.category)
            if rule is None:
                continue
            recent = f.since >= context.at - LEAD
            where = f"column {f.column}" if f.column else "the table"
            detail = (f"{f.expectation} on {where} ({f.suite}) fails since {f.since:%Y-%m-%d %H:%M} UTC, "
                      f"{f.failed_runs} run(s); observed {_short(f.observed)}"
                      + ("" if recent else "; it was already failing before the onset"))
            end = f.last if f.last > f.since else f.since + timedelta(minutes=1)
            sig = signal(rule, 1.0 if recent else OLD_STRENGTH, detail, step=NAME, view="distributions",
                         title=f"Data check failed: {f.expectation} ({where})", window=TimeWindow(f.since, end),
                         data=f.to_dict())
            if rule not in best or sig.contribution > best[rule].contribution:
                best[rule] = sig
        checks = len({r.key() for r in source.runs})
        summary = (f"{len(findings)} of {checks} data check(s) failing: "
                   + ", ".join(f"{f.expectation} ({f.column or 'table'})" for f in findings[:4])
                   if findings else f"all {checks} data check(s) pass in their latest run")
        details = {"failed": [f.to_dict() for f in findings], "checks": checks}
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, details), tuple(best.values()),
                           facts={"quality_failed": len(findings)}, finding=tuple(findings))


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
