"""Scoring: every root-cause class scored from the signals of the registered steps, then ranked.

:func:`cross_checks` adds the evidence that needs several steps at once (predictions moved
while inputs did not, a feature shift that starts with a code change) and the
counter-evidence factors (a shift better explained by a code change, a schema change, stale
data or an audience change; errors that began well after the onset). :func:`score_hypotheses`
combines each class's signals as a noisy-OR, applies the factors, and takes the confidence
from the registry: the relevance-weighted share of the class's steps that ran, times the
confidence of the onset.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import AbstractSet as Set, Any, Mapping, Sequence

from core.models import ROOT_CAUSE_LABELS, RootCause, iso
from core.onset import DETECTED
from core.triage.models import STEP_ONSET, Factor, RankedHypothesis, Signal, StepOutcome, StepResult, TriageResult
from core.triage.registry import relevance, signal, step_titles
from core.triage.rules import CLASS_ORDER, LIKELY_SCORE, POSSIBLE_SCORE, around, clip, factor

#: The facts the cross-checks read, as they are when no step supplied them.
DEFAULT_FACTS: Mapping[str, Any] = {
    "input_drift": 0.0, "prediction_drift": 0.0, "schema": 0.0, "stale_cols": frozenset(),
    "schema_cols": frozenset(), "drift_cols": [], "top_drift_categorical": False,
    "errors_late": False, "metrics_late": False,
}
DATA_STEP = "data"

#: The steps that hold each class's key evidence: when none of them ran, the class is reported
#: ``unconfirmed`` with the reason, and its score is at least :data:`UNCHECKED_PRIOR`, so a class
#: that could not be looked at is not outranked by a weakly supported class that happened to have data.
KEY_STEPS: Mapping[RootCause, tuple[str, ...]] = {
    RootCause.DATA_DRIFT: ("data",), RootCause.SCHEMA_CHANGE: ("data",), RootCause.STALE_DATA: ("data",),
    RootCause.CODE_REGRESSION: ("changes",), RootCause.INFRASTRUCTURE: ("logs", "metrics"),
    RootCause.EXTERNAL_EVENT: ("changes",),
}
#: The score of a class whose key evidence could not be looked at (a neutral prior, not zero).
UNCHECKED_PRIOR = 0.25

#: Platt calibration of the score into a probability that the class is the root cause:
#: ``p = 1 / (1 + exp(-(a·score + b·margin + c)))`` where ``margin`` is the score minus the best
#: other class's score. Fitted by logistic regression (L2, C=1) on the hard-mix tuning seeds 3000-3019
#: (tests/bench/bench_triage.py prints the reliability table and Brier score).
CALIBRATION = (2.25, 4.66, -1.66)


def calibrated(score: float, margin: float) -> float:
    """The probability that a class with this score (and margin over the best other class) is the cause."""
    a, b, c = CALIBRATION
    x = a * score + b * margin + c
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def cross_checks(signals: Sequence[Signal], facts: Mapping[str, Any], at: datetime
                 ) -> tuple[list[Signal], list[Factor]]:
    """Evidence and counter-evidence that combine several steps (see the module docstring)."""
    signals = list(signals)
    extra: list[Signal] = []
    factors: list[Factor] = []
    code = max((s.strength for s in signals if s.rule in ("code_event", "version_log")), default=0.0)
    pipeline = max((s.strength for s in signals if s.rule == "schema_pipeline_event"), default=0.0)
    external = max((s.strength for s in signals if s.rule == "external_change"), default=0.0)
    data_window = around(at, timedelta(days=1), timedelta(days=1))
    if facts["prediction_drift"] > 0 and facts["input_drift"] < 0.1 and facts["schema"] < 0.5 \
            and not facts["stale_cols"]:
        extra.append(signal("prediction_shift", facts["prediction_drift"],
                            "the prediction distribution shifted while no input column drifted",
                            step=DATA_STEP, view="distributions", title="Predictions shifted, inputs did not",
                            window=data_window))
    if facts["input_drift"] > 0 and code >= 0.5 and pipeline < 0.5:
        extra.append(signal("shift_at_code_change", facts["input_drift"] * code,
                            f"the drift in {', '.join(facts['drift_cols'][:3])} starts with the code change "
                            "(a feature transform inside the model or service changed)",
                            step=DATA_STEP, view="distributions", title="Feature shift at the code change",
                            window=data_window))
        factors.append(factor("drift_explained_by_code"))
    elif facts["input_drift"] > 0 and external >= 0.5:
        factors.append(factor("drift_explained_by_external"))
    every = signals + extra
    traffic = max((s.strength for s in every if s.rule == "traffic_shift"), default=0.0)
    if facts["input_drift"] > 0 and facts["top_drift_categorical"] and traffic >= 0.3 and external < 0.5:
        factors.append(factor("drift_is_audience_shift"))
    if facts["input_drift"] > 0 and facts["schema"] >= 0.8:
        factors.append(factor("drift_explained_by_schema"))
    if facts["input_drift"] > 0 and any(s.rule in ("collapse", "freshness", "frozen_values") for s in every):
        factors.append(factor("drift_explained_by_staleness"))
    if facts["errors_late"] or (facts["metrics_late"] and not any(s.rule == "infra_log" for s in every)):
        if any(s.root_cause == RootCause.INFRASTRUCTURE for s in every):
            factors.append(factor("errors_after_onset"))
    return extra, factors


def score_hypotheses(outcomes: Sequence[StepOutcome], *, at: datetime, change: Any | None,
                     onset_step: StepResult | None = None,
                     absent: Set[str] = frozenset()) -> tuple[RankedHypothesis, ...]:
    """Score every root-cause class from the step outcomes and rank them (see :data:`core.triage.RULES`).

    Args:
        outcomes: the registered steps' outcomes, in run order.
        at: the onset the analysis cut at.
        change: the detected KPI change point (None when no change was detected).
        onset_step: the onset's step result (counts as a step that ran when ``ok``).
        absent: optional steps (``optional = True``) whose tool the incident does not use: left out of
            every class's coverage instead of counting as unchecked.
    """
    signals: list[Signal] = [s for o in outcomes for s in o.signals]
    factors: list[Factor] = [f for o in outcomes for f in o.factors]
    facts: dict[str, Any] = dict(DEFAULT_FACTS)
    for o in outcomes:
        facts.update(o.facts)
    extra, more = cross_checks(signals, facts, at)
    signals += extra
    factors += more
    ran = {o.result.name for o in outcomes if o.result.ran}
    if onset_step is not None and onset_step.ran:
        ran.add(STEP_ONSET)
    titles = step_titles()
    rel_all = relevance()
    skip_reason = {o.result.name: o.result.summary for o in outcomes if not o.result.ran}
    detected = change is not None
    onset_factor = change.confidence if detected else 0.4
    scored = []
    for cls in CLASS_ORDER:
        mine = sorted((s for s in signals if s.root_cause == cls), key=lambda s: -s.contribution)
        mine = [s for i, s in enumerate(mine) if s.contribution > 0.005
                and all(o.rule != s.rule for o in mine[:i])]  # at most one per rule, the strongest
        raw = 1.0 - math.prod(1.0 - s.contribution for s in mine) if mine else 0.0
        fs = tuple(f for f in factors if f.root_cause == cls)
        score = raw * math.prod(f.value for f in fs)
        rel = {k: w for k, w in rel_all[cls].items() if k not in absent}
        total = sum(rel.values())
        coverage = sum(w for k, w in rel.items() if k in ran) / total if total else 1.0
        unchecked = tuple(f"{titles[k]} (not available)" for k in rel if k not in ran)
        conf = clip(coverage * onset_factor)
        keys = [k for k in KEY_STEPS.get(cls, ()) if k not in absent]
        missing = ""
        if keys and not any(k in ran for k in keys):
            reasons = "; ".join(f"{titles.get(k, k)}: {skip_reason[k]}" if k in skip_reason else titles.get(k, k)
                                for k in keys)
            missing = f"its key evidence could not be looked at ({reasons})"
            score = max(score, UNCHECKED_PRIOR)
        scored.append((cls, score, raw, conf, tuple(mine), fs, coverage, unchecked, missing))
    scored.sort(key=lambda x: (-round(x[1], 6), CLASS_ORDER.index(x[0])))
    out = []
    for i, (cls, score, raw, conf, mine, fs, coverage, unchecked, missing) in enumerate(scored):
        best_other = max((x[1] for x in scored if x[0] != cls), default=0.0)
        if not detected or missing:
            status = "unconfirmed"
        elif i == 0 and score >= LIKELY_SCORE:
            status = "likely"
        elif score >= POSSIBLE_SCORE:
            status = "possible"
        else:
            status = "unlikely"
        out.append(RankedHypothesis(
            rank=i + 1, root_cause=cls, score=score, raw_score=raw, confidence=conf, status=status,
            explanation=_explain(cls, score, mine, fs, unchecked, detected, missing), signals=mine, factors=fs,
            coverage=coverage, unchecked=unchecked, probability=calibrated(score, score - best_other),
            prior=UNCHECKED_PRIOR if missing else 0.0))
    return tuple(out)


def _explain(cls: RootCause, score: float, signals: Sequence[Signal], factors: Sequence[Factor],
             unchecked: Sequence[str], detected: bool, missing: str = "") -> str:
    label = ROOT_CAUSE_LABELS[cls]
    if signals:
        head = signals[0]
        text = f"{label} (score {score:.2f}): {head.evidence.detail.rstrip('.')}."
        if len(signals) > 1:
            text += " Also: " + "; ".join(s.evidence.title for s in signals[1:4]) + "."
    elif missing:
        text = f"{label} (score {score:.2f}): unconfirmed: {missing}; it keeps a neutral prior of {UNCHECKED_PRIOR:g}."
    else:
        text = f"{label} (score 0): no evidence found for it."
    if signals and missing:
        text += f" Unconfirmed: {missing}."
    for f in factors:
        text += f" Discounted ×{f.value:g}: {f.reason}."
    if unchecked:
        text += " Not checked: " + ", ".join(unchecked) + "."
    if not detected:
        text += " No KPI change was detected, so nothing is confirmed."
    return text


def summarise(result: TriageResult, top: int = 3) -> list[str]:
    """Plain-text lines: the onset, the top hypotheses, the skipped steps."""
    lines = [f"Incident {result.incident} · KPI {result.kpi}"]
    if result.onset is not None:
        lines.append(f"Onset: {iso(result.onset_at or result.onset.time)} ({result.onset.describe()})")
        if result.onset_source and result.onset_source != DETECTED:
            lines.append(f"       the analysis is cut at {result.onset_source}; the KPI changed at "
                         f"{iso(result.onset.time)}")
    else:
        lines.append(f"Onset: {result.onset_note}")
    for h in result.hypotheses[:top]:
        lines.append(f"{h.rank}. {h.label:<26} score {h.score:.2f}  confidence {h.confidence:.0%}  [{h.status}]")
        for s in h.signals[:4]:
            lines.append(f"     · {s.evidence.detail}")
        for f in h.factors:
            lines.append(f"     × {f.value:g} {f.reason}")
        lines.append(f"     = {h.arithmetic()}")
    for s in result.skipped:
        lines.append(f"Skipped {s.title}: {s.summary}")
    if result.not_configured:
        lines.append("Not used by this incident: " + ", ".join(s.title for s in result.not_configured))
    return lines


