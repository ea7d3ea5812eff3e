"""Drift between a reference and a current frame: schema findings, per-column drift, a joint check.

``compare_distributions`` sorts each side of a numeric column once and derives
everything from the two sorted samples (±inf values are counted apart, like nulls):
the KS statistic (equal to ``scipy.stats.ks_2samp``), the normalised Wasserstein
distance, PSI over reference deciles plus a null bin and a ±inf bin, and the robust
profile the schema diff uses (medians, IQR, range, top value).
Categorical columns are compared on their value counts with nulls as a category
(chi-square, Jensen–Shannon distance, PSI). Effect sizes lead; p-values follow,
corrected across columns with Benjamini–Hochberg. A domain classifier trained on
a capped sample says whether the joint distribution moved.

A column is drifted when an effect size passes its threshold and its test is
significant after correction, or when its null rate (or its share of ±inf values)
jumps by 5 points or more.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from core.analysis import domain
from core.analysis import schema as sch
from core.analysis import stattests as st
from core.errors import InvalidInputError

NULL_JUMP = 0.05  # absolute change of null rate that counts as drift on its own
MAX_CATEGORIES = 200  # beyond this, rarer categories are pooled into "(other)"
IDENTIFIER_SHARE = 0.5  # a text column with more distinct values than this share of rows is an identifier
NULL_LABEL = "(null)"
OTHER_LABEL = "(other)"
DOMAIN_AUC_THRESHOLD = 0.55
DOMAIN_SAMPLE = 3_000
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class TestResult:
    """One test or effect size on one column, with the threshold actually used."""

    name: str
    statistic: float | None
    threshold: float
    drifted: bool
    p_value: float | None = None
    p_adjusted: float | None = None
    low: float | None = None  # set when the statistic comes from a sketch: it lies in [low, high]
    high: float | None = None
    p_range: tuple[float, float] | None = None  # the p-value's interval (from [low, high])
    uncertain: bool = False  # the interval straddles the threshold

    @property
    def error_bound(self) -> float | None:
        """Half-width of the statistic's interval around the figure reported (None when exact)."""
        if self.low is None or self.high is None or self.statistic is None:
            return None
        return max(self.statistic - self.low, self.high - self.statistic, 0.0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"statistic": self.statistic}
        if self.error_bound is not None:
            out["error_bound"] = self.error_bound
            out["interval"] = [self.low, self.high]
        if self.p_value is not None:
            out["p_value"] = self.p_value
            out["p_adjusted"] = self.p_adjusted
        out["threshold"] = self.threshold
        out["drifted"] = self.drifted
        if self.uncertain:
            out["uncertain"] = True
        return out


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column (``current_column`` differs from ``column`` for a renamed column)."""

    column: str
    type: str  # numeric | datetime | categorical | identifier | empty
    role: str  # feature | prediction | label
    n_reference: int
    n_current: int
    null_reference: int
    null_current: int
    tests: dict[str, TestResult]
    drifted: bool
    score: float  # strongest effect size relative to its threshold (>= 1 means over it)
    current_column: str | None = None
    note: str = ""
    non_finite_reference: int = 0  # ±inf values, left out of the statistics
    non_finite_current: int = 0
    uncertain: str = ""  # set when an error bound straddles a threshold and could flip ``drifted``

    @property
    def null_rate_reference(self) -> float:
        return self.null_reference / self.n_reference if self.n_reference else 0.0

    @property
    def null_rate_current(self) -> float:
        return self.null_current / self.n_current if self.n_current else 0.0

    @property
    def non_finite_rate_reference(self) -> float:
        return self.non_finite_reference / self.n_reference if self.n_reference else 0.0

    @property
    def non_finite_rate_current(self) -> float:
        return self.non_finite_current / self.n_current if self.n_current else 0.0

    @property
    def label(self) -> str:
        cur = self.current_column
        return self.column if not cur or cur == self.column else f"{self.column} → {cur}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            **({"current_column": self.current_column} if self.current_column else {}),
            "type": self.type,
            "role": self.role,
            "n": {"reference": self.n_reference - self.null_reference - self.non_finite_reference,
                  "current": self.n_current - self.null_current - self.non_finite_current},
            "tests": {name: t.to_dict() for name, t in self.tests.items()},
            "null_rate": {"reference": self.null_rate_reference, "current": self.null_rate_current},
            **({"non_finite_rate": {"reference": self.non_finite_rate_reference,
                                    "current": self.non_finite_rate_current}}
               if self.non_finite_reference or self.non_finite_current else {}),
            "drifted": self.drifted,
            **({"uncertain": self.uncertain} if self.uncertain else {}),
            "score": self.score,
            **({"note": self.note} if self.note else {}),
        }


@dataclass(frozen=True)
class MultivariateDrift:
    """Domain classifier check: can a model tell reference rows from current rows?"""

    auc: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    standard_error: float
    columns: tuple[str, ...]  # the most useful columns for telling the two apart

    def to_dict(self) -> dict[str, Any]:
        return {"method": "domain_classifier_auc", "auc": self.auc, "threshold": self.threshold,
                "drifted": self.drifted, "standard_error": self.standard_error,
                "n_reference": self.n_reference, "n_current": self.n_current,
                "top_columns": list(self.columns)}


@dataclass(frozen=True)
class DriftReport:
    """Everything compared between two frames."""

    n_reference: int
    n_current: int
    columns: tuple[ColumnDrift, ...]
    schema: tuple[sch.SchemaFinding, ...]
    multivariate: MultivariateDrift | None
    thresholds: dict[str, float]
    sampled: bool = False
    sample_rows: int | None = None
    ks_error_bound: float | None = None
    engine: dict[str, Any] | None = None  # which back-end computed the profiles (None: in-process)
    profiles: dict[str, dict[str, sch.ColumnProfile]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def drift_share(self) -> float:
        return sum(c.drifted for c in self.columns) / len(self.columns) if self.columns else 0.0

    def ranked_columns(self) -> list[ColumnDrift]:
        """Columns most drifted first (drifted before not, then by score)."""
        return sorted(self.columns, key=lambda c: (not c.drifted, -c.score, c.column))

    def column(self, name: str) -> ColumnDrift:
        for c in self.columns:
            if name in (c.column, c.current_column):
                return c
        raise InvalidInputError(f"column '{name}' was not compared; pick one of the report's columns")

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "schema": [f.to_dict() for f in self.schema],
            "columns": [c.to_dict() for c in self.ranked_columns()],
            "drift_share": self.drift_share,
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
            "thresholds": self.thresholds,
            "sampled": self.sampled,
            **({"sample_rows": self.sample_rows, "ks_error_bound": self.ks_error_bound} if self.sampled else {}),
            **({"engine": self.engine} if self.engine else {}),
        }


# ---------------------------------------------------------------- validation and sampling

def _check_frame(frame: Any, which: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"the {which} data is not a table ({type(frame).__name__})")
    if frame.shape[1] == 0:
        raise InvalidInputError(f"the {which} data has no columns; check the file's header")
    if len(frame) < 2:
        raise InvalidInputError(
            f"the {which} data has {len(frame)} row(s); drift needs at least 2 rows on each side — "
            "pick a wider window or a larger file"
        )
    names = [str(c) for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInputError(
            f"the {which} data has duplicate column names: {', '.join(dupes)}; rename them so each is unique"
        )


def _sample(frame: pd.DataFrame, max_rows: int | None, rng: np.random.Generator) -> pd.DataFrame:
    if max_rows is None or len(frame) <= max_rows:
        return frame
    idx = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[idx]


# ---------------------------------------------------------------- per column

@dataclass(frozen=True)
class _Partial:
    drift: ColumnDrift
    ref_profile: sch.ColumnProfile
    cur_profile: sch.ColumnProfile
    outside: tuple[int, int] | None
    p_value_test: str | None


NUMERIC_KINDS = (sch.NUMERIC, sch.NUMERIC_STRING)


def _comparison_type(rk: str, ck: str) -> str:
    if sch.EMPTY in (rk, ck):
        return "empty"
    if rk in NUMERIC_KINDS and ck in NUMERIC_KINDS:
        return "numeric"
    if rk == sch.DATETIME and ck == sch.DATETIME:
        return "datetime"
    return "categorical"


def _sorted_values(series: pd.Series, kind: str) -> tuple[np.ndarray, int]:
    """Sorted finite float values and the number of ±inf values (one copy, sorted in place; NaN
    sort last and ±inf sit at the ends, and both are cut off). Never sorts the frame's own memory."""
    if kind == sch.DATETIME:
        values = series.dropna().astype("int64").to_numpy(dtype=float)
    else:
        # a copy: to_numpy may hand out the frame's own memory (numpy floats, nullable Float64 without
        # nulls) or a read-only array (numbers parsed from Arrow strings)
        values = np.array(sch.numeric_values_keep_nan(series), dtype=float, copy=True)
    values.sort()  # NaN last
    return sch.finite_part(values[: int(np.searchsorted(values, np.nan, side="left"))])


