"""Triage step ``versions``: schema changes and overwrites in the history of the incident's versioned tables.

Reads the Delta tables and date-partition folders under the bundle's ``datasets/`` through the source
factory (kind ``data_versions``, :mod:`core.sources.datasets_delta`) and turns the versions committed
up to the end of the data into evidence:

* a version whose declared schema changed (columns added, removed, retyped) → ``schema_change``;
* a version that overwrote the table's contents without a schema change → ``data_drift``, weaker
  (the rows were replaced wholesale: a backfill or a rebuild from another source).

A version committed well before the onset (more than :data:`LEAD` ahead of it) explains a new
incident less: its strength is :data:`OLD_STRENGTH`. Most bundles carry plain snapshots, so the step
is ``optional``: without a versioned table it is listed as not used by the incident.
"""

from __future__ import annotations

from datetime import timedelta

from core.models import RootCause, TimeWindow
from core.triage.models import Signal, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal

NAME = "versions"
TITLE = "Data versions (Delta Lake, partitions)"
LEAD = timedelta(hours=6)
OLD_STRENGTH = 0.3
RULES = {
    "version_schema_change": (RootCause.SCHEMA_CHANGE, 0.8,
                              "a version of a versioned table changed its declared schema (columns added, "
                              "removed or retyped)"),
    "version_overwrite": (RootCause.DATA_DRIFT, 0.35,
                          "a version overwrote a versioned table's contents (a backfill or rebuild)"),
}


class VersionsStep:
    """Evidence from the history of the bundle's Delta tables and partition folders."""

    name = NAME
    title = TITLE
    relevance = {RootCause.SCHEMA_CHANGE: 0.15, RootCause.DATA_DRIFT: 0.05}
    rules = RULES
    optional = True  # a bundle of plain snapshots is not "unchecked": the team may version nothing

    def run(self, context: TriageContext) -> StepOutcome:
        from core.sources.datasets_delta import bundle_tables

        tables = bundle_tables(context.bundle.path)
        if not tables:
            return StepOutcome(StepResult(NAME, TITLE, "skipped", "the bundle has no Delta table or dt=YYYY-MM-DD "
                                                                  "partition folder under datasets/"))
        best: dict[str, Signal] = {}
        found = []
        for name, table in tables.items():
            for h in table.history():
                if h.at is None or h.at > context.data_end or h.schema_change is None:
                    continue  # the first version is a creation; later ones after the data are not causes
                rule = ("version_schema_change" if h.schema_change else
                        "version_overwrite" if h.overwrite else None)
                if rule is None:
                    continue
                recent = h.at >= context.at - LEAD
                what = (f"schema changed ({h.schema_change.text()})" if h.schema_change else "contents overwritten")
                detail = (f"{table.label} version {h.version} at {h.at:%Y-%m-%d %H:%M} UTC: {what}"
                          + ("" if recent else "; well before the onset"))
                found.append({"table": name, **h.to_dict()})
                sig = signal(rule, 1.0 if recent else OLD_STRENGTH, detail, step=NAME, view="distributions",
                             title=f"{table.label} v{h.version}: {what}",
                             window=TimeWindow(h.at, h.at + timedelta(minutes=1)),
                             data={"table": name, "version": h.version, "at": h.to_dict()["at"],
                                   "schema_change": h.schema_change.to_dict(), "overwrite": h.overwrite})
                if rule not in best or sig.contribution > best[rule].contribution:
                    best[rule] = sig
        n = sum(len(t.history()) for t in tables.values())
        summary = (f"{len(found)} of {n} version(s) in {len(tables)} table(s) changed the schema or overwrote: "
                   + "; ".join(f"{f['table']} v{f['version']}" for f in found[:4])
                   if found else f"no schema change or overwrite in {n} version(s) of {len(tables)} table(s)")
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, {"changes": found, "tables": list(tables)}),
                           tuple(best.values()), facts={"version_changes": len(found)}, finding=tuple(found))
