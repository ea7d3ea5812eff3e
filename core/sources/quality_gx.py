"""Data-quality results from Great Expectations: validation-result JSON files as GX 1.x writes them.

Reading needs no GX install: the files are plain JSON. Accepted, per file (see docs/quality.md):

* an ``ExpectationSuiteValidationResult`` (what a checkpoint stores under
  ``gx/uncommitted/validations/SUITE/RUN_NAME/RUN_TIME/BATCH.json``): ``results``, ``suite_name``,
  ``meta.run_id.run_time`` (or ``meta.validation_time``);
* a list of those, or a checkpoint result holding them (``run_results: {id: result}`` or
  ``{id: {"validation_result": result}}``);
* a checkpoint result's ``describe_dict()`` (``validation_results[].expectations[]``) with a
  top-level ``run_time`` (or a GX run-time folder in its path);
* expectation-suite files (``expectations`` and ``name``, no results) are suites, not results:
  they are skipped here and read by :mod:`core.analysis.expectations`.

A spec is a folder of such files, a bundle (its ``quality/`` folder), a GX project folder (its
``gx/uncommitted/validations``) or one file. Every file is read and checked before anything is
returned: a malformed or partial file, a result without a run time, a column-level result naming a
column that exists in none of the bundle's datasets, or no result at all is an
:class:`~core.errors.InvalidInputError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from core.errors import BundleError, InvalidInputError

__all__ = [
    "CATEGORIES", "ExpectationRun", "GxQualitySource", "QualityFinding", "category_of", "open_quality",
    "parse_results",
]

#: Expectation type → what a failure says about the data (the triage step maps these to classes).
_SCHEMA = {
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list", "expect_column_to_exist",
    "expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list",
    "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between",
}
_VOLUME = {
    "expect_table_row_count_to_be_between", "expect_table_row_count_to_equal",
    "expect_table_row_count_to_equal_other_table",
}
_COMPLETENESS = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
                 "expect_column_proportion_of_non_null_values_to_be_between"}
_DISTRIBUTION = {
    "expect_column_mean_to_be_between", "expect_column_median_to_be_between", "expect_column_stdev_to_be_between",
    "expect_column_quantile_values_to_be_between", "expect_column_kl_divergence_to_be_less_than",
    "expect_column_min_to_be_between", "expect_column_max_to_be_between", "expect_column_sum_to_be_between",
    "expect_column_values_to_be_between", "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set",
    "expect_column_distinct_values_to_be_in_set", "expect_column_distinct_values_to_contain_set",
    "expect_column_distinct_values_to_equal_set", "expect_column_most_common_value_to_be_in_set",
    "expect_column_unique_value_count_to_be_between", "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_value_z_scores_to_be_less_than", "expect_column_pair_values_a_to_be_greater_than_b",
}
CATEGORIES = ("schema", "freshness", "volume", "completeness", "distribution", "other")

_RUN_DIR = re.compile(r"^(\d{8}T\d{6}(?:\.\d+)?)Z$")


def category_of(expectation: str, kwargs: dict[str, Any] | None = None) -> str:
    """``schema``, ``freshness``, ``volume``, ``completeness``, ``distribution`` or ``other``.

    A ``min``/``max`` expectation whose bounds are times is a freshness check (GX has no freshness
    expectation of its own; teams bound the newest timestamp), so is any type naming freshness.
    """
    kwargs = kwargs or {}
    if "fresh" in expectation or "recent" in expectation:
        return "freshness"
    if expectation in ("expect_column_max_to_be_between", "expect_column_min_to_be_between"):
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        if any(isinstance(b, str) and _looks_like_time(b) for b in bounds):
            return "freshness"
    if expectation in _SCHEMA:
        return "schema"
    if expectation in _VOLUME:
        return "volume"
    if expectation in _COMPLETENESS:
        return "completeness"
    if expectation in _DISTRIBUTION:
        return "distribution"
    return "other"


def _looks_like_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class ExpectationRun:
    """One expectation evaluated in one validation run."""

    suite: str
    expectation: str
    column: str | None
    success: bool
    observed: Any
    run_time: datetime
    asset: str
    file: str
    category: str
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def key(self) -> tuple[str, str, str, str]:
        """What identifies the same check across runs: suite, asset, expectation, its arguments."""
        args = {k: v for k, v in self.kwargs.items() if k != "batch_id"}
        return (self.suite, self.asset, self.expectation, json.dumps(args, sort_keys=True, default=str))


@dataclass(frozen=True)
class QualityFinding:
    """A check that fails in the latest run that evaluated it, and since when it fails.

    ``since`` is the first failing run after the last passing one (the earliest run when it never
    passed); ``last`` the latest failing run; ``failed_runs`` how many runs failed it since then.
    """

    suite: str
    expectation: str
    column: str | None
    category: str
    observed: Any
    since: datetime
    last: datetime
    failed_runs: int
    asset: str
    file: str
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def title(self) -> str:
        where = f"column {self.column}" if self.column else "table"
        return f"{self.expectation} failed on {where} ({self.suite})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "asset": self.asset, "expectation": self.expectation, "column": self.column,
            "category": self.category, "observed": _jsonable(self.observed),
            "since": self.since.isoformat(), "last": self.last.isoformat(), "failed_runs": self.failed_runs,
            "file": self.file,
        }

    def event(self) -> dict[str, Any]:
        """The finding as a timeline event (the shape of a bundle's change events)."""
        return {
            "timestamp": self.since.isoformat(), "end": None, "kind": "alert", "source": "great_expectations",
            "title": self.title,
            "attributes": {"expectation": self.expectation, "column": self.column, "category": self.category,
                           "observed": _short(self.observed), "suite": self.suite, "asset": self.asset,
                           "failed_runs": self.failed_runs, "last": self.last.isoformat()},
        }


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ parsing

def _bad(file: str, what: str) -> InvalidInputError:
    return InvalidInputError(f"{file}: {what}")


def _run_time_from_path(path: Path) -> datetime | None:
    for part in reversed(path.parts):
        m = _RUN_DIR.match(part)
        if m:
            fmt = "%Y%m%dT%H%M%S.%f" if "." in m.group(1) else "%Y%m%dT%H%M%S"
            return datetime.strptime(m.group(1), fmt).replace(tzinfo=timezone.utc)
    return None


def _time(value: Any, file: str, where: str) -> datetime:
    if isinstance(value, (int, float)) or not isinstance(value, str) or not value.strip():
        raise _bad(file, f"{where} is not a time ({_short(value, 40)})")
    text = value.strip()
    if _RUN_DIR.match(text):
        return _run_time_from_path(Path(text))  # type: ignore[return-value]
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(file, f"{where} '{_short(text, 40)}' is not an ISO 8601 time") from None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _exception(info: dict[str, Any] | None) -> str | None:
    """The message of a check that raised (GX 1.x keys it per metric when a metric failed)."""
    if not info:
        return None
    if "raised_exception" in info or "exception_message" in info:
        if info.get("raised_exception") or info.get("exception_message"):
            return str(info.get("exception_message") or "the check raised an exception")
        return None
    for value in info.values():
        if isinstance(value, dict) and (value.get("raised_exception") or value.get("exception_message")):
            return str(value.get("exception_message") or "the check raised an exception")
    return None


def _observed(result: dict[str, Any], exception: dict[str, Any] | None) -> Any:
    error = _exception(exception)
    if error:
        return f"error: {error.splitlines()[-1] if error.strip() else error}"
    if "observed_value" in result:
        return result["observed_value"]
    if "unexpected_percent" in result:
        sample = result.get("partial_unexpected_list") or []
        share = result.get("unexpected_percent")
        text = f"{share:.3g}% unexpected" if isinstance(share, (int, float)) else "unexpected values"
        return text + (f", e.g. {_short(sample[:5], 60)}" if sample else "")
    details = result.get("details")
    return details if details else None


def _column(kwargs: dict[str, Any]) -> str | None:
    col = kwargs.get("column")
    if isinstance(col, str):
        return col
    pair = [kwargs.get("column_A"), kwargs.get("column_B")]
    if all(isinstance(c, str) for c in pair):
        return ",".join(pair)
    return None


def _validation(obj: dict[str, Any], file: str, fallback: datetime | None, label: str) -> list[ExpectationRun]:
    """The runs of one ExpectationSuiteValidationResult (GX 1.x, also reads 0.18's key names)."""
    results = obj.get("results")
    if not isinstance(results, list):
        raise _bad(file, f"{label}: 'results' is missing or not a list")
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    suite = obj.get("suite_name") or meta.get("expectation_suite_name")
    if not isinstance(suite, str) or not suite:
        raise _bad(file, f"{label}: no suite name ('suite_name')")
    run_id = meta.get("run_id") if isinstance(meta.get("run_id"), dict) else {}
    raw_time = run_id.get("run_time") or meta.get("validation_time")
    if raw_time is None and fallback is None:
        raise _bad(file, f"{label}: no run time (meta.run_id.run_time or meta.validation_time)")
    run_time = _time(raw_time, file, f"{label}: run time") if raw_time is not None else fallback
    batch = meta.get("active_batch_definition") if isinstance(meta.get("active_batch_definition"), dict) else {}
    asset = str(batch.get("data_asset_name") or meta.get("batch_spec", {}).get("data_asset_name", "") or "")
    out = []
    for i, res in enumerate(results):
        where = f"{label}: results[{i}]"
        if not isinstance(res, dict):
            raise _bad(file, f"{where} is not an object")
        config = res.get("expectation_config")
        if not isinstance(config, dict):
            raise _bad(file, f"{where} has no 'expectation_config'")
        out.append(_run(config.get("type") or config.get("expectation_type"), config.get("kwargs"), res,
                        suite=suite, asset=asset, run_time=run_time, file=file, where=where))
    return out


def _run(kind: Any, kwargs: Any, res: dict[str, Any], *, suite: str, asset: str, run_time: datetime,
         file: str, where: str) -> ExpectationRun:
    if not isinstance(kind, str) or not kind.startswith("expect_"):
        raise _bad(file, f"{where}: no expectation type ('type')")
    if not isinstance(kwargs, dict):
        raise _bad(file, f"{where}: 'kwargs' is missing or not an object")
    if not isinstance(res.get("success"), bool):
        raise _bad(file, f"{where}: 'success' is missing or not true/false")
    result = res.get("result") if isinstance(res.get("result"), dict) else {}
    exception = res.get("exception_info") if isinstance(res.get("exception_info"), dict) else None
    observed = _observed(result, exception)
    category = category_of(kind, kwargs)
    if isinstance(observed, str) and observed.startswith("error:") and "does not exist" in observed:
        category = "schema"  # the column the check names is gone: a schema change, whatever the check
    return ExpectationRun(suite=suite, expectation=kind, column=_column(kwargs), success=res["success"],
                          observed=observed, run_time=run_time, asset=asset, file=file,
                          category=category, kwargs=dict(kwargs))


def _described(obj: dict[str, Any], file: str, fallback: datetime | None) -> list[ExpectationRun]:
    """A checkpoint result's ``describe_dict()``: it carries no run time, so one must come with it."""
    raw = obj.get("run_time")
    if raw is None and fallback is None:
        raise _bad(file, "a checkpoint summary (validation_results) carries no run time; add a top-level "
                         "'run_time' or store the validation results themselves")
    run_time = _time(raw, file, "run_time") if raw is not None else fallback
    out = []
    for i, val in enumerate(obj["validation_results"]):
        label = f"validation_results[{i}]"
        if not isinstance(val, dict) or not isinstance(val.get("expectations"), list):
            raise _bad(file, f"{label}: 'expectations' is missing or not a list")
        suite = str(val.get("suite_name") or obj.get("suite_name") or Path(file).stem)
        for j, exp in enumerate(val["expectations"]):
            if not isinstance(exp, dict):
                raise _bad(file, f"{label}.expectations[{j}] is not an object")
            out.append(_run(exp.get("expectation_type") or exp.get("type"), exp.get("kwargs"), exp, suite=suite,
                            asset=str(val.get("asset_name") or ""), run_time=run_time, file=file,
                            where=f"{label}.expectations[{j}]"))
    return out


def _is_suite(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("expectations"), list) and "results" not in obj and (
        "name" in obj or "expectation_suite_name" in obj)


def parse_results(obj: Any, file: str, *, fallback_time: datetime | None = None) -> list[ExpectationRun]:
    """Every expectation run in one parsed JSON document (see the module docstring for the shapes)."""
    if isinstance(obj, list):
        out: list[ExpectationRun] = []
        for i, item in enumerate(obj):
            if not isinstance(item, dict) or "results" not in item:
                raise _bad(file, f"[{i}] is not a validation result")
            out.extend(_validation(item, file, fallback_time, f"[{i}]"))
        return out
    if not isinstance(obj, dict):
        raise _bad(file, "is not a GX validation result (a JSON object or a list of them)")
    if "results" in obj:
        return _validation(obj, file, fallback_time, "result")
    if isinstance(obj.get("run_results"), dict):
        out = []
        for key, item in obj["run_results"].items():
            val = item.get("validation_result", item) if isinstance(item, dict) else item
            if not isinstance(val, dict):
                raise _bad(file, f"run_results[{key}] is not a validation result")
            out.extend(_validation(val, file, fallback_time, f"run_results[{_short(key, 60)}]"))
        return out
    if isinstance(obj.get("validation_results"), list):
        return _described(obj, file, fallback_time)
    raise _bad(file, "is not a GX validation result: expected 'results' (a validation result), "
                     "'run_results' or 'validation_results' (a checkpoint result)")


# ------------------------------------------------------------------ locating files

def _gx_root(path: Path) -> Path | None:
    for cand in (path, path / "gx", path / "great_expectations"):
        if (cand / "great_expectations.yml").is_file():
            return cand
    return None


def result_files(folder: Path) -> list[Path]:
    """The JSON files to read under ``folder``: a GX project's stored validations, else every ``*.json``."""
    root = _gx_root(folder)
    if root is not None:
        stored = root / "uncommitted" / "validations"
        files = sorted(stored.rglob("*.json")) if stored.is_dir() else []
        extra = sorted(p for p in folder.rglob("*.json") if root not in p.parents and p.parent != root)
        return files + extra
    return sorted(p for p in folder.rglob("*.json") if p.is_file())


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


class GxQualitySource:
    """Great Expectations validation results read from files (a :class:`DataQualitySource`).

    Everything is read and checked in the constructor, so an instance never holds half a folder.
    ``known_columns``: when given (a bundle's dataset columns), a column-level result naming a
    column outside them is refused (``expect_column_to_exist`` excepted: naming a missing column
    is its point).
    """

    def __init__(self, path: Path | str, *, known_columns: Iterable[str] | None = None, label: str | None = None):
        self.path = Path(path)
        self.label = label or str(self.path)
        if not self.path.exists():
            raise InvalidInputError(f"quality source '{self.path}' not found; give a folder of GX validation "
                                    "results, a bundle with a quality/ folder, a GX project folder or a JSON file")
        base = self.path.parent if self.path.is_file() else self.path
        files = [self.path] if self.path.is_file() else result_files(self.path)
        runs: list[ExpectationRun] = []
        self.suites: dict[str, dict[str, Any]] = {}
        for f in files:
            name = _rel(f, base)
            try:
                obj = json.loads(f.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                raise _bad(name, "is not UTF-8 text") from None
            except json.JSONDecodeError as exc:
                raise _bad(name, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                 "the file may be cut off") from None
            if _is_suite(obj):
                self.suites[str(obj.get("name") or obj.get("expectation_suite_name"))] = obj
                continue
            runs.extend(parse_results(obj, name, fallback_time=_run_time_from_path(f)))
        if not runs:
            raise InvalidInputError(f"{self.label}: no GX validation results found (looked for *.json"
                                    f"{' in gx/uncommitted/validations' if _gx_root(self.path) else ''})")
        if known_columns is not None:
            known = set(known_columns)
            for r in runs:
                if r.column and r.expectation != "expect_column_to_exist":
                    missing = [c for c in r.column.split(",") if c not in known]
                    if missing:
                        raise _bad(r.file, f"{r.expectation} names column '{missing[0]}', which is in none of "
                                           f"the datasets ({', '.join(sorted(known)[:10])})")
        self.runs: tuple[ExpectationRun, ...] = tuple(sorted(runs, key=lambda r: (r.run_time, r.file)))

    def __repr__(self) -> str:
        return f"GxQualitySource({self.label!r}, {len(self.runs)} expectation runs)"

    def results(self, window: Any = None, *, asset: str | None = None) -> Any:
        """One row per expectation run in ``window`` (all when None): the :class:`DataQualitySource` table."""
        import pandas as pd

        rows = [{"suite": r.suite, "expectation": r.expectation, "column": r.column, "success": r.success,
                 "observed": _short(r.observed) if r.observed is not None else None, "run_time": r.run_time,
                 "asset": r.asset, "category": r.category, "file": r.file}
                for r in self.runs
                if (asset is None or r.asset == asset)
                and (window is None or window.start <= r.run_time <= window.end)]
        frame = pd.DataFrame(rows, columns=["suite", "expectation", "column", "success", "observed", "run_time",
                                            "asset", "category", "file"])
        frame["run_time"] = pd.to_datetime(frame["run_time"], utc=True)
        return frame

    def findings(self, until: datetime | None = None) -> list[QualityFinding]:
        """The checks failing in their latest run (up to ``until``), each with since when it fails."""
        by_key: dict[tuple, list[ExpectationRun]] = {}
        for r in self.runs:
            if until is None or r.run_time <= until:
                by_key.setdefault(r.key(), []).append(r)
        out = []
        for runs in by_key.values():
            last = runs[-1]
            if last.success:
                continue
            streak = []
            for r in reversed(runs):
                if r.success:
                    break
                streak.append(r)
            first = streak[-1]
            out.append(QualityFinding(suite=last.suite, expectation=last.expectation, column=last.column,
                                      category=last.category, observed=last.observed, since=first.run_time,
                                      last=last.run_time, failed_runs=len(streak), asset=last.asset,
                                      file=last.file, kwargs=last.kwargs))
        return sorted(out, key=lambda f: (f.since, f.suite, f.expectation, f.column or ""))

    def events(self, until: datetime | None = None) -> list[dict[str, Any]]:
        """The failing checks as timeline events at the time they started failing."""
        return [f.event() for f in self.findings(until)]


def _bundle_columns(bundle: Any) -> list[str] | None:
    from core.sources.tables import table_columns

    cols: list[str] = []
    for role in bundle.datasets:
        cols.extend(table_columns(bundle.dataset_path(role)))
    return cols or None


def open_quality(spec: Any, _settings: Any = None) -> GxQualitySource:
    """The factory's opener for kind ``quality``: a bundle (its ``quality/``), a GX project, a folder or a file."""
    bundle = spec if (not isinstance(spec, (str, Path)) and hasattr(spec, "manifest")) else None
    path = Path(str(spec)).expanduser() if bundle is None else bundle.path
    if bundle is None and path.exists() and (
            (path.is_dir() and (path / "bundle.json").is_file()) or path.suffix.lower() == ".zip"):
        from core.bundle import read_bundle

        bundle = read_bundle(path)
    if bundle is not None:
        folder = bundle.path / "quality"
        if not folder.is_dir():
            raise BundleError(f"bundle {bundle.id} has no quality/ folder (GX validation results)")
        return GxQualitySource(folder, known_columns=_bundle_columns(bundle), label=f"bundle {bundle.id} quality/")
    return GxQualitySource(path)


def stored_suites(folder: Path | str) -> dict[str, dict[str, Any]]:
    """The GX expectation suites stored under ``folder`` (a bundle's ``quality/``, a GX project's
    ``expectations/``), by name; unreadable files and other JSON are left out (they are not suites)."""
    root = Path(folder)
    out: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return out
    for f in sorted(root.rglob("*.json")):
        try:
            obj = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if _is_suite(obj):
            out[str(obj.get("name") or obj.get("expectation_suite_name"))] = obj
    return out