def _numeric_column(col: str, cur_col: str, rs: pd.Series, cs: pd.Series, rk: str, ck: str, ctype: str,
                    role: str, thr: dict[str, float]) -> _Partial:
    a, rinf = _sorted_values(rs, rk)
    b, cinf = _sorted_values(cs, ck)
    if a.size == 0 or b.size == 0:  # e.g. text that no longer parses as numbers
        return _empty_column(col, cur_col, rs, cs, role)
    rnull, cnull = len(rs) - a.size - rinf, len(cs) - b.size - cinf
    rp = sch.profile_sorted(col, rk, str(rs.dtype), a, rnull, rinf)
    cp = sch.profile_sorted(cur_col, ck, str(cs.dtype), b, cnull, cinf)
    edges = st.quantile_edges(a)
    comparison = st.compare_sorted(a, b)
    d, w_raw = comparison.ks, comparison.wasserstein
    outside = sch.outside_counts(b, rp.minimum, rp.maximum)
    p = st.ks_pvalue(d, a.size, b.size)
    scale = rp.std if rp.std else (abs(rp.mean) if rp.mean else 1.0)
    w = w_raw / scale
    psi = st.psi(np.append(st.bin_counts(a, edges), [rnull, rinf]),  # nulls and ±inf: a bin each
                 np.append(st.bin_counts(b, edges), [cnull, cinf]))
    tests = {
        "wasserstein": TestResult("wasserstein", w, thr["wasserstein"], w > thr["wasserstein"]),
        "psi": TestResult("psi", psi, thr["psi"], psi > thr["psi"]),
        "ks": TestResult("ks", d, thr["ks"], False, p_value=p),
    }
    score = max(w / thr["wasserstein"] if thr["wasserstein"] else 0.0, psi / thr["psi"] if thr["psi"] else 0.0)
    drift = ColumnDrift(col, "numeric" if ctype == "numeric" else "datetime", role, len(rs), len(cs),
                        rnull, cnull, tests, False, score, cur_col if cur_col != col else None,
                        non_finite_reference=rinf, non_finite_current=cinf)
    return _Partial(drift, rp, cp, outside if ctype == "numeric" else None, "ks")


