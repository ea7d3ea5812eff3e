"""Benchmark: do the drift report's own ports still pay for themselves against the library calls?

Three pieces of the drift report replace a library call to avoid importing
``scipy.stats`` / scikit-learn: the Kolmogorov distribution (:mod:`core.analysis.ksdist`
vs ``scipy.stats.kstwo.sf``), the domain classifier (:mod:`core.analysis.domain` vs
``sklearn.ensemble.HistGradientBoostingClassifier`` + ``roc_auc_score``) and
Benjamini–Hochberg (``core.analysis.stattests.benjamini_hochberg`` vs
``scipy.stats.false_discovery_control``). One run measures each side by side:

* import: the extra time to import the library on top of what ``python -m core drift``
  already imports (numpy, pandas, scipy.special, ``core.analysis.drift``), median of
  fresh processes;
* compute, at the drift benchmark's sizes (``tests/bench/bench_drift.py``: 40 numeric and
  10 categorical columns; 1M rows per side gives the KS distribution n = 500,000, 100k
  rows n = 50,000; the domain classifier trains on its 3,000-row sample per side);
* agreement: the largest difference between the two results.

Usage::

    python tests/bench/bench_ports.py            # about a minute
    python tests/bench/bench_ports.py --runs 3   # fewer fresh processes for the import figures
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

BASE = "import numpy, pandas, scipy.special, core.analysis.drift"
LIBRARIES = {
    "scipy.stats": "import scipy.stats",
    "scikit-learn (HistGradientBoostingClassifier, roc_auc_score)":
        "from sklearn.ensemble import HistGradientBoostingClassifier; from sklearn.metrics import roc_auc_score",
}


def import_seconds(statement: str, runs: int) -> float:
    """Median seconds ``statement`` takes in a fresh process that has imported BASE already."""
    probe = (f"import time\n{BASE}\nt = time.perf_counter()\n{statement}\n"
             "print(time.perf_counter() - t)\n")
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def base_seconds(runs: int) -> float:
    probe = f"import time\nt = time.perf_counter()\n{BASE}\nprint(time.perf_counter() - t)\n"
    times = [float(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()) for _ in range(runs)]
    return statistics.median(times)


def _timed(fn, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def bench_ks() -> list[dict]:
    import scipy.stats

    from core.analysis.ksdist import kstwo_sf

    rows = []
    for per_side in (100_000, 1_000_000):
        n = per_side // 2  # effective n of two equal samples
        # one D in each regime a drift report meets: no drift, borderline, clear drift
        ds = [0.5 / np.sqrt(n), 1.2 / np.sqrt(n), 2.0 / np.sqrt(n), 5.0 / np.sqrt(n)]
        t_ours, ours = _timed(lambda: [kstwo_sf(float(d), n) for d in ds])
        t_scipy, lib = _timed(lambda: [float(scipy.stats.kstwo.sf(d, n)) for d in ds], repeat=1)
        rows.append({"rows per side": per_side, "n": n, "p-values": len(ds), "ours s": t_ours,
                     "scipy s": t_scipy, "max |diff|": float(np.max(np.abs(np.subtract(ours, lib))))})
    return rows


def bench_domain() -> dict:
    from bench_drift import build_frames
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from core.analysis import domain
    from core.analysis import drift as dr

    ref, cur = build_frames(3_000)
    pairs = [(c, c, "numeric" if c.startswith("num") else "categorical") for c in ref.columns]
    t_ours, result = _timed(lambda: dr.domain_classifier(ref, cur, pairs))
    # the same binned matrix and split, fitted by scikit-learn with the same settings
    rng = np.random.default_rng(0)
    cols = []
    import pandas as pd
    for name, _c, kind in pairs:
        if kind == "numeric":
            cols.append(domain.bin_numeric(np.concatenate([ref[name].to_numpy(float), cur[name].to_numpy(float)])))
        else:
            codes, _ = pd.factorize(pd.concat([ref[name], cur[name]], ignore_index=True))
            cols.append(domain.bin_categories(codes))
    x = np.column_stack(cols)
    y = np.concatenate([np.zeros(len(ref)), np.ones(len(cur))])
    fit, test = domain.stratified_halves(y, rng)

    def sklearn_auc() -> float:
        model = HistGradientBoostingClassifier(max_iter=domain.ROUNDS, max_depth=domain.DEPTH,
                                               learning_rate=domain.LEARNING_RATE, l2_regularization=domain.L2,
                                               min_samples_leaf=domain.MIN_LEAF, max_bins=domain.BINS,
                                               early_stopping=False, random_state=0)
        model.fit(x[fit], y[fit])
        return float(roc_auc_score(y[test], model.decision_function(x[test])))

    t_lib, lib_auc = _timed(sklearn_auc)
    return {"rows per side": 3_000, "ours s": t_ours, "scikit-learn s": t_lib, "ours AUC": result.auc,
            "scikit-learn AUC": lib_auc}


def bench_bh() -> dict:
    import scipy.stats

    from core.analysis.stattests import benjamini_hochberg

    p = np.random.default_rng(0).uniform(0, 1, 50) ** 3  # 50 columns, some small p-values
    t_ours, ours = _timed(lambda: benjamini_hochberg(p.tolist()), repeat=20)
    t_lib, lib = _timed(lambda: scipy.stats.false_discovery_control(p), repeat=20)
    return {"p-values": p.size, "ours s": t_ours, "scipy s": t_lib,
            "max |diff|": float(np.max(np.abs(np.subtract(ours, lib))))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per import figure (median)")
    args = parser.parse_args()

    print(f"import, median of {args.runs} fresh processes")
    print(f"  {BASE}: {base_seconds(args.runs):.3f} s (what `python -m core drift` imports before it reads data)")
    for name, statement in LIBRARIES.items():
        print(f"  + {name}: {import_seconds(statement, args.runs):.3f} s more")
    print("KS p-value: ksdist.kstwo_sf vs scipy.stats.kstwo.sf (one p-value per column)")
    for row in bench_ks():
        print(f"  {row['rows per side']:>9,} rows per side (n={row['n']:,}), {row['p-values']} p-values: "
              f"ours {row['ours s']:.4f} s, scipy {row['scipy s']:.3f} s, max |diff| {row['max |diff|']:.1e}")
    d = bench_domain()
    print(f"domain classifier, {d['rows per side']:,} rows per side, 50 columns: ours {d['ours s']:.3f} s "
          f"(AUC {d['ours AUC']:.3f}), scikit-learn {d['scikit-learn s']:.3f} s (AUC {d['scikit-learn AUC']:.3f})")
    b = bench_bh()
    print(f"Benjamini-Hochberg, {b['p-values']} p-values: ours {b['ours s'] * 1e6:.0f} us, scipy "
          f"{b['scipy s'] * 1e6:.0f} us, max |diff| {b['max |diff|']:.1e}")


if __name__ == "__main__":
    main()
