"""Triage step ``lineage``: what changed, failed or went stale in dbt upstream of the broken features.

Reads the bundle's ``dbt/`` folder (:mod:`core.sources.lineage_dbt`: manifest, run results,
freshness, catalog, and ``dbt/previous/manifest.json`` for the checksum comparison). The broken
features are the columns the ``data`` step found drifted or with a schema finding (when it ran);
each maps to a dbt column or the feature model (the mapping rule of docs/lineage.md), and only
findings on a node upstream of (or at) those models count:

* a changed node that lost columns, a changed source, or a node that errored on a missing column
  → ``schema_change``; a changed model otherwise, or a node that errored otherwise → ``code_regression``;
* a source past its freshness ``error_after`` → ``stale_data`` (past ``warn_after``: weaker);
* a failing dbt test → the class it checks (:data:`TEST_CLASSES`).

Findings from 48 h before the onset to 6 h after it count, the nearest strongest; a finding without
a time counts at half strength. The evidence text carries the path from the node to the feature
("source `raw.events` stale since 03:10 → `fct_features` → feature `amount_7d`"). Without a
``dbt/`` folder the step is skipped with that reason.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Iterable

from core.models import RootCause
from core.triage.models import EvidenceItem, Signal, StepOutcome, StepResult, TriageContext
from core.triage.rules import around, clip

NAME = "lineage"
TITLE = "dbt lineage upstream of the features"
BEFORE, AFTER = timedelta(hours=48), timedelta(hours=6)
RULES = {
    "dbt_upstream_schema_change": (RootCause.SCHEMA_CHANGE, 0.6,
                                   "a dbt model or source upstream of a broken feature lost columns or errored "
                                   "on a missing column"),
    "dbt_upstream_changed": (RootCause.CODE_REGRESSION, 0.45,
                             "a dbt model upstream of a broken feature changed its code near the onset"),
    "dbt_upstream_errored": (RootCause.CODE_REGRESSION, 0.4,
                             "a dbt model upstream of a broken feature errored near the onset"),
    "dbt_source_stale": (RootCause.STALE_DATA, 0.6,
                         "a dbt source upstream of a broken feature is past its freshness error threshold"),
    "dbt_source_late": (RootCause.STALE_DATA, 0.35,
                        "a dbt source upstream of a broken feature is past its freshness warn threshold"),
    "dbt_test_schema": (RootCause.SCHEMA_CHANGE, 0.45,
                        "a dbt test of a column's presence, type or completeness failed upstream of a broken feature"),
    "dbt_test_stale": (RootCause.STALE_DATA, 0.45,
                       "a dbt recency or row-count test failed upstream of a broken feature"),
    "dbt_test_drift": (RootCause.DATA_DRIFT, 0.35,
                       "a dbt test of values (accepted values, ranges, uniqueness, relationships) failed "
                       "upstream of a broken feature"),
}
#: test name (dbt generic test, dbt_utils / dbt_expectations name) → the rule of a failing one
TEST_CLASSES = {
    "error": "dbt_test_schema",  # a test that errors (usually: the column it reads is gone)
    "not_null": "dbt_test_schema", "expect_column_to_exist": "dbt_test_schema",
    "expect_column_values_to_be_of_type": "dbt_test_schema", "expect_table_columns_to_match_set": "dbt_test_schema",
    "expect_table_columns_to_match_ordered_list": "dbt_test_schema",
    "recency": "dbt_test_stale", "expect_row_values_to_have_recent_data": "dbt_test_stale",
    "expect_table_row_count_to_be_between": "dbt_test_stale", "at_least_one": "dbt_test_stale",
}
_COLUMN_ERROR = re.compile(r"column|binder error|not found|does not exist|no such|invalid identifier", re.I)


def rule_for(finding, lineage) -> str:
    """The rule a lineage finding is evidence for (see the module docstring)."""
    if finding.kind == "changed":
        node = lineage.nodes[finding.node]
        return "dbt_upstream_schema_change" if finding.columns or node.resource_type == "source" \
            else "dbt_upstream_changed"
    if finding.kind == "errored":
        return "dbt_upstream_schema_change" if _COLUMN_ERROR.search(finding.detail) else "dbt_upstream_errored"
    if finding.kind == "stale":
        return "dbt_source_stale"
    if finding.kind == "late":
        return "dbt_source_late"
    return TEST_CLASSES.get(finding.test_name, "dbt_test_drift")


def _strength(at: datetime | None, onset: datetime) -> float | None:
    if at is None:
        return 0.5
    if at > onset + AFTER or at < onset - BEFORE:
        return None
    if at >= onset:
        return 1.0
    return 1.0 - 0.5 * (onset - at) / BEFORE


def assess(lineage, features: Iterable[str], at: datetime) -> tuple[list[Signal], dict]:
    """The signals of ``lineage``'s findings upstream of ``features`` around the onset ``at``, and facts."""
    from core.sources.lineage_dbt import findings, path_text

    wanted = [str(f) for f in features]
    mapping = lineage.map_features(wanted)
    if not mapping and lineage.feature_model():
        mapping = {lineage.nodes[lineage.feature_model()].label: (lineage.feature_model(), None)}
    upstream = {f: lineage.path_subgraph([uid]) for f, (uid, _col) in mapping.items()}
    window = around(at, BEFORE, AFTER)
    best: dict[str, Signal] = {}
    counted = []
    for found in findings(lineage):
        strength = _strength(found.at, at)
        feats = [f for f, nodes in upstream.items() if found.node in nodes]
        if strength is None or not feats:
            continue
        counted.append(found)
        name = rule_for(found, lineage)
        feature = feats[0]
        path = path_text(lineage, found, feature, mapping[feature][0])
        more = f" (and {len(feats) - 1} more feature(s))" if len(feats) > 1 else ""
        cls, weight, reason = RULES[name]  # this step's own rules: usable before it is registered
        item = EvidenceItem(step=NAME, kind=name, title=f"dbt {found.kind.replace('_', ' ')}: {found.label}",
                            detail=f"{path}{more}: {found.detail}", view="lineage", window=window,
                            data={"finding": found.kind, "node": found.node,
                                  "at": found.at.isoformat() if found.at else None,
                                  "features": feats, "path": path, "detail": found.detail})
        sig = Signal(cls, name, clip(strength), weight, reason, item)
        if name not in best or sig.contribution > best[name].contribution:
            best[name] = sig
    facts = {"mapped": {f: list(v) for f, v in mapping.items()}, "findings": [f.to_dict() for f in counted]}
    return list(best.values()), facts