def _counts(series: pd.Series) -> pd.Series:
    labels = sch.category_labels(series)
    counts = labels.value_counts(dropna=True)
    counts.index = counts.index.map(str)
    return counts.groupby(level=0).sum() if counts.index.has_duplicates else counts


def _identifier_like(counts: pd.Series) -> bool:
    total = int(counts.sum())
    return total >= 50 and counts.size > IDENTIFIER_SHARE * total


def _categorical_column(col: str, cur_col: str, rs: pd.Series, cs: pd.Series, role: str,
                        thr: dict[str, float]) -> _Partial:
    rc, cc = _counts(rs), _counts(cs)
    rnull, cnull = len(rs) - int(rc.sum()), len(cs) - int(cc.sum())
    rp = sch.profile_counts(col, str(rs.dtype), rc, len(rs), rnull)
    cp = sch.profile_counts(cur_col, str(cs.dtype), cc, len(cs), cnull)
    return categorical_partial(col, cur_col, rc, cc, rp, cp, role, thr,
                               identifier=_identifier_like(rc) and _identifier_like(cc))


def categorical_partial(col: str, cur_col: str, rc: pd.Series, cc: pd.Series, rp: sch.ColumnProfile,
                        cp: sch.ColumnProfile, role: str, thr: dict[str, float], *, identifier: bool) -> _Partial:
    """A categorical column's tests from its value counts per side (nulls excluded) and profiles.

    Shared by the in-process path and the engines (which count categories where the data lives).
    """
    rnull, cnull = rp.n_null, cp.n_null
    rs_n, cs_n = rp.n, cp.n
    if identifier:
        drift = ColumnDrift(col, "identifier", role, rs_n, cs_n, rnull, cnull, {}, False, 0.0,
                            cur_col if cur_col != col else None,
                            note=f"identifier-like ({rp.n_unique} distinct values): distribution not compared")
        return _Partial(drift, rp, cp, None, None)
    both = rc.add(cc, fill_value=0).sort_values(ascending=False)
    keep = both.index[:MAX_CATEGORIES - 1] if both.size > MAX_CATEGORIES else both.index
    r = rc.reindex(keep, fill_value=0).to_numpy(dtype=float)
    c = cc.reindex(keep, fill_value=0).to_numpy(dtype=float)
    other_r, other_c = rc.sum() - r.sum(), cc.sum() - c.sum()
    r = np.append(r, [other_r, rnull])
    c = np.append(c, [other_c, cnull])
    js = st.jensen_shannon(r, c)
    psi = st.psi(r, c)
    _stat, p, _dof = st.chi2_test(r, c)
    tests = {
        "jensen_shannon": TestResult("jensen_shannon", js, thr["jensen_shannon"], js > thr["jensen_shannon"]),
        "psi": TestResult("psi", psi, thr["psi_cat"], psi > thr["psi_cat"]),
        "chi2": TestResult("chi2", _stat, thr["chi2"], False, p_value=p),
    }
    score = max(js / thr["jensen_shannon"] if thr["jensen_shannon"] else 0.0,
                psi / thr["psi_cat"] if thr["psi_cat"] else 0.0)
    drift = ColumnDrift(col, "categorical", role, rs_n, cs_n, rnull, cnull, tests, False, score,
                        cur_col if cur_col != col else None)
    return _Partial(drift, rp, cp, None, "chi2")


