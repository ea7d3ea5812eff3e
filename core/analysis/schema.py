"""Schema diff between a reference and a current frame: what changed in shape, type, unit or content.

``diff_schema`` returns :class:`SchemaFinding` objects ranked by severity, each with
the columns and the numbers behind it: added, removed and probably renamed
columns; type changes (numbers arriving as strings included); unit or scale
changes (a ×1000 or ×0.01 factor, from the ratio of medians and of inter-quartile
ranges); null-rate jumps; new and vanished categories; values outside the
reference range; columns collapsed to a constant or default value; column order
changes.

Column profiles (:class:`ColumnProfile`) are computed once per column from its
sorted values; the drift report passes its own so no column is sorted twice.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.analysis import stattests
from core.analysis.stattests import inner

NUMERIC = "numeric"
NUMERIC_STRING = "numeric_string"  # text whose values parse as numbers
CATEGORICAL = "categorical"
DATETIME = "datetime"
EMPTY = "empty"  # all values null

NUMERIC_STRING_SHARE = 0.95  # share of non-null strings that must parse for "numbers as strings"
MAX_CATEGORIES = 1000
SEVERITY_LABELS = ((0.8, "critical"), (0.6, "high"), (0.4, "medium"), (0.0, "low"))


@dataclass(frozen=True)
class ColumnProfile:
    """Robust summary of one column (numbers for numeric kinds, counts for categorical)."""

    name: str
    kind: str
    dtype: str
    n: int
    n_null: int
    minimum: float | None = None
    maximum: float | None = None
    q25: float | None = None
    median: float | None = None
    q75: float | None = None
    mean: float | None = None
    std: float | None = None
    top_value: Any = None
    top_share: float | None = None
    n_unique: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    n_non_finite: int = 0  # ±inf values: kept out of every statistic, counted here

    @property
    def null_rate(self) -> float:
        return self.n_null / self.n if self.n else 0.0

    @property
    def non_finite_rate(self) -> float:
        return self.n_non_finite / self.n if self.n else 0.0

    @property
    def iqr(self) -> float | None:
        return None if self.q25 is None else self.q75 - self.q25


@dataclass(frozen=True)
class SchemaFinding:
    """One schema problem, with a severity score in [0, 1] and the numbers behind it."""

    kind: str
    columns: tuple[str, ...]
    score: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return next(label for floor, label in SEVERITY_LABELS if self.score >= floor)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "score": round(self.score, 3),
                "columns": list(self.columns), "message": self.message, "details": self.details}


# ---------------------------------------------------------------- column kinds and profiles

def column_kind(series: pd.Series) -> str:
    """``numeric``, ``numeric_string``, ``categorical``, ``datetime`` or ``empty``."""
    if not series.iloc[:64].notna().any() and not series.notna().any():  # the head settles most columns
        return EMPTY
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DATETIME
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    values = series.dropna()
    # numbers as text: test a small sample first, then a larger one
    for size in (200, 20_000):
        sample = values.iloc[np.linspace(0, len(values) - 1, size).astype(np.int64)] if len(values) > size else values
        if not isinstance(dtype, pd.StringDtype) and not sample.map(lambda v: isinstance(v, str)).all():
            return CATEGORICAL  # mixed types
        if pd.to_numeric(sample, errors="coerce").notna().mean() < NUMERIC_STRING_SHARE:
            return CATEGORICAL
        if len(values) <= size:
            break
    return NUMERIC_STRING


def numeric_values(series: pd.Series) -> np.ndarray:
    """Non-null float values of a numeric (or numbers-as-strings) column."""
    values = numeric_values_keep_nan(series)
    return values[~np.isnan(values)]


def numeric_values_keep_nan(series: pd.Series) -> np.ndarray:
    """Float values of a numeric (or numbers-as-strings) column, nulls as NaN."""
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype=float, na_value=np.nan)


def category_labels(series: pd.Series) -> pd.Series:
    """A column as text labels (mixed types become their text), nulls kept as nulls."""
    if isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype)):
        return series
    return series.astype("string")


def finite_part(sorted_values: np.ndarray) -> tuple[np.ndarray, int]:
    """The finite values of a sorted, NaN-free array (a view) and how many ±inf were cut off."""
    if sorted_values.size == 0 or (np.isfinite(sorted_values[0]) and np.isfinite(sorted_values[-1])):
        return sorted_values, 0
    lo = int(np.searchsorted(sorted_values, -np.inf, side="right"))
    hi = int(np.searchsorted(sorted_values, np.inf, side="left"))
    return sorted_values[lo:hi], lo + sorted_values.size - hi


def profile_sorted(name: str, kind: str, dtype: str, sorted_values: np.ndarray, n_null: int,
                   n_non_finite: int = 0) -> ColumnProfile:
    """Profile of a numeric column from its sorted, finite values (nulls and ±inf counted apart)."""
    n = sorted_values.size + n_null + n_non_finite
    if sorted_values.size == 0:
        return ColumnProfile(name, EMPTY, dtype, n, n_null, n_non_finite=n_non_finite)
    q25, med, q75 = stattests.sorted_quantiles(sorted_values, [0.25, 0.5, 0.75])
    size = sorted_values.size
    mean = float(sorted_values.sum()) / size
    var = float(inner(sorted_values, sorted_values)) / size - mean * mean  # one pass, no temporary array
    if var < 1e-6 * mean * mean:  # the subtraction may have cancelled: take the two-pass value
        centred = sorted_values - mean
        var = float(inner(centred, centred)) / size
    std = math.sqrt(max(var, 0.0))
    distinct_next = sorted_values[1:] != sorted_values[:-1]
    if distinct_next.all():  # no ties
        top_value, top_share, n_unique = float(sorted_values[0]), 1.0 / size, size
    else:
        bounds = np.concatenate([[0], np.flatnonzero(distinct_next) + 1, [size]])
        runs = np.diff(bounds)
        top = int(np.argmax(runs))
        top_value, top_share, n_unique = float(sorted_values[bounds[top]]), float(runs[top] / size), int(runs.size)
    return ColumnProfile(
        name, kind, dtype, n, n_null,
        minimum=float(sorted_values[0]), maximum=float(sorted_values[-1]),
        q25=float(q25), median=float(med), q75=float(q75), mean=mean, std=std,
        top_value=top_value, top_share=top_share, n_unique=n_unique, n_non_finite=n_non_finite,
    )


def profile_counts(name: str, dtype: str, counts: pd.Series, n: int, n_null: int) -> ColumnProfile:
    """Profile of a categorical column from its value counts (nulls excluded)."""
    if counts.sum() == 0:
        return ColumnProfile(name, EMPTY, dtype, n, n_null)
    counts = counts.sort_values(ascending=False)
    top = counts.index[0]
    return ColumnProfile(
        name, CATEGORICAL, dtype, n, n_null, top_value=str(top),
        top_share=float(counts.iloc[0] / counts.sum()), n_unique=int(counts.size),
        counts={str(k): int(v) for k, v in counts.head(MAX_CATEGORIES).items()},
    )


def profile_column(series: pd.Series, kind: str | None = None) -> ColumnProfile:
    """Profile one column (its kind detected unless given)."""
    kind = kind or column_kind(series)
    n_null = int(series.isna().sum())
    dtype = str(series.dtype)
    if kind in (NUMERIC, NUMERIC_STRING):
        values, n_inf = finite_part(np.sort(numeric_values(series)))
        return profile_sorted(str(series.name), kind, dtype, values, len(series) - values.size - n_inf, n_inf)
    if kind == DATETIME:
        ints = series.dropna().astype("int64").to_numpy(dtype=float)
        return profile_sorted(str(series.name), DATETIME, dtype, np.sort(ints), n_null)
    if kind == EMPTY:
        return ColumnProfile(str(series.name), EMPTY, dtype, len(series), n_null)
    counts = category_labels(series).value_counts(dropna=True)
    return profile_counts(str(series.name), dtype, counts, len(series), n_null)


def profile_frame(frame: pd.DataFrame) -> dict[str, ColumnProfile]:
    return {str(c): profile_column(frame[c]) for c in frame.columns}


# ---------------------------------------------------------------- findings

def _tokens(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t}


def name_similarity(a: str, b: str) -> float:
    """Similarity of two column names in [0, 1]: token overlap or character similarity."""
    ta, tb = _tokens(a), _tokens(b)
    jaccard = len(ta & tb) / len(ta | tb) if ta | tb else 0.0
    chars = difflib.SequenceMatcher(None, "".join(sorted(ta)), "".join(sorted(tb))).ratio()
    plain = difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()
    return max(jaccard, chars * 0.75, plain * 0.75)


def _distribution_similarity(ref: pd.Series, cur: pd.Series, ref_kind: str, cur_kind: str) -> float:
    numeric = (NUMERIC, NUMERIC_STRING)
    if ref_kind in numeric and cur_kind in numeric:
        a, b = np.sort(numeric_values(ref)), np.sort(numeric_values(cur))
        if a.size == 0 or b.size == 0:
            return 0.0
        return 1.0 - stattests.ks_statistic(stattests.merge_sorted(a, b))
    if ref_kind == CATEGORICAL and cur_kind == CATEGORICAL:
        ca = category_labels(ref).value_counts()
        cb = category_labels(cur).value_counts()
        idx = ca.index.union(cb.index)
        return 1.0 - stattests.jensen_shannon(ca.reindex(idx, fill_value=0).to_numpy(),
                                              cb.reindex(idx, fill_value=0).to_numpy())
    return 0.0


def _renames(reference: pd.DataFrame, current: pd.DataFrame, removed: list[str], added: list[str],
             ref_p: dict[str, ColumnProfile], cur_p: dict[str, ColumnProfile]) -> list[SchemaFinding]:
    candidates = []
    for r in removed:
        for a in added:
            name_sim = name_similarity(r, a)
            dist_sim = _distribution_similarity(reference[r], current[a], ref_p[r].kind, cur_p[a].kind)
            score = 0.5 * name_sim + 0.5 * dist_sim
            if score >= 0.6 and (name_sim >= 0.5 or dist_sim >= 0.9):
                candidates.append((score, r, a, name_sim, dist_sim))
    out, used = [], set()
    for score, r, a, name_sim, dist_sim in sorted(candidates, reverse=True):
        if r in used or a in used:
            continue
        used.update((r, a))
        out.append(SchemaFinding(
            "renamed_column", (r, a), 0.85 + 0.1 * min(score, 1.0) - 0.05,
            f"Column '{r}' was probably renamed to '{a}' (name similarity {name_sim:.2f}, "
            f"distribution similarity {dist_sim:.2f}).",
            {"from": r, "to": a, "name_similarity": round(name_sim, 3),
             "distribution_similarity": round(dist_sim, 3), "confidence": round(score, 3)},
        ))
    return out


def _scale_change(col: str, r: ColumnProfile, c: ColumnProfile) -> SchemaFinding | None:
    logs = []
    if r.median and c.median and (r.median > 0) == (c.median > 0):
        logs.append(math.log10(abs(c.median / r.median)))
    if r.iqr and c.iqr and r.iqr > 0 and c.iqr > 0:
        logs.append(math.log10(c.iqr / r.iqr))
    if not logs or max(logs) - min(logs) > 0.15:
        return None
    level = sum(logs) / len(logs)
    power = round(level)
    if power == 0 or abs(level - power) > 0.15:
        return None
    factor = 10.0 ** power
    measured = 10.0 ** level
    return SchemaFinding(
        "scale_change", (col,), 0.9,
        f"Column '{col}' changed scale by ×{factor:g} (measured ×{measured:.3g}: median "
        f"{r.median:.4g} → {c.median:.4g}, IQR {r.iqr:.4g} → {c.iqr:.4g}); probably a unit change.",
        {"factor": factor, "measured_factor": measured, "median_reference": r.median,
         "median_current": c.median, "iqr_reference": r.iqr, "iqr_current": c.iqr},
    )


def outside_counts(cur_sorted: np.ndarray, ref_min: float, ref_max: float) -> tuple[int, int]:
    """How many sorted current values lie below ``ref_min`` and above ``ref_max``."""
    below = int(np.searchsorted(cur_sorted, ref_min, side="left"))
    above = int(cur_sorted.size - np.searchsorted(cur_sorted, ref_max, side="right"))
    return below, above


TRANSFORMS = (
    ("log1p", "a log1p transform was dropped (current ≈ expm1(reference))", np.log1p),
    ("expm1", "a log1p transform was added (current ≈ log1p(reference))", np.expm1),
    ("log", "a log transform was dropped (current ≈ exp(reference))", np.log),
    ("exp", "a log transform was added (current ≈ log(reference))", np.exp),
)


def _range_shift(col: str, r: ColumnProfile, c: ColumnProfile) -> SchemaFinding | None:
    """The middle halves of the two samples do not overlap: a transform or unit changed upstream."""
    if None in (r.q25, r.q75, c.q25, c.q75) or not (c.q25 > r.q75 or c.q75 < r.q25):
        return None
    ref_q = np.array([r.q25, r.median, r.q75])
    cur_q = np.array([c.q25, c.median, c.q75])
    details: dict[str, Any] = {"reference_iqr": [r.q25, r.q75], "current_iqr": [c.q25, c.q75],
                               "median_reference": r.median, "median_current": c.median}
    with np.errstate(all="ignore"):
        for name, text, fn in TRANSFORMS:
            mapped = fn(cur_q)
            if np.all(np.isfinite(mapped)) and np.allclose(mapped, ref_q, rtol=0.05, atol=1e-9):
                details["transform"] = name
                return SchemaFinding(
                    "transform_change", (col,), 0.88,
                    f"Column '{col}' looks transformed: {text}; median {r.median:.4g} → {c.median:.4g}.", details)
    return SchemaFinding(
        "range_shift", (col,), 0.72,
        f"The middle half of current '{col}' values [{c.q25:.4g}, {c.q75:.4g}] does not overlap the reference's "
        f"[{r.q25:.4g}, {r.q75:.4g}]: a transform, unit or source changed upstream.", details)


def _out_of_range(col: str, r: ColumnProfile, c: ColumnProfile, below: int, above: int) -> SchemaFinding | None:
    valid = c.n - c.n_null
    if valid == 0 or r.minimum is None or c.minimum is None:
        return None
    share = (below + above) / valid
    if share < 0.01:
        return None
    return SchemaFinding(
        "out_of_range", (col,), 0.35 + 0.4 * min(share / 0.5, 1.0),
        f"{share:.1%} of current '{col}' values lie outside the reference range "
        f"[{r.minimum:.4g}, {r.maximum:.4g}] ({below} below, {above} above).",
        {"share": share, "below": below, "above": above, "reference_min": r.minimum,
         "reference_max": r.maximum, "current_min": c.minimum, "current_max": c.maximum},
    )


def _collapsed(col: str, r: ColumnProfile, c: ColumnProfile, is_prediction: bool) -> SchemaFinding | None:
    if c.top_share is None or r.top_share is None or c.n - c.n_null < 20:
        return None
    if c.top_share < 0.9 or r.top_share > 0.5 or c.top_share - r.top_share < 0.4:
        return None
    value = c.top_value
    if c.kind == DATETIME and isinstance(value, float):
        value = pd.Timestamp(int(value), tz="UTC").isoformat()
    shown = f"{value:.4g}" if isinstance(value, float) else repr(value)
    what = "prediction" if is_prediction else "column"
    constant = "a constant" if c.top_share >= 0.999 else "a single value"
    return SchemaFinding(
        "collapsed", (col,), 0.95 if is_prediction else 0.85,
        f"The {what} '{col}' collapsed to {constant} {shown} ({c.top_share:.1%} of current rows, "
        f"{r.top_share:.1%} of reference rows): a default or stale value is being served.",
        {"value": value, "share_current": c.top_share, "share_reference": r.top_share,
         "unique_reference": r.n_unique, "unique_current": c.n_unique,
         "prediction": is_prediction},
    )


def _null_jump(col: str, r: ColumnProfile, c: ColumnProfile) -> SchemaFinding | None:
    a, b = r.null_rate, c.null_rate
    delta = b - a
    if abs(delta) < 0.05 or (a > 0 and 0.5 < b / a < 2):
        return None
    return SchemaFinding(
        "null_jump", (col,), 0.5 + 0.4 * min(abs(delta) / 0.5, 1.0),
        f"Null rate of '{col}' went from {a:.1%} to {b:.1%}.",
        {"null_rate_reference": a, "null_rate_current": b, "n_null_reference": r.n_null,
         "n_null_current": c.n_null},
    )


def _non_finite(col: str, r: ColumnProfile, c: ColumnProfile) -> SchemaFinding | None:
    a, b = r.non_finite_rate, c.non_finite_rate
    if b - a < 0.001 or (a > 0 and b / a < 2):
        return None
    return SchemaFinding(
        "non_finite", (col,), 0.6 + 0.3 * min((b - a) / 0.2, 1.0),
        f"'{col}' has {b:.2%} infinite values in the current data ({a:.2%} in the reference): "
        "a division by zero or an overflow upstream. They are left out of the drift statistics.",
        {"non_finite_rate_reference": a, "non_finite_rate_current": b,
         "n_non_finite_reference": r.n_non_finite, "n_non_finite_current": c.n_non_finite},
    )


def _categories(col: str, r: ColumnProfile, c: ColumnProfile) -> list[SchemaFinding]:
    if r.kind != CATEGORICAL or c.kind != CATEGORICAL:
        return []
    if max(r.n_unique, c.n_unique) > MAX_CATEGORIES or r.n_unique > 0.5 * (r.n - r.n_null):
        return []  # identifier-like column: new values are expected
    out = []
    rt, ct = sum(r.counts.values()) or 1, sum(c.counts.values()) or 1
    new = {k: v / ct for k, v in c.counts.items() if k not in r.counts and v / ct >= 0.001}
    gone = {k: v / rt for k, v in r.counts.items() if k not in c.counts and v / rt >= 0.01}
    if new:
        share = sum(new.values())
        out.append(SchemaFinding(
            "new_categories", (col,), 0.45 + 0.4 * min(share / 0.5, 1.0),
            f"'{col}' has {len(new)} new value(s) covering {share:.1%} of current rows: "
            + ", ".join(repr(k) for k in sorted(new, key=new.get, reverse=True)[:5]),
            {"values": {k: round(v, 5) for k, v in sorted(new.items(), key=lambda kv: -kv[1])[:20]},
             "share": share},
        ))
    if gone:
        share = sum(gone.values())
        out.append(SchemaFinding(
            "vanished_categories", (col,), 0.45 + 0.4 * min(share / 0.5, 1.0),
            f"'{col}' lost {len(gone)} value(s) that covered {share:.1%} of reference rows: "
            + ", ".join(repr(k) for k in sorted(gone, key=gone.get, reverse=True)[:5]),
            {"values": {k: round(v, 5) for k, v in sorted(gone.items(), key=lambda kv: -kv[1])[:20]},
             "share": share},
        ))
    return out


def _type_change(col: str, r: ColumnProfile, c: ColumnProfile) -> SchemaFinding | None:
    if EMPTY in (r.kind, c.kind):
        return None
    if r.kind != c.kind:
        if r.kind == NUMERIC and c.kind == NUMERIC_STRING:
            msg = f"Column '{col}' now arrives as text holding numbers ({r.dtype} → {c.dtype})."
        else:
            msg = f"Column '{col}' changed type: {r.kind} ({r.dtype}) → {c.kind} ({c.dtype})."
        return SchemaFinding("type_change", (col,), 0.9, msg,
                             {"reference": {"kind": r.kind, "dtype": r.dtype},
                              "current": {"kind": c.kind, "dtype": c.dtype}})
    if r.dtype != c.dtype:
        return SchemaFinding("dtype_change", (col,), 0.2,
                             f"Column '{col}' storage type changed {r.dtype} → {c.dtype}.",
                             {"reference": r.dtype, "current": c.dtype})
    return None


def diff_schema(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    reference_profiles: dict[str, ColumnProfile] | None = None,
    current_profiles: dict[str, ColumnProfile] | None = None,
    outside: dict[str, tuple[int, int]] | None = None,
    prediction: str | None = None,
    positional: bool = False,
    exclude: tuple[str, ...] = (),
) -> list[SchemaFinding]:
    """Compare the schema and content shape of two frames.

    Args:
        reference: the baseline frame.
        current: the frame under suspicion.
        reference_profiles: precomputed profiles (computed here when missing).
        current_profiles: precomputed profiles of ``current``.
        outside: per current column, the counts of values below and above the reference range
            (computed here when missing).
        prediction: name of the prediction column; its collapse ranks highest.
        positional: the consumer reads columns by position, so an order change is severe.
        exclude: columns left out (e.g. the timestamp used to split).

    Returns:
        Findings ranked by severity score, highest first.
    """
    ref_cols = [str(c) for c in reference.columns if str(c) not in exclude]
    cur_cols = [str(c) for c in current.columns if str(c) not in exclude]
    ref_p = dict(reference_profiles or {})
    cur_p = dict(current_profiles or {})
    for c in ref_cols:
        if c not in ref_p:
            ref_p[c] = profile_column(reference[c])
    for c in cur_cols:
        if c not in cur_p:
            cur_p[c] = profile_column(current[c])
    cur_set, ref_set = set(cur_cols), set(ref_cols)
    removed = [c for c in ref_cols if c not in cur_set]
    added = [c for c in cur_cols if c not in ref_set]
    findings = _renames(reference, current, removed, added, ref_p, cur_p)
    paired = {col for f in findings for col in f.columns}
    for c in removed:
        if c not in paired:
            findings.append(SchemaFinding("removed_column", (c,), 0.8,
                                          f"Column '{c}' is missing from the current data.",
                                          {"kind": ref_p[c].kind, "dtype": ref_p[c].dtype}))
    for c in added:
        if c not in paired:
            findings.append(SchemaFinding("added_column", (c,), 0.5,
                                          f"Column '{c}' is new in the current data.",
                                          {"kind": cur_p[c].kind, "dtype": cur_p[c].dtype}))
    pairs = [(c, c) for c in ref_cols if c in cur_set]
    pairs += [(f.details["from"], f.details["to"]) for f in findings if f.kind == "renamed_column"]
    for rc, cc in pairs:
        r, c = ref_p[rc], cur_p[cc]
        label = cc if rc == cc else f"{rc} → {cc}"
        for finding in (_type_change(label, r, c), _null_jump(label, r, c), _non_finite(label, r, c),
                        _collapsed(label, r, c, cc == prediction)):
            if finding is not None:
                findings.append(_with_columns(finding, rc, cc))
        findings.extend(_with_columns(f, rc, cc) for f in _categories(label, r, c))
        if r.kind == NUMERIC and c.kind in (NUMERIC, NUMERIC_STRING):
            scale = _scale_change(label, r, c) or _range_shift(label, r, c)
            if scale is not None:
                findings.append(_with_columns(scale, rc, cc))
                continue  # values out of range follow from the scale or transform change
            counts = (outside or {}).get(cc)
            if counts is None and r.minimum is not None:
                counts = outside_counts(np.sort(numeric_values(current[cc])), r.minimum, r.maximum)
            oor = _out_of_range(label, r, c, *counts) if counts is not None else None
            if oor is not None:
                findings.append(_with_columns(oor, rc, cc))
    common_ref = [c for c in ref_cols if c in cur_set]
    common_cur = [c for c in cur_cols if c in ref_set]
    if common_ref != common_cur:
        moved = [c for i, c in enumerate(common_cur) if common_ref[i] != c]
        findings.append(SchemaFinding(
            "column_order", tuple(moved), 0.7 if positional else 0.25,
            f"Column order changed for {len(moved)} column(s)"
            + (" and the consumer reads columns by position." if positional else
               " (harmless unless a consumer reads columns by position)."),
            {"reference_order": common_ref, "current_order": common_cur, "positional": positional},
        ))
    return sorted(findings, key=lambda f: (-f.score, f.columns))


def _with_columns(finding: SchemaFinding, rc: str, cc: str) -> SchemaFinding:
    cols = (cc,) if rc == cc else (rc, cc)
    return SchemaFinding(finding.kind, cols, finding.score, finding.message, finding.details)
