"""A data contract for the columns the incident changed, proven on the incident's own data.

:func:`build_contract` takes the bundle's reference and incident data the way triage's data
step does (:func:`core.triage.steps.data.data_pair`: the reference/current snapshots, or one
dataset split at the onset; the incident part ends where the impact ends), finds the columns
the incident changed — every column of a schema finding (renamed, removed, retyped, rescaled,
collapsed, null jump, new categories) and every drifted input or prediction column, strongest
first, at most :data:`MAX_COLUMNS` — and writes a contract for them:

- with Great Expectations installed (``requirements-gx.txt``), a GX suite built from the
  reference by :func:`core.analysis.expectations.suggest_suite` (column set, types, null rates,
  ranges and means, categories), kept to the changed columns plus the table's column set;
- without it, the project's schema check (:func:`core.analysis.schema.diff_schema`) restricted to
  those columns, with the reference profiles written as the contract file.

The proof validates the contract on the reference window (it must pass) and on the incident
window (it must fail); both results, with the failed checks, are reported. GX's import takes
seconds, so callers run this on request (the page's button, the CLI).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from core.errors import InvalidInputError

MAX_COLUMNS = 12
GX = "great_expectations"
SCHEMA_CHECK = "schema_check"
MIN_SEVERITY = 0.4  # the schema check fails on findings of at least medium severity
MAX_FAILED_SHOWN = 8
GX_FILE = "contract_suite.json"
SCHEMA_FILE = "contract_schema.json"


@dataclass(frozen=True)
class WindowCheck:
    """The contract validated on one window."""

    window: str  # reference | incident
    start: datetime | None
    end: datetime | None
    rows: int
    checks: int
    failed: tuple[str, ...]  # one line per failed check

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return pd.Timestamp(t).isoformat().replace("+00:00", "Z") if t is not None else None
        return {"window": self.window, "start": iso(self.start), "end": iso(self.end), "rows": self.rows,
                "checks": self.checks, "passed": self.ok, "failed": list(self.failed)}


@dataclass(frozen=True)
class Contract:
    """A contract for the changed columns and its proof (or why there is none)."""

    incident: str
    engine: str  # great_expectations | schema_check | "" when skipped
    columns: tuple[tuple[str, str], ...] = ()  # (column, why it is in the contract)
    document: dict[str, Any] = field(default_factory=dict)  # the suite or the schema contract
    reference: WindowCheck | None = None
    incident_check: WindowCheck | None = None
    note: str = ""  # e.g. GX is not installed, so the schema check was used
    skipped: str = ""  # why no contract could be built

    @property
    def file_name(self) -> str:
        return GX_FILE if self.engine == GX else SCHEMA_FILE

    @property
    def proven(self) -> bool:
        return bool(self.reference and self.incident_check and self.reference.ok and not self.incident_check.ok)

    def text(self) -> str:
        return json.dumps(self.document, indent=2, sort_keys=True, default=str) + "\n"

    def lines(self) -> list[str]:
        """The proof in sentences, as the page and the CLI show it."""
        if self.skipped:
            return [f"data contract: not built ({self.skipped})"]
        what = "Great Expectations suite" if self.engine == GX else "schema-check contract"
        cols = ", ".join(c for c, _ in self.columns)
        out = [f"data contract ({what}) on {len(self.columns)} changed column(s): {cols}"]
        for w in (self.reference, self.incident_check):
            if w is None:
                continue
            verdict = (f"passed ({w.checks} checks)" if w.ok
                       else f"failed {len(w.failed)} of {w.checks} checks")
            want = "must pass" if w.window == "reference" else "must fail"
            out.append(f"contract on the {w.window} window ({w.rows:,} rows, {want}): {verdict}")
        out.append("data contract proven: passes on the reference, fails on the incident" if self.proven
                   else "data contract NOT proven: " + ("it fails on the reference window"
                                                         if self.reference and not self.reference.ok
                                                         else "it does not fail on the incident window"))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine or None, "file": self.file_name if not self.skipped else None,
                "columns": [{"column": c, "why": w} for c, w in self.columns],
                "reference": self.reference.to_dict() if self.reference else None,
                "incident": self.incident_check.to_dict() if self.incident_check else None,
                "proven": self.proven, "note": self.note or None, "skipped": self.skipped or None}


def gx_available() -> bool:
    """Whether Great Expectations can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("great_expectations") is not None