def _empty_column(col: str, cur_col: str, rs: pd.Series, cs: pd.Series, role: str) -> _Partial:
    rp, cp = sch.profile_column(rs), sch.profile_column(cs)
    side = "reference" if rp.kind == sch.EMPTY else "current"
    if rp.kind == sch.EMPTY and cp.kind == sch.EMPTY:
        side = "reference and current"
    drift = ColumnDrift(col, "empty", role, len(rs), len(cs), rp.n_null, cp.n_null, {}, False, 0.0,
                        cur_col if cur_col != col else None, note=f"all values are null in the {side} data")
    return _Partial(drift, rp, cp, None, None)


def _compare_column(col: str, cur_col: str, reference: pd.DataFrame, current: pd.DataFrame,
                    kinds: tuple[str, str], role: str, thr: dict[str, float]) -> _Partial:
    rs, cs = reference[col], current[cur_col]
    ctype = _comparison_type(*kinds)
    if ctype in ("numeric", "datetime"):
        return _numeric_column(col, cur_col, rs, cs, kinds[0], kinds[1], ctype, role, thr)
    if ctype == "categorical":
        return _categorical_column(col, cur_col, rs, cs, role, thr)
    return _empty_column(col, cur_col, rs, cs, role)


def _finish(part: _Partial, p_adjusted: float | None, thr: dict[str, float]) -> ColumnDrift:
    d = part.drift
    tests = dict(d.tests)
    significant = sig_low = sig_high = True  # sig_low: least significant the bounds allow
    if part.p_value_test is not None:
        t = tests[part.p_value_test]
        significant = p_adjusted is not None and p_adjusted < thr[part.p_value_test]
        sig_low = sig_high = significant
        uncertain = False
        if t.p_range is not None and p_adjusted is not None and t.p_value:
            ratio = p_adjusted / t.p_value  # Benjamini–Hochberg scales each p-value by its rank factor
            sig_high = min(t.p_range) * ratio < thr[part.p_value_test]
            sig_low = min(max(t.p_range) * ratio, 1.0) < thr[part.p_value_test]
            uncertain = sig_high != sig_low
        tests[part.p_value_test] = replace(t, drifted=significant, p_adjusted=p_adjusted, uncertain=uncertain)
    effects = [t for t in tests.values() if t.p_value is None]
    for name, t in list(tests.items()):
        if t.p_value is None and t.low is not None and t.high is not None:
            tests[name] = replace(t, uncertain=(t.low > t.threshold) != (t.high > t.threshold))
    effect = any(t.drifted for t in effects)
    effect_low = any((t.low if t.low is not None else t.statistic or 0.0) > t.threshold for t in effects)
    effect_high = any((t.high if t.high is not None else t.statistic or 0.0) > t.threshold for t in effects)
    null_jump = abs(d.null_rate_current - d.null_rate_reference) >= NULL_JUMP
    inf_jump = abs(d.non_finite_rate_current - d.non_finite_rate_reference) >= NULL_JUMP
    drifted = (effect and significant) or null_jump or inf_jump
    least = (effect_low and sig_low) or null_jump or inf_jump
    most = (effect_high and sig_high) or null_jump or inf_jump
    uncertain = ""
    if least != most:
        straddling = [f"{n} {t.statistic:.4g} ± {t.error_bound:.2g} (threshold {t.threshold:g})"
                      for n, t in tests.items() if t.uncertain and t.error_bound is not None]
        uncertain = ("the error bounds straddle the threshold, so this column may be "
                     + ("not drifted" if drifted else "drifted") + ": " + "; ".join(straddling)
                     + "; use the in-process engine on this column for the exact figure")
    return replace(d, tests=tests, drifted=drifted, uncertain=uncertain)


