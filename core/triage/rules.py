"""The triage rule book: class order, evidence weights, counter-evidence factors, thresholds, word lists.

Scoring (docs/triage.md explains it): each piece of evidence is a
:class:`~core.triage.models.Signal` with a *strength* in [0, 1] (how strongly the
measurement shows it) and a *weight* in [0, 1] (how specific that kind of evidence is for
the class, from :data:`RULES`). A class's raw score combines its signals as a noisy-OR,
``1 - Π(1 - weight·strength)``. Counter-evidence multiplies the score by a documented
factor (:data:`FACTORS`). A registered step may bring rules of its own (its ``rules``
attribute); :func:`core.triage.registry.rule` looks a rule up in both.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Mapping

from core.models import RootCause, TimeWindow
from core.triage.models import Factor

#: Investigation order: data first, then environment and code, then infrastructure.
CLASS_ORDER: tuple[RootCause, ...] = (
    RootCause.SCHEMA_CHANGE, RootCause.STALE_DATA, RootCause.DATA_DRIFT,
    RootCause.EXTERNAL_EVENT, RootCause.CODE_REGRESSION, RootCause.INFRASTRUCTURE,
)


#: Evidence weights: how specific each kind of evidence is for a class (see docs/triage.md).
RULES: Mapping[str, tuple[RootCause, float, str]] = {
    "schema_finding": (RootCause.SCHEMA_CHANGE, 0.9, "a column was renamed, removed, retyped or rescaled"),
    "schema_pipeline_event": (RootCause.SCHEMA_CHANGE, 0.5, "a data-pipeline change just before the onset"),
    "schema_log": (RootCause.SCHEMA_CHANGE, 0.5, "new log lines about missing or malformed columns"),
    "category_change": (RootCause.SCHEMA_CHANGE, 0.4, "new or vanished category values"),
    "null_jump_schema": (RootCause.SCHEMA_CHANGE, 0.35, "a column's null rate jumped"),
    "collapse": (RootCause.STALE_DATA, 0.85, "features or predictions collapsed to a default value"),
    "freshness": (RootCause.STALE_DATA, 0.9, "timestamp-like columns fell behind (features not refreshed)"),
    "job_stopped": (RootCause.STALE_DATA, 0.8, "a routine data job stopped running before the onset"),
    "frozen_values": (RootCause.STALE_DATA, 0.8, "features stopped varying (a frozen snapshot is served)"),
    "stale_log": (RootCause.STALE_DATA, 0.6, "new log lines about cache misses, defaults or old data"),
    "null_jump_stale": (RootCause.STALE_DATA, 0.35, "a column's null rate jumped"),
    "data_arrival": (RootCause.STALE_DATA, 0.4, "the incident data stops well before the window ends"),
    "feature_drift": (RootCause.DATA_DRIFT, 0.85, "input features shifted at the onset"),
    "drift_pipeline_event": (RootCause.DATA_DRIFT, 0.2, "a data-pipeline change just before the onset"),
    "code_event": (RootCause.CODE_REGRESSION, 0.85, "a model version, deploy or config change just before the onset"),
    "prediction_shift": (RootCause.CODE_REGRESSION, 0.6, "predictions moved while the inputs did not"),
    "shift_at_code_change": (RootCause.CODE_REGRESSION, 0.5, "a feature shifted exactly when the code changed"),
    "registry": (RootCause.CODE_REGRESSION, 0.9, "the registry shows a changed model deployed before the onset"),
    "version_log": (RootCause.CODE_REGRESSION, 0.7, "a new version appears in the logs just before the onset"),
    "code_log": (RootCause.CODE_REGRESSION, 0.4, "new exceptions in the logs"),
    "collapse_code": (RootCause.CODE_REGRESSION, 0.2, "predictions collapsed to a constant"),
    "infra_log": (RootCause.INFRASTRUCTURE, 0.8, "new errors about timeouts, connections or resources"),
    "error_rate": (RootCause.INFRASTRUCTURE, 0.6, "the error rate rose at the onset"),
    "infra_metric": (RootCause.INFRASTRUCTURE, 0.6, "latency, error or saturation metrics rose at the onset"),
    "infra_event": (RootCause.INFRASTRUCTURE, 0.7, "an infrastructure change just before the onset"),
    "external_change": (RootCause.EXTERNAL_EVENT, 0.9, "an external event spans or just precedes the onset"),
    "traffic_shift": (RootCause.EXTERNAL_EVENT, 0.35, "traffic volume changed at the onset"),
    "mix_shift": (RootCause.EXTERNAL_EVENT, 0.3, "the mix of users or segments changed (categories)"),
}

#: Counter-evidence factors (multiply the raw score).
FACTORS: Mapping[str, tuple[RootCause, float, str]] = {
    "drift_explained_by_code": (RootCause.DATA_DRIFT, 0.45,
                                "the shift starts with a code or model change, which explains it better"),
    "drift_explained_by_external": (RootCause.DATA_DRIFT, 0.55,
                                    "the shift starts with an external event, which explains it better"),
    "drift_explained_by_schema": (RootCause.DATA_DRIFT, 0.5,
                                  "the shifted columns are the ones whose schema changed"),
    "drift_explained_by_staleness": (RootCause.DATA_DRIFT, 0.4,
                                     "the shifted columns are stale or collapsed, not new data"),
    "drift_is_audience_shift": (RootCause.DATA_DRIFT, 0.5,
                                "the main shift is in the user mix and traffic moved with it: the audience "
                                "changed (an outside event), not the data pipeline"),
    "errors_after_onset": (RootCause.INFRASTRUCTURE, 0.35,
                           "errors began well after the onset: a downstream symptom, not the cause"),
    "registry_no_change": (RootCause.CODE_REGRESSION, 0.6,
                           "the registry shows no parameter, code or data change before the onset"),
}

CLOSE = timedelta(hours=3)  # half-life of closeness for cause candidates (events)
LOOKBACK = timedelta(hours=48)
SYMPTOM_DELAY = timedelta(minutes=20)
LIKELY_SCORE = 0.5
POSSIBLE_SCORE = 0.2

INFRA_WORDS = re.compile(
    r"timeout|timed out|connection|refused|reset by peer|unreachable|unavailable|\b50[234]\b|out of memory|"
    r"\boom|memory|disk|cpu|throttl|node|pod|evict|crashloop|restart|dns|network|socket|broken pipe|"
    r"too many (?:open files|connections)|deadline exceeded|circuit|failover|replica|cluster|region|"
    r"load balancer|certificate|tls|quota|capacity|autoscal|instance|database|\bdb\b|kafka|redis", re.I)
STALE_WORDS = re.compile(
    r"stale|cache miss|using default|default value|fallback|older than|not (?:been )?(?:updated|refreshed)|"
    r"outdated|lag(?:ging)?\b|freshness|expired|last refresh|no new data|missing partition|waiting for upstream",
    re.I)
SCHEMA_WORDS = re.compile(
    r"column|schema|field|unknown key|missing key|keyerror|cannot (?:parse|cast)|type ?error|dtype|"
    r"could not convert|unexpected (?:type|format)|renamed|unit", re.I)
CODE_WORDS = re.compile(
    r"exception|traceback|nonetype|attributeerror|indexerror|valueerror|nan in|assert|bug|"
    r"not implemented|segfault|panic", re.I)
INFRA_METRIC_WORDS = re.compile(
    r"latency|error|5xx|timeout|cpu|mem|saturation|queue|gc|disk|restart|p9\d|duration|fail", re.I)
TRAFFIC_METRIC_WORDS = re.compile(
    r"request|traffic|impression|transaction|session|volume|qps|rps|per_min|visits|orders|users|count", re.I)
INFRA_EVENT_WORDS = re.compile(
    r"node|cluster|kubernetes|k8s|database|\bdb\b|network|dns|load balancer|region|failover|autoscal|"
    r"instance|pod|disk|certificate|infra|terraform|capacity|vm\b|host|storage|kafka|redis|upgrade of",
    re.I)
SCHEMA_EVENT_WORDS = re.compile(r"schema|column|export|format|field|rename|unit|v\d+ released|contract", re.I)
TIMESTAMP_NAME = re.compile(r"(?:_at|_time|_ts|timestamp|updated|refreshed|computed|as_of|_date)$", re.I)


def clip(x: float) -> float:
    """``x`` limited to [0, 1] (0 when it is not finite)."""
    return 0.0 if not math.isfinite(x) else max(0.0, min(1.0, x))


def factor(rule: str) -> Factor:
    """The counter-evidence factor named ``rule`` in :data:`FACTORS`."""
    cls, value, reason = FACTORS[rule]
    return Factor(cls, rule, value, reason)


def around(at: datetime, before: timedelta = timedelta(hours=6), after: timedelta = timedelta(hours=6)) -> TimeWindow:
    """The window from ``before`` ahead of ``at`` to ``after`` past it."""
    return TimeWindow(at - before, at + after)


def closeness(age: timedelta) -> float:
    """1 at the onset, halving every :data:`CLOSE` before it."""
    return 0.5 ** (max(age.total_seconds(), 0.0) / CLOSE.total_seconds())