def changed_columns(reference: pd.DataFrame, current: pd.DataFrame, *, timestamp: str | None,
                    prediction: str | None, label: str | None) -> tuple[list[tuple[str, str]], Any]:
    """The reference columns the incident changed, strongest first, with the reason; and the drift report."""
    from core.triage.steps.data import _drop_absent_columns
    from core.analysis.drift import compare_distributions

    ref, cur, _notes = _drop_absent_columns(reference, current)
    exclude = tuple(c for c in (timestamp, label) if c)
    report = compare_distributions(ref, cur, prediction=prediction, label=label, exclude=exclude,
                                   multivariate=False, max_rows=50_000, workers=1)
    found: dict[str, tuple[float, str]] = {}

    def add(col: str, score: float, why: str) -> None:
        if col not in reference.columns or col in exclude:
            return
        old = found.get(col)
        if old is None or score > old[0]:
            found[col] = (score, why if old is None else f"{why}; {old[1]}")
        else:
            found[col] = (old[0], f"{old[1]}; {why}")

    for f in report.schema:
        kind = f.kind.replace("_", " ")
        for col in f.columns[:1]:  # a rename names the reference column first
            add(str(col), 10 + f.score, f"schema: {kind}")
    for c in report.columns:
        if c.drifted and c.role in ("feature", "prediction") and c.type in ("numeric", "categorical"):
            add(c.column, min(c.score, 9.0), f"drifted ({c.type}, {c.score:.1f}× its threshold)")
    ranked = sorted(found.items(), key=lambda kv: -kv[1][0])[:MAX_COLUMNS]
    return [(c, why) for c, (_s, why) in ranked], report


def _gx_failed_line(r: Any) -> str:
    obs = r.observed
    if r.expectation == "expect_table_columns_to_match_set" and isinstance(obs, (list, tuple)):
        want = {str(c) for c in r.kwargs.get("column_set") or ()}
        gone, new = sorted(want - set(map(str, obs))), sorted(set(map(str, obs)) - want)
        return f"table: column set changed (missing {', '.join(gone) or 'none'}; new {', '.join(new) or 'none'})"
    if isinstance(obs, (list, tuple)):
        obs = ", ".join(map(str, obs[:6])) + (" …" if len(obs) > 6 else "")
    elif isinstance(obs, float):
        obs = f"{obs:.6g}"
    what = r.expectation.replace("expect_", "").replace("_", " ")
    return f"{r.column or 'table'}: {what} (observed {str(obs)[:160]})"


def _gx_contract(reference: pd.DataFrame, incident: pd.DataFrame, columns: list[str],
                 name: str) -> tuple[dict[str, Any], tuple[int, list[str]], tuple[int, list[str]]]:
    from core.analysis.expectations import suggest_suite, validate_frame

    suite = suggest_suite(reference[columns], name)
    for e in suite["expectations"]:
        if e["type"] == "expect_table_columns_to_match_set":
            e["kwargs"]["column_set"] = [str(c) for c in reference.columns]
    suite.setdefault("meta", {})["workbench"] = {
        "contract": "columns the incident changed, with the table's column set",
        "columns": columns}
    out = []
    for frame in (reference, incident):
        rep = validate_frame(frame, suite)
        out.append((len(rep.results), [_gx_failed_line(r) for r in rep.failed]))
    return suite, out[0], out[1]


def _profile_doc(profile: Any) -> dict[str, Any]:
    doc = {"kind": profile.kind, "dtype": profile.dtype, "null_rate": round(profile.null_rate, 6)}
    if profile.minimum is not None:
        doc |= {"min": profile.minimum, "max": profile.maximum, "median": profile.median,
                "q25": profile.q25, "q75": profile.q75}
    if profile.counts:
        doc["categories"] = sorted(map(str, profile.counts))[:50]
    return doc