# ---------------------------------------------------------------- multivariate

def domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    pairs: list[tuple[str, str, str]],
    *,
    sample: int = DOMAIN_SAMPLE,
    threshold: float = DOMAIN_AUC_THRESHOLD,
    seed: int = 0,
) -> MultivariateDrift | None:
    """Held-out AUC of a classifier separating current from reference rows.

    The sample is split in halves with the same class balance: one trains gradient-boosted
    trees (:mod:`core.analysis.domain`), the other measures their AUC (0.5: the joint
    distributions are indistinguishable; 1.0: fully separated).

    Args:
        pairs: (reference column, current column, comparison type) of the columns to use.
        sample: at most this many rows per side.

    Returns:
        The result, or None when there are too few rows or no usable columns.
    """
    use = [(r, c, t) for r, c, t in pairs if t in ("numeric", "categorical")]
    if not use:
        return None
    rng = np.random.default_rng(seed)
    ref = _sample(reference, sample, rng)
    cur = _sample(current, sample, rng)
    if min(len(ref), len(cur)) < 20:
        return None
    cols = []
    for r, c, t in use:
        if t == "numeric":
            cols.append(domain.bin_numeric(np.concatenate([sch.numeric_values_keep_nan(ref[r]),
                                                           sch.numeric_values_keep_nan(cur[c])])))
        else:
            labels = pd.concat([sch.category_labels(ref[r]).astype("string"),
                                sch.category_labels(cur[c]).astype("string")], ignore_index=True)
            codes, _ = pd.factorize(labels)  # nulls get -1
            cols.append(domain.bin_categories(codes))
    x = np.column_stack(cols)
    y = np.concatenate([np.zeros(len(ref)), np.ones(len(cur))])
    fit, test = domain.stratified_halves(y, rng)
    model = domain.BoostedTrees().fit(x[fit], y[fit])
    auc = domain.roc_auc(y[test], model.decision(x[test]))
    importances = dict(zip((r for r, _c, _t in use), model.importances.tolist()))
    n1, n2 = int((y[test] == 0).sum()), int((y[test] == 1).sum())
    se = math.sqrt((n1 + n2 + 1) / (12 * n1 * n2))
    top = tuple(name for name in sorted(importances, key=importances.get, reverse=True)[:5] if importances[name] > 0)
    return MultivariateDrift(auc, threshold, auc > threshold, len(ref), len(cur), se, top)


# ---------------------------------------------------------------- the report

