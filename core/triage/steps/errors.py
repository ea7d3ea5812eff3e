"""Triage step ``errors``: application errors from Sentry around the onset.

Reads the bundle's ``errors/`` folder (Sentry event exports, :class:`~core.sources.errors_sentry.SentryExportSource`)
or, when the bundle has none and Sentry is configured (``SENTRY_ORG`` and ``SENTRY_PROJECT``, see
docs/errors.md), the Sentry REST API over the bundle's baseline and window. Two kinds of evidence
(:func:`core.sources.errors_sentry.findings`):

* a new issue first seen within 6 h after a release, from 48 h before the onset to 6 h after it →
  ``code_regression``; the sooner after the release, the stronger;
* an issue that existed before the onset whose hourly rate in the hour after the onset is at least
  3 times its baseline rate (the bundle's baseline when it ends by the onset, else the 6 h before) →
  ``infrastructure``; the larger the jump, the stronger.

Without an ``errors/`` folder and without Sentry settings the step is skipped with that reason; an
unreachable or refusing Sentry fails the step with the message (the other steps still run).
"""

from __future__ import annotations

import math
from datetime import timedelta

from core.models import RootCause, TimeWindow
from core.triage.models import EvidenceItem, Signal, StepOutcome, StepResult, TriageContext
from core.triage.rules import around, clip

NAME = "errors"
TITLE = "Application errors (Sentry)"
RULES = {
    "sentry_new_issue_after_release": (RootCause.CODE_REGRESSION, 0.55,
                                       "a new Sentry issue was first seen shortly after a release"),
    "sentry_issue_surge": (RootCause.INFRASTRUCTURE, 0.45,
                           "Sentry issues that existed before the onset surged after it"),
}
RULE_OF = {"new_after_release": "sentry_new_issue_after_release", "surge": "sentry_issue_surge"}


def strength_of(found) -> float:
    """How strongly one finding counts: the sooner after its release, the larger the surge, the stronger."""
    if found.kind == "new_after_release":
        return clip(1.0 - 0.5 * (found.minutes or 0.0) / 360.0)
    if found.ratio is None:  # from no events at all
        return 1.0
    return clip(math.log2(max(found.ratio, 1.0)) / 4.0)


def _source(context: TriageContext):
    """The error source of the bundle (its errors/ folder), else the configured Sentry API, else None."""
    from core.config import settings
    from core.sources.factory import open_source

    if (context.bundle.path / "errors").is_dir():
        return open_source("errors", context.bundle), None
    sec = settings().section("sentry")
    if sec.text("org") and sec.text("project"):
        start = context.bundle.baseline.start if context.bundle.baseline else context.bundle.window.start
        return open_source("errors", "sentry"), TimeWindow(min(start, context.at - timedelta(hours=48)),
                                                            context.bundle.window.end)
    return None, None


class ErrorsStep:
    """Evidence from Sentry issues: new issues after a release, surges of existing ones."""

    name = NAME
    title = TITLE
    relevance = {RootCause.CODE_REGRESSION: 0.1, RootCause.INFRASTRUCTURE: 0.1}
    rules = RULES
    optional = True  # an incident without Sentry data is not "unchecked": the team may not use Sentry

    def run(self, context: TriageContext) -> StepOutcome:
        from core.sources.errors_sentry import findings

        source, window = _source(context)
        if source is None:
            return StepOutcome(StepResult(NAME, TITLE, "skipped",
                                          "the bundle has no errors/ folder (Sentry events) and Sentry is not "
                                          "configured (SENTRY_ORG, SENTRY_PROJECT)"))
        data = source.data(window)
        base = context.bundle.baseline
        baseline = base if base is not None and base.end <= context.at else None
        found = findings(data, context.at, baseline=baseline)
        best: dict[str, Signal] = {}
        for f in found:
            rule = RULE_OF[f.kind]
            cls, weight, reason = RULES[rule]
            item = EvidenceItem(step=NAME, kind=rule, title=f"Sentry: {f.title}", detail=f.detail, view="timeline",
                                window=around(f.at, timedelta(hours=2), timedelta(hours=2)),
                                data={**f.to_dict(), "source": source.name if hasattr(source, "name") else ""})
            sig = Signal(cls, rule, strength_of(f), weight, reason, item)
            if rule not in best or sig.contribution > best[rule].contribution:
                best[rule] = sig
        where = getattr(source, "name", "Sentry")
        if found:
            summary = f"{len(found)} Sentry finding(s) in {where}: " + "; ".join(f.detail for f in found[:3])
        else:
            summary = (f"{len(data.issues)} Sentry issue(s) in {where}; no new issue after a release and no "
                       "surge of an existing one around the onset")
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, {"findings": len(found),
                                                                  "issues": int(len(data.issues))}),
                           tuple(best.values()), facts={"findings": [f.to_dict() for f in found]}, finding=data)