def _broken_features(context: TriageContext) -> list[str]:
    data = context.finding("data")
    report = getattr(data, "report", None)
    if report is None:
        return []
    cols = [c for f in report.schema for c in f.columns]
    cols += [c.column for c in report.columns if c.drifted]
    return list(dict.fromkeys(cols))


class LineageStep:
    """Evidence from the dbt artifacts of the bundle's ``dbt/`` folder."""

    name = NAME
    title = TITLE
    relevance = {RootCause.SCHEMA_CHANGE: 0.15, RootCause.STALE_DATA: 0.15, RootCause.CODE_REGRESSION: 0.1,
                 RootCause.DATA_DRIFT: 0.05}
    rules = RULES
    optional = True  # an incident without dbt artifacts is not "unchecked": the team may not use dbt

    def run(self, context: TriageContext) -> StepOutcome:
        if not (context.bundle.path / "dbt").is_dir():
            return StepOutcome(StepResult(NAME, TITLE, "skipped", "the bundle has no dbt/ folder (dbt artifacts)"))
        from core.sources.factory import open_source

        lineage = open_source("lineage", context.bundle)
        features = _broken_features(context)
        signals, facts = assess(lineage, features, context.at)
        n = len(facts["findings"])
        if n:
            summary = (f"{n} dbt finding(s) upstream of "
                       f"{', '.join(facts['mapped']) or 'the feature model'}: "
                       + "; ".join(f["detail"] for f in facts["findings"][:3]))
        else:
            summary = (f"nothing changed, failed or went stale in dbt upstream of "
                       f"{', '.join(facts['mapped']) or 'the features'} around the onset")
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, {"findings": n}), tuple(signals),
                           facts=facts, finding=lineage)