def compare_distributions(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    prediction: str | None = None,
    label: str | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    thresholds: dict[str, float] | None = None,
    max_rows: int | None = None,
    seed: int = 0,
    multivariate: bool = True,
    multivariate_sample: int = DOMAIN_SAMPLE,
    positional: bool = False,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> DriftReport:
    """Compare a reference and a current frame column by column, plus their schema and joint shape.

    Args:
        reference: the baseline rows.
        current: the rows under suspicion.
        prediction: the prediction column (its collapse is the top schema finding).
        label: the label column (compared like the others, with role "label").
        exclude: columns left out (such as the timestamp used to split).
        thresholds: overrides of the registered thresholds (see ``stattests.STAT_TESTS``).
        max_rows: compare a seeded uniform sample of at most this many rows per side; the
            report then carries the KS error bound (95 %, Dvoretzky–Kiefer–Wolfowitz).
        seed: seed of every sample.
        multivariate: run the domain classifier.
        multivariate_sample: rows per side for the domain classifier.
        positional: the consumer reads columns by position (a column order change is severe).
        workers: threads for the per-column work (default: up to 4, at most the CPU count).
        progress: called with (fraction done, message).

    Returns:
        The :class:`DriftReport`.

    Raises:
        InvalidInputError: a frame is empty, has one row, or has duplicate column names; a
            threshold is unknown; ``max_rows`` is below 2.
    """
    _check_frame(reference, "reference")
    _check_frame(current, "current")
    thr = st.resolve_thresholds(thresholds)
    if max_rows is not None and max_rows < 2:
        raise InvalidInputError(f"max_rows must be at least 2, got {max_rows}")
    say = progress or (lambda _f, _m: None)
    n_reference, n_current = len(reference), len(current)
    rng = np.random.default_rng(seed)
    sampled = max_rows is not None and max(n_reference, n_current) > max_rows
    reference = _sample(reference, max_rows, rng)
    current = _sample(current, max_rows, rng)
    reference = reference.set_axis([str(c) for c in reference.columns], axis=1)
    current = current.set_axis([str(c) for c in current.columns], axis=1)
    skip = set(map(str, exclude))
    ref_cols = [c for c in reference.columns if c not in skip]
    cur_cols = [c for c in current.columns if c not in skip]
    say(0.02, "Comparing columns")
    cur_set = set(cur_cols)
    common = [c for c in ref_cols if c in cur_set]
    thr_local = thr

    def role(col: str) -> str:
        return "prediction" if col == prediction else "label" if col == label else "feature"

    def work(pair: tuple[str, str]) -> _Partial:
        r, c = pair
        kinds = (sch.column_kind(reference[r]), sch.column_kind(current[c]))
        return _compare_column(r, c, reference, current, kinds, role(r), thr_local)

    parts: dict[tuple[str, str], _Partial] = {}
    n_workers = workers or max(1, min(4, os.cpu_count() or 1))  # numpy sorts release the GIL
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for i, part in enumerate(pool.map(work, [(c, c) for c in common]), 1):
            parts[(part.drift.column, part.drift.column)] = part
            say(0.05 + 0.75 * i / max(len(common), 1), f"Compared {i} of {len(common)} columns")
    say(0.82, "Diffing the schema")
    ref_prof = {r: p.ref_profile for (r, _c), p in parts.items()}
    cur_prof = {c: p.cur_profile for (_r, c), p in parts.items()}
    outside = {c: p.outside for (_r, c), p in parts.items() if p.outside is not None}
    findings = sch.diff_schema(reference, current, reference_profiles=ref_prof, current_profiles=cur_prof,
                               outside=outside, prediction=prediction, positional=positional,
                               exclude=tuple(skip))
    for f in findings:
        if f.kind == "renamed_column":
            pair = (f.details["from"], f.details["to"])
            parts[pair] = work(pair)
    keys = list(parts)
    p_keys = [k for k in keys if parts[k].p_value_test is not None]
    adjusted = st.benjamini_hochberg([parts[k].drift.tests[parts[k].p_value_test].p_value for k in p_keys])
    adj = dict(zip(p_keys, adjusted))
    columns = tuple(_finish(parts[k], adj.get(k), thr) for k in keys)
    mv = None
    if multivariate:
        say(0.88, "Training the domain classifier")
        feats = [(k[0], k[1], parts[k].drift.type) for k in keys
                 if parts[k].drift.role == "feature"]
        mv = domain_classifier(reference, current, feats, sample=multivariate_sample, seed=seed)
    say(1.0, "Done")
    bound = None
    if sampled:
        bound = st.dkw_bound(min(len(reference), n_reference), 0.025) + st.dkw_bound(min(len(current), n_current), 0.025)
    return DriftReport(
        n_reference, n_current, columns, tuple(findings), mv, thr, sampled=sampled,
        sample_rows=max_rows if sampled else None, ks_error_bound=bound,
        profiles={"reference": ref_prof, "current": cur_prof},
    )
