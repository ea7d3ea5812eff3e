"""Triage accuracy and speed over generated scenarios (not collected by pytest).

    python tests/bench/bench_triage.py [--per-class 20] [--first-seed N] [--hard | --stress] [--keep DIR]

Generates ``per-class`` scenarios for each of the six root-cause classes with
core.demo.scenarios (seeds ``first-seed``.. were never used while the scoring was
developed — development used seeds below 2000), severity, noise, seasonality and
distractors drawn per seed, runs ``triage_bundle`` on each and prints top-1 and
top-2 accuracy per class and overall, the Brier score and a reliability table of
the hypotheses' probabilities, the median seconds per bundle, and the three demo
incidents.

``--hard`` is the hard mix of :func:`core.demo.scenarios.hard_specs` (slow, small
impacts; data changes well before the KPI onset; a missing modality; an unrelated
deploy minutes before the onset; external events with and without a mix shift;
combinations), default seeds 73000..; the scoring and its calibration were tuned on
seeds 3000-3059 of that mix only. Targets: top-1 >= 95 %, top-2 >= 99 %, no class
below 85 % top-1, under 10 s per bundle. ``--stress`` is the older stress mix (faint
faults, heavy noise, every distractor, close unrelated deploys, unlogged planted
changes). The normal mix's targets: top-1 >= 90 %, top-2 >= 97 % overall, no class
below 80 % top-1.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.demo import generate_demo_bundles  # noqa: E402
from core.demo.scenarios import CLASSES, generate_scenario, hard_specs, scenario_specs  # noqa: E402
from core.triage import triage_bundle  # noqa: E402

DEMO_EXPECTED = {"demo-schema-change": "schema_change", "demo-ctr-drop": "code_regression",
                 "demo-fraud-stale": "stale_data"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=None,
                    help="first seed (default 50000; 73000 with --hard; 60000 with --stress)")
    ap.add_argument("--keep", default=None, help="keep the generated bundles in this directory")
    mix = ap.add_mutually_exclusive_group()
    mix.add_argument("--hard", action="store_true",
                     help="the hard mix: slow small impacts, early data changes, a missing modality, coincident "
                          "deploys, external events with and without a mix shift")
    mix.add_argument("--stress", action="store_true",
                     help="the stress mix: faint faults (severity 0.05-0.35), heavy noise (0.5-1.0), every "
                          "distractor, and half the time a close unrelated deploy and/or an unlogged planted change")
    args = ap.parse_args()
    if args.first_seed is None:
        args.first_seed = 73_000 if args.hard else 60_000 if args.stress else 50_000
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-triage-"))
    seeds = range(args.first_seed, args.first_seed + args.per_class)
    if args.hard:
        specs = hard_specs(seeds)
    elif args.stress:
        specs = scenario_specs(seeds, severity=(0.05, 0.35), noise=(0.5, 1.0), distractor_rate=1.0,
                               hardship_rate=0.5)
    else:
        specs = scenario_specs(seeds)
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    confusion: dict[str, Counter] = defaultdict(Counter)
    seconds: list[float] = []
    misses = []
    pairs: list[tuple[float, bool]] = []  # (probability, is the true class) for every class of every scenario
    try:
        for i, spec in enumerate(specs, 1):
            path = generate_scenario(spec, root / spec.id)
            t0 = time.perf_counter()
            result = triage_bundle(path)
            seconds.append(time.perf_counter() - t0)
            ranked = [h.root_cause.value for h in result.hypotheses]
            pairs += [(_probability(h), h.root_cause.value == spec.root_cause) for h in result.hypotheses]
            top1, top2 = ranked[0] == spec.root_cause, spec.root_cause in ranked[:2]
            hits[spec.root_cause].append((top1, top2))
            confusion[spec.root_cause][ranked[0]] += 1
            if not top1:
                misses.append(f"  {spec.id}: predicted {ranked[0]} ({result.hypotheses[0].score:.2f}), "
                              f"truth ranked {ranked.index(spec.root_cause) + 1} "
                              f"(severity {spec.severity:.2f}, noise {spec.noise:.2f}"
                              + (f"; {', '.join(spec.hardships)}" if spec.hardships else "") + ")")
            print(f"\r{i}/{len(specs)} bundles", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        demos = generate_demo_bundles(root / "demos")
        demo_lines = []
        for name, path in demos.items():
            if name not in DEMO_EXPECTED:
                continue  # the three classic demos are the benchmark's; newer demos have their own tests
            t0 = time.perf_counter()
            r = triage_bundle(path)
            dt = time.perf_counter() - t0
            got = r.top.root_cause.value
            demo_lines.append(f"{name:<20} expected {DEMO_EXPECTED[name]:<16} got {got:<16} "
                              f"{'OK' if got == DEMO_EXPECTED[name] else 'WRONG'}  {dt:.2f} s")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    name = " (hard mix)" if args.hard else " (stress mix)" if args.stress else ""
    print(f"Triage benchmark{name}: {len(specs)} scenarios ({args.per_class} per class), seeds "
          f"{args.first_seed}..{args.first_seed + args.per_class - 1}")
    print(f"{'class':<18}{'n':>4}{'top-1':>9}{'top-2':>9}   most frequent top-1")
    all1 = all2 = n = 0
    worst = 1.0
    for cls in CLASSES:
        v = hits[cls]
        a1, a2 = sum(x for x, _ in v) / len(v), sum(y for _, y in v) / len(v)
        worst = min(worst, a1)
        all1 += sum(x for x, _ in v)
        all2 += sum(y for _, y in v)
        n += len(v)
        common = ", ".join(f"{k} {c}" for k, c in confusion[cls].most_common(3))
        print(f"{cls:<18}{len(v):>4}{a1:>9.1%}{a2:>9.1%}   {common}")
    o1, o2 = all1 / n, all2 / n
    med = statistics.median(seconds)
    print(f"{'overall':<18}{n:>4}{o1:>9.1%}{o2:>9.1%}")
    print(f"median seconds per bundle: {med:.2f} (max {max(seconds):.2f})")
    t1, t2, tw = (0.95, 0.99, 0.85) if args.hard else (0.9, 0.97, 0.8)
    print(f"targets: top-1 >= {t1:.0%} [{'met' if o1 >= t1 else 'MISSED'}], top-2 >= {t2:.0%} "
          f"[{'met' if o2 >= t2 else 'MISSED'}], every class top-1 >= {tw:.0%} [{'met' if worst >= tw else 'MISSED'}], "
          f"< 10 s per bundle [{'met' if med < 10 else 'MISSED'}]")
    _print_calibration(pairs)
    print("demo incidents:")
    for line in demo_lines:
        print("  " + line)
    if misses:
        print("misses:")
        print("\n".join(misses))
    return 0


def _probability(h) -> float:
    """The hypothesis's calibrated probability (its score when the result carries none)."""
    p = getattr(h, "probability", None)
    return float(h.score if p is None else p)


def _print_calibration(pairs: list[tuple[float, bool]]) -> None:
    """Brier score (one-vs-rest over every class of every scenario) and a reliability table."""
    if not pairs:
        return
    brier = sum((p - y) ** 2 for p, y in pairs) / len(pairs)
    n_scen = len(pairs) // len(CLASSES)
    print(f"Brier score: {brier:.4f} over {len(pairs)} (scenario, class) pairs "
          f"({brier * len(CLASSES):.3f} per scenario, summed over the {len(CLASSES)} classes; {n_scen} scenarios)")
    print(f"reliability: {'probability':<14}{'n':>6}{'mean p':>9}{'observed':>10}")
    edges = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001]
    for lo, hi in zip(edges[:-1], edges[1:]):
        got = [(p, y) for p, y in pairs if lo <= p < hi]
        if not got:
            continue
        mean_p = sum(p for p, _ in got) / len(got)
        obs = sum(y for _, y in got) / len(got)
        print(f"             {f'{lo:.2f}-{min(hi, 1.0):.2f}':<14}{len(got):>6}{mean_p:>9.2f}{obs:>10.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
