"""``python -m core drift REFERENCE [CURRENT]``: schema findings and per-column drift between two samples.

``--engine auto|memory|duckdb|spark`` picks where the comparison runs (``core.compute``); the text
output's first line and the JSON's ``engine`` say which one ran.

Exit codes: 0 whether or not drift is found; 2 with one line on stderr for bad input (a missing
file or table, a schema mismatch, a bad option); 4 when the engine cannot run (pyspark or Java
missing, a Spark session that does not start); 5 when the engine times out.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.analysis.drift import DriftReport
from core.errors import InvalidInputError
from core.models import iso, utc

ENGINES = ("auto", "memory", "duckdb", "spark")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "drift",
        help="schema diff and drift between two files, or one file split at a time",
        description=(
            "Compare REFERENCE and CURRENT (CSV, Parquet or JSONL files, folders of them, Delta tables, Spark "
            "tables or sc:// / spark:// locations), or split one at --split by its --timestamp column. Prints "
            "schema findings ranked by severity, then each column's effect sizes and Benjamini-Hochberg corrected "
            "tests. Exit code 0 whether or not drift is found; 2 bad input; 4 engine unavailable; 5 engine timeout."
        ),
    )
    p.add_argument("reference", metavar="REFERENCE",
                   help="reference file, folder, Delta table, Spark table or URL (or the one location to split)")
    p.add_argument("current", metavar="CURRENT", nargs="?", help="current location (omit with --split)")
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
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="where the comparison runs: memory (exact, in this process), duckdb (out of core), spark "
                        "(local[2], SPARK_MASTER or SPARK_REMOTE); auto picks from the location (default)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop the duckdb or spark engine after this many seconds per query (exit code 5)")
    p.add_argument("--memory-limit", metavar="SIZE", help="DuckDB memory limit, e.g. 8GB (default WORKBENCH_DUCKDB_MEMORY or 4GB)")
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
    from core.compute import DriftOptions, run_drift

    if args.current is None and not (args.timestamp and args.split):
        raise InvalidInputError(
            "give two files or locations (REFERENCE CURRENT), or one with --timestamp COL and --split ISO_TIME"
        )
    if args.current is not None and args.split:
        raise InvalidInputError("--split cuts one location; with two, drop --split (or drop CURRENT)")
    if args.max_rows is not None and args.engine not in ("auto", "memory"):
        raise InvalidInputError("--max-rows samples in process; drop it with --engine duckdb or spark, "
                                "which read every row and state their error bounds")
    if args.timeout is not None and args.timeout <= 0:
        raise InvalidInputError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    exclude: tuple[str, ...] = (args.timestamp,) if args.timestamp else ()
    split = utc(args.split) if args.split else None
    options = DriftOptions(prediction=args.prediction, label=args.label, exclude=exclude,
                           thresholds=_thresholds(args.threshold), multivariate=not args.no_multivariate,
                           positional=args.positional, max_rows=args.max_rows)
    engine = "memory" if args.engine == "auto" and args.max_rows is not None else args.engine
    engine_options = {k: v for k, v in (("timeout", args.timeout), ("memory_limit", args.memory_limit)) if v is not None}
    report, choice = run_drift(args.reference, args.current, engine=engine, timestamp=args.timestamp, split=split,
                               options=options, engine_options=engine_options)
    if args.current is None:
        source = {"file": args.reference, "timestamp": args.timestamp, "split": iso(split)}
    else:
        source = {"reference": args.reference, "current": args.current}
    if args.json:
        out = report.to_dict()
        out["source"] = source
        out["engine"] = {**(report.engine or {}), "chosen": "auto" if args.engine == "auto" else "asked",
                         "reason": choice.reason}
        json.dump(out, sys.stdout, default=str, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(f"engine: {choice.name} ({choice.reason})")
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
    engine = report.engine or {}
    if engine and not engine.get("exact", True):
        lines.append(f"computed by {engine.get('name')} from sketches and exact grid counts: KS within "
                     f"±{engine.get('ks_error_bound', 0.0):.4f}, each figure within its ± (deterministic bounds)")
        for c in report.ranked_columns():
            if c.uncertain:
                lines.append(f"  undecided: {c.label}: {c.uncertain}")
    lines.append("")
    lines.append("schema findings:" if report.schema else "schema findings: none")
    for f in report.schema:
        lines.append(f"  [{f.severity}] {f.message}")
    lines.append("")
    lines.append(f"{'column':32} {'type':11} {'drift':5} {'effect sizes':34} {'test (p adj.)':22} {'nulls ref→cur'}")
    for c in report.ranked_columns():
        effects = ", ".join(f"{n}={t.statistic:.3g}" + (f"±{t.error_bound:.1g}" if t.error_bound else "")
                            for n, t in c.tests.items() if t.p_value is None and t.statistic is not None)
        tests = ", ".join(f"{n} {t.p_adjusted:.2g}" for n, t in c.tests.items() if t.p_adjusted is not None)
        lines.append(f"{c.label[:32]:32} {c.type:11} {('YES' if c.drifted else 'no') + ('?' if c.uncertain else ''):5} {(effects or c.note)[:34]:34} "
                     f"{tests[:22]:22} {c.null_rate_reference:.1%}→{c.null_rate_current:.1%}")
    if report.multivariate:
        m = report.multivariate
        lines.append("")
        lines.append(f"domain classifier AUC {m.auc:.3f} (threshold {m.threshold}, ±{m.standard_error:.3f}; "
                     f"{'joint distribution moved' if m.drifted else 'no joint shift'}); "
                     f"most telling: {', '.join(m.columns)}")
    return "\n".join(lines)
