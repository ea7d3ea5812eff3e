"""Data checks with Great Expectations: a suite from a reference frame, a frame validated against it.

``suggest_suite(reference)`` builds a GX 1.x expectation suite from a reference frame — the column
set, each column's type family, its null rate (with a tolerance), numeric ranges and means (with a
tolerance) and, for low-cardinality text columns, the category set — and returns it as the JSON GX
itself writes to ``gx/expectations/NAME.json`` (``suite_json`` gives the text: "save as GX suite").
``validate_frame(frame, suite)`` runs real GX on the frame against that suite or any stored one
and returns typed :class:`CheckResult` rows (the same parsing as stored validation results,
:mod:`core.sources.quality_gx`).

GX is optional for the workbench: it is imported only when a check runs; without it the calls
raise :class:`~core.errors.InvalidInputError` saying to install ``requirements-gx.txt``.
GX 1.24 compares pandas 3 string, categorical and timezone-aware dtypes wrongly, so the frame GX
sees has those columns as Python objects (strings, ``Timestamp``); values are unchanged.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from core.errors import InvalidInputError
from core.sources.quality_gx import ExpectationRun, parse_results

__all__ = [
    "CheckResult", "Tolerances", "ValidationReport", "load_suite", "require_gx", "suggest_suite", "suite_json",
    "validate_frame",
]

INSTALL = "Great Expectations is not installed; install it with: pip install -r requirements-gx.txt"

_INT = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
_FLOAT = ["float16", "float32", "float64"]


# GX keeps its current project in a module global: one check at a time per process.
_LOCK = threading.RLock()


def _context(gx: Any) -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def require_gx() -> Any:
    """The ``great_expectations`` module, or an InvalidInputError saying how to install it."""
    try:
        import great_expectations as gx
    except ImportError:
        raise InvalidInputError(INSTALL) from None
    return gx


@dataclass(frozen=True)
class Tolerances:
    """How far the current data may move before a generated check fails.

    ``null_rate``: absolute rise of a column's null share; ``range``: share of the reference span
    added on each side of min/max; ``mean``: reference standard deviations the mean may move;
    ``mostly``: share of values that must fall in the range or category set;
    ``max_categories``: text columns with more distinct values get no category set.
    """

    null_rate: float = 0.05
    range: float = 0.1
    mean: float = 0.5
    mostly: float = 0.99
    max_categories: int = 30


@dataclass(frozen=True)
class CheckResult:
    """One expectation's result on the validated frame."""

    expectation: str
    column: str | None
    category: str
    success: bool
    observed: Any
    kwargs: Mapping[str, Any]

    @classmethod
    def from_run(cls, run: ExpectationRun) -> "CheckResult":
        args = {k: v for k, v in run.kwargs.items() if k != "batch_id"}
        return cls(run.expectation, run.column, run.category, run.success, run.observed, args)

    def to_dict(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "column": self.column, "category": self.category,
                "success": self.success, "observed": _plain(self.observed), "kwargs": _plain(dict(self.kwargs))}


@dataclass(frozen=True)
class ValidationReport:
    suite: str
    rows: int
    results: tuple[CheckResult, ...]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.success)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _family(s: pd.Series) -> str | None:
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "bool"
    if pd.api.types.is_integer_dtype(dt):
        return "int"
    if pd.api.types.is_float_dtype(dt):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dt):
        return "datetime"
    values = s.dropna()
    if len(values) and all(isinstance(v, str) for v in values.head(1000)):
        return "str"
    return None


def gx_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as GX 1.24 can check it: text, categorical and datetime columns as objects, nullable numbers as numpy."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        dt = s.dtype
        if pd.api.types.is_datetime64_any_dtype(dt) or isinstance(dt, pd.CategoricalDtype) \
                or pd.api.types.is_string_dtype(dt):
            s = s.astype(object).where(s.notna(), None)
        elif pd.api.types.is_extension_array_dtype(dt) and pd.api.types.is_numeric_dtype(dt):
            if pd.api.types.is_bool_dtype(dt):
                s = s.astype(object) if s.isna().any() else s.astype(bool)
            else:
                s = s.astype("float64") if s.isna().any() or pd.api.types.is_float_dtype(dt) else s.astype("int64")
        out[str(col)] = s
    return pd.DataFrame(out, index=frame.index)


def _num(x: Any) -> float:
    return float(round(float(x), 6))


def suggest_suite(reference: pd.DataFrame, name: str = "reference", *,
                  tolerances: Tolerances | None = None) -> dict[str, Any]:
    """A GX expectation suite (as GX writes it) describing ``reference`` within ``tolerances``."""
    gx = require_gx()
    tol = tolerances or Tolerances()
    if reference.empty or not len(reference.columns):
        raise InvalidInputError("the reference data is empty; pick a reference window with rows")
    with _LOCK:
        return _suggest(gx, reference, name, tol)


