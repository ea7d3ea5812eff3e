"""TCPD benchmark of the default change-point detector (``core.analysis.changepoint``).

Runs :func:`find_change_points` with its defaults on every series shipped in
``../shared/benchmarks/tcpd`` and scores it exactly as TCPDBench does
(F1 with margin 5 against all annotators, and segmentation cover; see that
folder's SOURCE.md), then prints the means next to the published default scores
of ``zero``, ``binseg`` and ``pelt`` on the same series
(``../shared/benchmarks/tcpdbench/analysis/output/scores``).

Usage::

    python tests/bench/bench_changepoint.py [--method binseg|pelt] [--penalty-scale X] [--per-series]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.analysis.changepoint import (  # noqa: E402
    DEFAULT_MAX_CHANGE_POINTS,
    DEFAULT_METHOD,
    DEFAULT_PENALTY_SCALE,
    find_change_points,
)

TCPD = ROOT.parent / "shared" / "benchmarks" / "tcpd"
TCPDBENCH = ROOT.parent / "shared" / "benchmarks" / "tcpdbench"
EXCLUDED = {"uk_coal_employ", "quality_control_1", "quality_control_2", "quality_control_3",
            "quality_control_4", "quality_control_5"}  # excluded from the paper's averages
BASELINES = ("zero", "binseg", "pelt")
MARGIN = 5


def clean(cps: list[int], n_obs: int) -> list[int]:
    """TCPDBench: unique predicted indices with 1 <= x <= n_obs - 2."""
    return sorted({int(x) for x in cps if 1 <= int(x) <= n_obs - 2})


def true_positives(truth: set[int], pred: set[int], margin: int = MARGIN) -> set[int]:
    """Ground-truth points matched by a distinct prediction within ``margin`` (closest first).

    Ground-truth points are visited in Python set order, as TCPDBench does; the
    order decides ties when two points compete for one prediction.
    """
    pred = set(pred)
    tps = set()
    for tau in truth:
        close = sorted((abs(tau - x), x) for x in pred if abs(tau - x) <= margin)
        if not close:
            continue
        _, x = close[0]
        pred.discard(x)
        tps.add(tau)
    return tps


def f_measure(annotations: dict[str, list[int]], predictions: list[int], margin: int = MARGIN) -> float:
    """TCPDBench F1: precision against the union of annotators, recall averaged over annotators."""
    user_sets = []
    for v in annotations.values():
        s = set(v)
        s.add(0)
        user_sets.append(s)
    pred = set(predictions)
    pred.add(0)
    union = set()
    for s in user_sets:
        for tau in s:
            union.add(tau)
    precision = len(true_positives(union, pred, margin)) / len(pred)
    recall = float(np.mean([len(true_positives(u, pred, margin)) / len(u) for u in user_sets]))
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def partition(cps: list[int], n_obs: int) -> list[set[int]]:
    edges = [0, *sorted(set(cps) - {0}), n_obs]
    return [set(range(a, b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def covering(annotations: dict[str, list[int]], predictions: list[int], n_obs: int) -> float:
    """TCPDBench cover: mean over annotators of the covering of their partition by the prediction."""
    pred_parts = partition(predictions, n_obs)
    scores = []
    for cps in annotations.values():
        total = 0.0
        for r in partition(cps, n_obs):
            total += len(r) * max(len(r & p) / len(r | p) for p in pred_parts)
        scores.append(total / n_obs)
    return float(np.mean(scores))


def load_series(path: Path) -> tuple[np.ndarray, int]:
    data = json.loads(path.read_text())
    cols = [[np.nan if v is None else float(v) for v in s["raw"]] for s in data["series"]]
    return np.array(cols, dtype=float).T, int(data["n_obs"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default=DEFAULT_METHOD)
    ap.add_argument("--penalty-scale", type=float, default=DEFAULT_PENALTY_SCALE)
    ap.add_argument("--max-change-points", type=int, default=DEFAULT_MAX_CHANGE_POINTS)
    ap.add_argument("--per-series", action="store_true", help="print one line per series")
    args = ap.parse_args(argv)
    if not TCPD.is_dir():
        print(f"benchmark data not found at {TCPD}", file=sys.stderr)
        return 2
    annotations = json.loads((TCPD / "annotations.json").read_text())
    published = {m: json.loads((TCPDBENCH / "analysis/output/scores" / f"default_{m}_scores.json").read_text())
                 for m in ("f1", "cover")}
    rows = []
    t0 = time.perf_counter()
    for path in sorted((TCPD / "datasets").glob("*/*.json")):
        name = path.stem
        if name not in annotations:
            continue
        x, n_obs = load_series(path)
        cps = clean(list(find_change_points(x, method=args.method, penalty_scale=args.penalty_scale,
                                            max_change_points=args.max_change_points)), n_obs)
        f1 = f_measure(annotations[name], cps)
        cover = covering(annotations[name], cps, n_obs)
        ref = {m: {k: (published[k][name].get(m) or 0.0) for k in ("f1", "cover")} for m in BASELINES}
        rows.append((name, x.shape[1], f1, cover, ref, cps))
    elapsed = time.perf_counter() - t0
    if args.per_series:
        print(f"{'series':22s} {'dim':>3s} {'F1':>6s} {'cover':>6s} | {'binseg F1':>9s} {'cover':>6s}  cps")
        for name, d, f1, cover, ref, cps in rows:
            print(f"{name:22s} {d:3d} {f1:6.3f} {cover:6.3f} | {ref['binseg']['f1']:9.3f} "
                  f"{ref['binseg']['cover']:6.3f}  {cps}")
    groups = {
        "univariate (25 shipped series, paper rules)": [r for r in rows if r[1] == 1 and r[0] not in EXCLUDED],
        "multivariate (run_log)": [r for r in rows if r[1] > 1],
    }
    print(f"TCPD default experiment, method={args.method}, penalty_scale={args.penalty_scale:g}, "
          f"max_change_points={args.max_change_points}; {len(rows)} series in {elapsed:.1f}s")
    for title, sel in groups.items():
        if not sel:
            continue
        print(f"\n{title}: mean over {len(sel)} series (published failures scored 0)")
        print(f"  {'method':10s} {'cover':>7s} {'F1':>7s}   {'cover/binseg':>12s} {'F1/binseg':>10s}")
        ours_cover = float(np.mean([r[3] for r in sel]))
        ours_f1 = float(np.mean([r[2] for r in sel]))
        base = {m: (float(np.mean([r[4][m]["cover"] for r in sel])), float(np.mean([r[4][m]["f1"] for r in sel])))
                for m in BASELINES}
        bc, bf = base["binseg"]
        ratio_c = f"{ours_cover / bc:12.3f}" if bc else f"{'—':>12s}"
        ratio_f = f"{ours_f1 / bf:10.3f}" if bf else f"{'—':>10s}"
        print(f"  {'ours':10s} {ours_cover:7.3f} {ours_f1:7.3f}   {ratio_c} {ratio_f}   "
              f"(vs zero: cover {ours_cover - base['zero'][0]:+.4f}, F1 {ours_f1 - base['zero'][1]:+.4f}"
              + (f"; vs binseg: cover {ours_cover - bc:+.4f}, F1 {ours_f1 - bf:+.4f})" if bc else ")"))
        for m in BASELINES:
            c, f = base[m]
            if not any(r[4][m]["f1"] or r[4][m]["cover"] for r in sel):
                print(f"  {m:10s} {'—':>7s} {'—':>7s}   (univariate only; TCPDBench does not run it here)")
                continue
            rc = f"{c / bc:12.3f}" if bc else f"{'—':>12s}"
            rf = f"{f / bf:10.3f}" if bf else f"{'—':>10s}"
            print(f"  {m:10s} {c:7.3f} {f:7.3f}   {rc} {rf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
