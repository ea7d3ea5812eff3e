"""``python -m core drift REFERENCE [CURRENT]``: schema findings and per-column drift between two samples.

Exit code 0 whether or not drift is found; 2 with one line on stderr for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.analysis.drift import DriftReport, compare_distributions
from core.errors import InvalidInputError
from core.models import iso, utc
from core.sources.datasets import read_dataset, split_by_time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "drift",
        help="schema diff and drift between two files, or one file split at a time",
        description=(
            "Compare REFERENCE and CURRENT (CSV, Parquet or JSONL), or split one file at --split by its "
            "--timestamp column. Prints schema findings ranked by severity, then each column's effect sizes "
            "and Benjamini-Hochberg corrected tests. Exit code 0 whether or not drift is found."
        ),
    )
    p.add_argument("reference", metavar="REFERENCE", help="reference file (or the one file to split)")
    p.add_argument("current", metavar="CURRENT", nargs="?", help="current file (omit with --split)")
    p.add_argument("--timestamp", metavar="COL", help="timestamp column (left out of the comparison)")
    p.add_argument("--split", metavar="ISO_TIME",
                   help="split time: rows before it are the reference, rows at or after it the current")
    p.add_argument("--prediction", metavar="COL", help="prediction column (a collapse ranks first)")
    p.add_argument("--label", metavar="COL", help="label column")
    p.add_argument("--max-rows", type=int, metavar="N",
                   help="compare a seeded sample of at most N rows per side (KS error bound reported)")
    p.add_argument("--threshold", action="append", default=[], metavar="TEST=VALUE",
                   help="override a threshold, e.g. psi=0.25 (repeatable); tests: wasserstein, psi, ks, "
                        "jensen_shannon, psi_cat, chi2")
    p.add_argument("--no-multivariate", action="store_true", help="skip the domain-classifier check")
    p.add_argument("--positional", action="store_true",
                   help="the consumer reads columns by position (a column order change is severe)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _thresholds(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InvalidInputError(f"--threshold '{item}' is not TEST=NUMBER; write e.g. --threshold psi=0.25")
    return out


def run(args: argparse.Namespace) -> int:
    exclude: tuple[str, ...] = (args.timestamp,) if args.timestamp else ()
    if args.current is None:
        if not (args.timestamp and args.split):
            raise InvalidInputError(
                "give two files (REFERENCE CURRENT), or one file with --timestamp COL and --split ISO_TIME"
            )
        frame = read_dataset(args.reference)
        split = split_by_time(frame, args.timestamp, utc(args.split))
        reference, current = split.reference, split.current
        source = {"file": args.reference, "timestamp": args.timestamp, "split": iso(utc(args.split)),
                  "reference_window": split.reference_window.to_dict(),
                  "current_window": split.current_window.to_dict()}
    else:
        if args.split:
            raise InvalidInputError("--split cuts one file; with two files, drop --split (or drop CURRENT)")
        reference, current = read_dataset(args.reference), read_dataset(args.current)
        source = {"reference": args.reference, "current": args.current}
    report = compare_distributions(
        reference, current, prediction=args.prediction, label=args.label, exclude=exclude,
        thresholds=_thresholds(args.threshold), max_rows=args.max_rows,
        multivariate=not args.no_multivariate, positional=args.positional,
    )
    if args.json:
        out = report.to_dict()
        out["source"] = source
        json.dump(out, sys.stdout, default=str, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(format_report(report))
    return 0


def format_report(report: DriftReport) -> str:
    """A plain-text summary: findings, then the column table."""
    lines = [f"reference: {report.n_reference} rows   current: {report.n_current} rows   "
             f"drifted columns: {sum(c.drifted for c in report.columns)}/{len(report.columns)} "
             f"({report.drift_share:.0%})"]
    if report.sampled:
        lines.append(f"sampled {report.sample_rows} rows per side; KS statistics within "
                     f"±{report.ks_error_bound:.4f} of the full data (95%)")
    lines.append("")
    lines.append("schema findings:" if report.schema else "schema findings: none")
    for f in report.schema:
        lines.append(f"  [{f.severity}] {f.message}")
    lines.append("")
    lines.append(f"{'column':32} {'type':11} {'drift':5} {'effect sizes':34} {'test (p adj.)':22} {'nulls ref→cur'}")
    for c in report.ranked_columns():
        effects = ", ".join(f"{n}={t.statistic:.3g}" for n, t in c.tests.items()
                            if t.p_value is None and t.statistic is not None)
        tests = ", ".join(f"{n} {t.p_adjusted:.2g}" for n, t in c.tests.items() if t.p_adjusted is not None)
        lines.append(f"{c.label[:32]:32} {c.type:11} {'YES' if c.drifted else 'no':5} {(effects or c.note)[:34]:34} "
                     f"{tests[:22]:22} {c.null_rate_reference:.1%}→{c.null_rate_current:.1%}")
    if report.multivariate:
        m = report.multivariate
        lines.append("")
        lines.append(f"domain classifier AUC {m.auc:.3f} (threshold {m.threshold}, ±{m.standard_error:.3f}; "
                     f"{'joint distribution moved' if m.drifted else 'no joint shift'}); "
                     f"most telling: {', '.join(m.columns)}")
    return "\n".join(lines)