def _suggest(gx: Any, reference: pd.DataFrame, name: str, tol: Tolerances) -> dict[str, Any]:
    E = gx.expectations
    suite = _context(gx).suites.add(gx.ExpectationSuite(name=name))
    columns = [str(c) for c in reference.columns]
    suite.add_expectation(E.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=True))
    for col in reference.columns:
        s = reference[col]
        c = str(col)
        fam = _family(s)
        if fam is not None:
            types = {"int": _INT, "float": _FLOAT, "bool": ["bool"], "str": ["str"],
                     "datetime": ["Timestamp", "datetime64"]}[fam]
            suite.add_expectation(E.ExpectColumnValuesToBeInTypeList(column=c, type_list=types))
        non_null = float(s.notna().mean())
        suite.add_expectation(E.ExpectColumnProportionOfNonNullValuesToBeBetween(
            column=c, min_value=_num(max(0.0, non_null - tol.null_rate)), max_value=1.0))
        values = s.dropna()
        if fam in ("int", "float") and len(values):
            lo, hi = float(values.min()), float(values.max())
            if math.isfinite(lo) and math.isfinite(hi):
                pad = (hi - lo) * tol.range or abs(hi) * tol.range or tol.range
                suite.add_expectation(E.ExpectColumnValuesToBeBetween(
                    column=c, min_value=_num(lo - pad), max_value=_num(hi + pad), mostly=tol.mostly))
                mean, std = float(values.mean()), float(values.std(ddof=0)) if len(values) > 1 else 0.0
                spread = std * tol.mean or abs(mean) * tol.range or tol.range
                suite.add_expectation(E.ExpectColumnMeanToBeBetween(
                    column=c, min_value=_num(mean - spread), max_value=_num(mean + spread)))
        elif fam == "str" and 0 < values.nunique() <= tol.max_categories:
            suite.add_expectation(E.ExpectColumnValuesToBeInSet(
                column=c, value_set=sorted(str(v) for v in values.unique()), mostly=tol.mostly))
    data = suite.to_json_dict()
    data.setdefault("meta", {})["great_expectations_version"] = gx.__version__
    return data


def suite_json(suite: Mapping[str, Any]) -> str:
    """The suite as the text of a GX ``expectations/NAME.json`` file."""
    return json.dumps(suite, indent=2, sort_keys=True, default=str) + "\n"


def load_suite(path: Path | str) -> dict[str, Any]:
    """A stored GX suite file (``gx/expectations/NAME.json``)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{p}: not found; give a GX suite file (gx/expectations/NAME.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{p.name}: is not valid JSON ({exc}); the file may be cut off") from None
    _check_suite(data, p.name)
    return data


def _check_suite(data: Any, where: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list) or not data.get("name"):
        raise InvalidInputError(f"{where}: is not a GX expectation suite (needs 'name' and 'expectations')")
    for i, e in enumerate(data["expectations"]):
        if not isinstance(e, dict) or not str(e.get("type") or e.get("expectation_type") or "").startswith("expect_") \
                or not isinstance(e.get("kwargs"), dict):
            raise InvalidInputError(f"{where}: expectations[{i}] needs 'type' (expect_…) and 'kwargs'")


def validate_frame(frame: pd.DataFrame, suite: Mapping[str, Any]) -> ValidationReport:
    """Run GX on ``frame`` against ``suite`` (a dict as :func:`suggest_suite` or a suite file gives)."""
    gx = require_gx()
    _check_suite(suite, f"suite {suite.get('name', '?') if isinstance(suite, Mapping) else '?'}")
    with _LOCK:
        return _validate(gx, frame, suite)


def _validate(gx: Any, frame: pd.DataFrame, suite: Mapping[str, Any]) -> ValidationReport:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    context = _context(gx)
    gx_suite = gx.ExpectationSuite(name=str(suite["name"]))
    for e in suite["expectations"]:
        config = ExpectationConfiguration(type=e.get("type") or e["expectation_type"], kwargs=dict(e["kwargs"]),
                                          meta=e.get("meta") or {})
        try:
            gx_suite.add_expectation(config.to_domain_obj())
        except Exception as exc:  # noqa: BLE001 - GX raises its own error types for bad configurations
            raise InvalidInputError(f"suite {suite['name']}: {config.type} cannot be built ({exc})") from None
    gx_suite = context.suites.add(gx_suite)
    asset = context.data_sources.add_pandas("workbench").add_dataframe_asset("frame")
    batch = asset.add_batch_definition_whole_dataframe("whole")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="workbench", data=batch, suite=gx_suite))
    result = definition.run(batch_parameters={"dataframe": gx_frame(frame)})
    runs = parse_results(result.to_json_dict(), f"suite {suite['name']}")
    present = {str(c) for c in frame.columns}
    out = []
    for r in runs:
        check = CheckResult.from_run(r)
        if check.column and not set(check.column.split(",")) <= present:
            gone = [c for c in check.column.split(",") if c not in present]
            check = replace(check, success=False, category="schema", observed=f"column {gone[0]} is missing")
        out.append(check)
    return ValidationReport(str(suite["name"]), len(frame), tuple(out))