def _schema_contract(reference: pd.DataFrame, incident: pd.DataFrame, columns: list[str], name: str,
                     timestamp: str | None) -> tuple[dict[str, Any], tuple[int, list[str]], tuple[int, list[str]]]:
    from core.analysis.schema import diff_schema, profile_frame

    profiles = profile_frame(reference[columns])
    doc = {"name": name, "engine": "workbench schema check (core.analysis.schema.diff_schema)",
           "column_set": [str(c) for c in reference.columns],
           "columns": {c: _profile_doc(p) for c, p in profiles.items()},
           "fails_on": f"a schema finding of severity >= {MIN_SEVERITY} on these columns, or a change "
                       "of the column set"}
    exclude = tuple(c for c in (timestamp,) if c)
    out = []
    for frame in (reference, incident):
        findings = diff_schema(reference, frame, exclude=exclude)
        bad = [f for f in findings if f.score >= MIN_SEVERITY and set(map(str, f.columns[:1])) & set(columns)]
        per_column: dict[str, list[str]] = {}
        for f in bad:
            per_column.setdefault(str(f.columns[0]), []).append(f.message)
        lines = [f"{c}: {' '.join(msgs)}" for c, msgs in per_column.items()]
        if list(map(str, frame.columns)) != doc["column_set"] and set(map(str, frame.columns)) != set(doc["column_set"]):
            gone = sorted(set(doc["column_set"]) - set(map(str, frame.columns)))
            new = sorted(set(map(str, frame.columns)) - set(doc["column_set"]))
            lines.insert(0, f"table: column set changed (missing {', '.join(gone) or 'none'}; "
                            f"new {', '.join(new) or 'none'})")
        out.append((len(columns) + 1, lines))  # one check per column, one on the column set
    return doc, out[0], out[1]


def build_contract(bundle: Any, onset: datetime, *, impact_end: datetime | None = None,
                   engine: str | None = None) -> Contract:
    """The data contract of ``bundle``'s changed columns, validated on the reference and the incident windows.

    Args:
        bundle: a read bundle.
        onset: the incident's onset (a single dataset is split there).
        impact_end: the end of the impact; incident rows after it are left out.
        engine: ``great_expectations`` or ``schema_check``; default GX when installed.

    Raises:
        InvalidInputError: ``engine`` is unknown, or GX was asked for and is not installed.
    """
    from core.triage.steps.data import data_pair

    if engine not in (None, GX, SCHEMA_CHECK):
        raise InvalidInputError(f"unknown contract engine '{engine}'; use {GX} or {SCHEMA_CHECK}")
    note = ""
    if engine is None:
        engine = GX if gx_available() else SCHEMA_CHECK
        if engine == SCHEMA_CHECK:
            note = ("Great Expectations is not installed (an optional extra: pip install -r requirements-gx.txt), "
                    "so the contract uses the workbench's schema check")
    elif engine == GX and not gx_available():
        raise InvalidInputError("Great Expectations is not installed; install it with: "
                                "pip install -r requirements-gx.txt (or use the schema check)")
    pair = data_pair(bundle, onset)
    if "skip_reason" in pair:
        return Contract(bundle.id, "", skipped=pair["skip_reason"])
    ref, cur = pair["reference"], pair["current"]
    ts = pair.get("timestamp")
    cur_window = pair.get("current_window")
    end = cur_window.end if cur_window is not None else None
    if impact_end is not None and ts and ts in cur.columns and pair.get("description", "").find(" split at ") >= 0:
        stamps = pd.to_datetime(cur[ts], utc=True)
        cur = cur[stamps < pd.Timestamp(impact_end)]
        end = impact_end
    if ref.empty or cur.empty:
        which = "reference" if ref.empty else "incident"
        return Contract(bundle.id, "", skipped=f"the {which} window has no rows")
    found, _report = changed_columns(ref, cur, timestamp=ts, prediction=pair.get("prediction"),
                                     label=pair.get("label"))
    if not found:
        return Contract(bundle.id, "", skipped="no column changed between the reference and the incident "
                                               "(no schema finding, no drifted column), so there is nothing "
                                               "to put in a contract")
    cols = [c for c, _ in found]
    name = f"{bundle.id}-contract"
    if engine == GX:
        doc, r, i = _gx_contract(ref, cur, cols, name)
    else:
        doc, r, i = _schema_contract(ref, cur, cols, name, ts)
    rw, cw = pair.get("reference_window"), cur_window
    return Contract(
        bundle.id, engine, tuple(found), doc,
        WindowCheck("reference", rw.start if rw else None, rw.end if rw else None, len(ref), r[0], tuple(r[1])),
        WindowCheck("incident", cw.start if cw else None, end, len(cur), i[0], tuple(i[1])),
        note=note)
