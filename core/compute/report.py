"""The drift report from an engine's summaries: the same tests, findings and JSON as in-process.

``compare_windows(reference, current, options)`` asks each :class:`~core.compute.protocol.Window`
for its column statistics (pass one), builds one edge grid per numeric column from both sides'
quantile sketches, asks for exact counts at those edges (pass two) and a few thousand sample rows,
then runs the report's own steps: per-column tests (with the KS and Wasserstein intervals of
:mod:`core.compute.grid`), Benjamini–Hochberg, the schema diff over the engine's profiles and the
domain classifier over the sample.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from core.analysis import drift as dr
from core.analysis import schema as sch
from core.analysis import stattests as st
from core.compute import grid
from core.compute.protocol import ColumnStats, DriftOptions, SchemaMismatchError, Window
from core.errors import InvalidInputError

TOP_CATEGORIES = 1000  # categories brought back per column and side (as the schema profile keeps)
ProgressFn = Callable[[float, str], None]


def _quantile(stats: ColumnStats, probs: np.ndarray, p: float) -> float | None:
    if stats.quantiles is None:
        return None
    return float(stats.quantiles[int(np.argmin(np.abs(probs - p)))])


def _profile(stats: ColumnStats, probs: np.ndarray, kind: str | None = None) -> sch.ColumnProfile:
    kind = kind or stats.kind
    if stats.n - stats.n_null - stats.n_non_finite <= 0:
        return sch.ColumnProfile(stats.name, sch.EMPTY, stats.dtype, stats.n, stats.n_null,
                                 n_non_finite=stats.n_non_finite)
    if stats.counts is not None:
        counts = pd.Series(stats.counts, dtype="int64")
        prof = sch.profile_counts(stats.name, stats.dtype, counts, stats.n, stats.n_null)
        return sch.ColumnProfile(**{**prof.__dict__, "kind": kind if kind != sch.EMPTY else prof.kind,
                                    "n_unique": max(prof.n_unique, stats.n_unique)})
    if stats.quantiles is None:  # identifier-like text: only its distinct count came back
        return sch.ColumnProfile(stats.name, kind, stats.dtype, stats.n, stats.n_null, n_unique=stats.n_unique)
    return sch.ColumnProfile(
        stats.name, kind, stats.dtype, stats.n, stats.n_null, minimum=stats.minimum, maximum=stats.maximum,
        q25=_quantile(stats, probs, 0.25), median=_quantile(stats, probs, 0.5), q75=_quantile(stats, probs, 0.75),
        mean=stats.mean, std=stats.std, n_unique=stats.n_unique, n_non_finite=stats.n_non_finite,
    )


def _stats_kinds(ref_cols: dict[str, tuple[str, str]], cur_cols: dict[str, tuple[str, str]]) -> tuple[dict, dict]:
    """What each side is summarised as: a column whose kind differs between sides is counted as text."""
    numeric = (sch.NUMERIC, sch.DATETIME)
    rk = {c: k for c, (k, _d) in ref_cols.items()}
    ck = {c: k for c, (k, _d) in cur_cols.items()}
    for c in set(rk) & set(ck):
        if rk[c] != ck[c] and (rk[c] in numeric or ck[c] in numeric):
            rk[c] = ck[c] = sch.CATEGORICAL
    return rk, ck


def _check_rows(n: int, which: str) -> None:
    if n < 2:
        raise InvalidInputError(
            f"the {which} data has {n} row(s); drift needs at least 2 rows on each side — "
            "pick a wider window, another split time or a larger table"
        )


def _numeric_partial(col: str, cur_col: str, rs: ColumnStats, cs: ColumnStats, rh: grid.Histogram,
                     ch: grid.Histogram, rp: sch.ColumnProfile, cp: sch.ColumnProfile, ctype: str, role: str,
                     thr: dict[str, float], probs: np.ndarray) -> dr._Partial:
    ks = grid.ks_bounds(rh, ch)
    w = grid.wasserstein_bounds(rh, ch, rs.mean or 0.0, cs.mean or 0.0)
    scale = rp.std if rp.std else (abs(rp.mean) if rp.mean else 1.0)
    cuts = grid.decile_cuts(rs.quantiles, probs, rh.edges)
    psi = st.psi(np.append(grid.bin_counts_at(rh, cuts), [rs.n_null, rs.n_non_finite]),
                 np.append(grid.bin_counts_at(ch, cuts), [cs.n_null, cs.n_non_finite]))
    p = st.ks_pvalue(ks.value, rh.n, ch.n)
    p_range = (st.ks_pvalue(ks.high, rh.n, ch.n), st.ks_pvalue(ks.low, rh.n, ch.n))
    wl, wv, wh = w.low / scale, w.value / scale, w.high / scale
    tests = {
        "wasserstein": dr.TestResult("wasserstein", wv, thr["wasserstein"], wv > thr["wasserstein"],
                                     low=wl, high=wh),
        "psi": dr.TestResult("psi", psi, thr["psi"], psi > thr["psi"]),
        "ks": dr.TestResult("ks", ks.value, thr["ks"], False, p_value=p, low=ks.low, high=ks.high,
                            p_range=p_range),
    }
    score = max(wv / thr["wasserstein"] if thr["wasserstein"] else 0.0, psi / thr["psi"] if thr["psi"] else 0.0)
    drift = dr.ColumnDrift(col, "numeric" if ctype == "numeric" else "datetime", role, rs.n, cs.n, rs.n_null,
                           cs.n_null, tests, False, score, cur_col if cur_col != col else None,
                           non_finite_reference=rs.n_non_finite, non_finite_current=cs.n_non_finite)
    return dr._Partial(drift, rp, cp, (ch.below, ch.above) if ctype == "numeric" else None, "ks")


def _with_top(profile: sch.ColumnProfile, h: grid.Histogram) -> sch.ColumnProfile:
    value, share = grid.top_value(h)
    return sch.ColumnProfile(**{**profile.__dict__, "top_value": value, "top_share": share})


def _identifier(stats: ColumnStats) -> bool:
    nonnull = stats.n - stats.n_null
    return nonnull >= 50 and stats.n_unique > dr.IDENTIFIER_SHARE * nonnull


def compare_windows(
    reference: Window,
    current: Window,
    options: DriftOptions,
    *,
    engine: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> dr.DriftReport:
    """The drift report of ``current`` against ``reference``, computed by their engine.

    Raises:
        SchemaMismatchError: the two windows share no column.
        InvalidInputError: a side has fewer than 2 rows; an unknown threshold.
    """
    say = progress or (lambda _f, _m: None)
    started = time.perf_counter()
    thr = st.resolve_thresholds(options.thresholds)
    skip = set(options.exclude)
    ref_cols = {c: v for c, v in reference.columns().items() if c not in skip}
    cur_cols = {c: v for c, v in current.columns().items() if c not in skip}
    common = [c for c in ref_cols if c in cur_cols]
    if not common:
        raise SchemaMismatchError(
            f"the reference ({reference.label}) and current ({current.label}) share no column "
            f"(reference: {', '.join(list(ref_cols)[:8]) or 'none'}; current: {', '.join(list(cur_cols)[:8]) or 'none'}); "
            "point both at the same table, or check the paths"
        )
    probs = grid.probabilities()
    rkinds, ckinds = _stats_kinds(ref_cols, cur_cols)
    say(0.05, "Summarising the reference")
    n_ref, rstats = reference.stats(rkinds, probs, TOP_CATEGORIES)
    _check_rows(n_ref, f"reference ({reference.label})")
    say(0.3, "Summarising the current")
    n_cur, cstats = current.stats(ckinds, probs, TOP_CATEGORIES)
    _check_rows(n_cur, f"current ({current.label})")
    ref_prof = {c: _profile(s, probs, ref_cols[c][0]) for c, s in rstats.items()}
    cur_prof = {c: _profile(s, probs, cur_cols[c][0]) for c, s in cstats.items()}
    removed = [c for c in ref_cols if c not in cur_cols]
    added = [c for c in cur_cols if c not in ref_cols]
    need_sample = options.multivariate or (removed and added)
    say(0.55, "Sampling rows for the joint check")
    rsample = reference.sample(dr.DOMAIN_SAMPLE, options.seed) if need_sample else pd.DataFrame(columns=list(ref_cols))
    csample = current.sample(dr.DOMAIN_SAMPLE, options.seed + 1) if need_sample else pd.DataFrame(columns=list(cur_cols))
    rsample = rsample[[c for c in rsample.columns if c in ref_cols or c in skip]]
    csample = csample[[c for c in csample.columns if c in cur_cols or c in skip]]
    pairs = [(c, c) for c in common]
    if removed and added:
        first = sch.diff_schema(rsample, csample, reference_profiles=ref_prof, current_profiles=cur_prof,
                                outside={c: (0, 0) for c in cur_cols}, exclude=tuple(skip))
        pairs += [(f.details["from"], f.details["to"]) for f in first if f.kind == "renamed_column"]

    numeric_pairs = []
    for r, c in pairs:
        rs, cs = rstats[r], cstats[c]
        if (rs.kind in (sch.NUMERIC, sch.DATETIME) and rs.kind == cs.kind and rs.quantiles is not None
                and cs.quantiles is not None and ref_prof[r].kind != sch.EMPTY and cur_prof[c].kind != sch.EMPTY):
            numeric_pairs.append((r, c))
    redges, cedges, ranges = {}, {}, {}
    for r, c in numeric_pairs:
        rs, cs = rstats[r], cstats[c]
        lo, hi = min(rs.minimum, cs.minimum), max(rs.maximum, cs.maximum)
        edges = grid.edges_for(rs.quantiles, cs.quantiles, lo, hi)
        ends = np.array([rs.minimum, np.nextafter(rs.maximum, np.inf)])  # so either convention counts values
        edges = np.unique(np.concatenate([edges, ends[ends <= hi]]))     # outside the reference range exactly
        redges[r], cedges[c] = edges, edges
        ranges[c] = (rs.minimum, rs.maximum)
    say(0.65, "Counting values on the grid")
    rh = reference.histograms(redges, {}) if redges else {}
    ch = current.histograms(cedges, ranges) if cedges else {}

    def role(col: str) -> str:
        return "prediction" if col == options.prediction else "label" if col == options.label else "feature"

    parts: dict[tuple[str, str], dr._Partial] = {}
    for r, c in pairs:
        rs, cs = rstats[r], cstats[c]
        rp, cp = ref_prof[r], cur_prof[c]
        if (r, c) in numeric_pairs:
            rp, cp = _with_top(rp, rh[r]), _with_top(cp, ch[c])
            ref_prof[r], cur_prof[c] = rp, cp
            ctype = "numeric" if rs.kind == sch.NUMERIC else "datetime"
            parts[(r, c)] = _numeric_partial(r, c, rs, cs, rh[r], ch[c], rp, cp, ctype, role(r), thr, probs)
        elif sch.EMPTY in (rp.kind, cp.kind):
            side = "reference and current" if rp.kind == cp.kind == sch.EMPTY else (
                "reference" if rp.kind == sch.EMPTY else "current")
            drift = dr.ColumnDrift(r, "empty", role(r), rs.n, cs.n, rs.n_null, cs.n_null, {}, False, 0.0,
                                   c if c != r else None, note=f"all values are null in the {side} data")
            parts[(r, c)] = dr._Partial(drift, rp, cp, None, None)
        else:
            rc = pd.Series(rs.counts or {}, dtype="int64")
            cc = pd.Series(cs.counts or {}, dtype="int64")
            parts[(r, c)] = dr.categorical_partial(
                r, c, rc, cc, rp, cp, role(r), thr,
                identifier=(rs.counts is None or _identifier(rs)) and (cs.counts is None or _identifier(cs)))
    say(0.85, "Diffing the schema")
    outside = {c: p.outside for (_r, c), p in parts.items() if p.outside is not None}
    findings = sch.diff_schema(rsample, csample, reference_profiles=ref_prof, current_profiles=cur_prof,
                               outside=outside, prediction=options.prediction, positional=options.positional,
                               exclude=tuple(skip))
    keys = list(parts)
    p_keys = [k for k in keys if parts[k].p_value_test is not None]
    adjusted = st.benjamini_hochberg([parts[k].drift.tests[parts[k].p_value_test].p_value for k in p_keys])
    adj = dict(zip(p_keys, adjusted))
    columns = tuple(dr._finish(parts[k], adj.get(k), thr) for k in keys)
    mv = None
    if options.multivariate and len(rsample) and len(csample):
        say(0.9, "Training the domain classifier")
        feats = [(k[0], k[1], parts[k].drift.type) for k in keys if parts[k].drift.role == "feature"
                 and k[0] in rsample.columns and k[1] in csample.columns]
        mv = dr.domain_classifier(rsample, csample, feats, seed=options.seed)
    ks_bounds = [t.error_bound for col in columns for n, t in col.tests.items()
                 if n == "ks" and t.error_bound is not None]
    info = dict(engine or {})
    info.update({
        "exact": False,
        "grid_points": grid.GRID_POINTS,
        "ks_error_bound": max(ks_bounds) if ks_bounds else 0.0,
        "uncertain_columns": [col.label for col in columns if col.uncertain],
        "seconds": round(time.perf_counter() - started, 3),
    })
    say(1.0, "Done")
    return dr.DriftReport(n_ref, n_cur, columns, tuple(findings), mv, thr, engine=info,
                          profiles={"reference": ref_prof, "current": cur_prof})

