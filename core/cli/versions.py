"""``python -m core versions PATH [--a V --b V] [--json]``: the history of a versioned table, or two versions compared.

PATH is a Delta table folder, a folder of date partitions (``dt=YYYY-MM-DD/``) or an incident bundle
(its ``datasets/`` Delta tables and partition folders; ``--table`` picks one). Without ``--a``/``--b``
it lists the history: version, time, operation, rows, and the declared schema change and overwrite of
each version. With both it compares the two versions (a version number, a time, or for partitions a
date or a range ``FROM..TO``): the declared schema change and the drift report of their rows.

With ``--training-run RUN_ID`` (or ``--model NAME``) and an MLflow ``--tracking-uri``, PATH is the
incident's data (a bundle: its current sample; or a data file) and the reference is the data the
model was trained on, as the run's dataset inputs record it.

Exit codes: 0 when nothing changed (no schema change or overwrite in the history; no schema change
and no drifted column between the two versions), 1 when something did, 2 for unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.errors import InvalidInputError

HELP = "Delta table and date-partition history, two versions compared, or incident data vs the training data"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "versions", help=HELP,
        description="List the versions of a Delta table, a dt=YYYY-MM-DD partitioned Parquet folder or a bundle's "
                    "versioned datasets (time, operation, rows, schema changes, overwrites), or compare two "
                    "versions (--a, --b: a version number, a time, a date or FROM..TO) with the drift report and "
                    "the schema diff; or compare incident data with the model's training data "
                    "(--training-run / --model). Exit 0: nothing changed; 1: changes or drift; 2: unusable input.",
    )
    p.add_argument("path", metavar="PATH", help="Delta table folder, partitioned folder, bundle, or (with "
                                                "--training-run/--model) the incident's data file or bundle")
    p.add_argument("--table", help="the table of a bundle holding several")
    p.add_argument("--a", metavar="V", help="reference version: number, ISO time, date or FROM..TO")
    p.add_argument("--b", metavar="V", help="current version: number, ISO time, date or FROM..TO")
    p.add_argument("--training-run", metavar="RUN_ID", help="compare PATH with this MLflow run's training data")
    p.add_argument("--model", metavar="NAME", help="compare PATH with the training data of this registered "
                                                   "model's version (--model-version, default the newest)")
    p.add_argument("--model-version", type=int, metavar="N", help="the model version for --model")
    p.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: the configured one)")
    p.add_argument("--max-rows", type=int, metavar="N", help="compare a seeded sample of at most N rows per side")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.training_run or args.model:
        return _training(args)
    if (args.a is None) != (args.b is None):
        raise InvalidInputError("give both --a and --b to compare two versions, or neither to list the history")
    from core.sources.factory import open_source

    source = open_source("data_versions", args.path)
    if not source.tables:
        raise InvalidInputError(f"{source.label} holds no Delta table or dt=YYYY-MM-DD partition folder under "
                                "datasets/")
    table = source.table(args.table)
    if args.a is None:
        return _history(table, args.json)
    from core.analysis.versions import compare_versions

    a_cols, b_cols = table.columns_at(args.a), table.columns_at(args.b)
    reference, current = table.read(version=args.a), table.read(version=args.b)
    result = compare_versions(table.name, args.a, reference, args.b, current, columns_a=a_cols,
                              columns_b=b_cols, max_rows=args.max_rows)
    return _print_comparison(result, table.label, args.json)


def _history(table: object, as_json: bool) -> int:
    history = table.history()
    changed = [h for h in history if h.schema_change or (h.overwrite and h.schema_change is not None)]
    if as_json:
        json.dump({"table": table.label, "kind": table.kind, "versions": [h.to_dict() for h in history],
                   "events": table.events()}, sys.stdout, default=str, allow_nan=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{table.label}: {len(history)} version(s), {len(changed)} with a schema change or overwrite")
        print(f"{'version':>12}  {'time (UTC)':19}  {'operation':22} {'rows':>9}  change")
        for h in history:
            note = "; ".join(x for x in (h.schema_change.text() if h.schema_change else "",
                                         "overwrite" if h.overwrite and h.schema_change is not None else "") if x)
            when = f"{h.at:%Y-%m-%d %H:%M:%S}" if h.at else "-"
            op = f"{h.operation} {h.mode}".strip()
            print(f"{h.version!s:>12}  {when:19}  {op[:22]:22} {h.rows if h.rows is not None else '-':>9}  {note}")
    return 1 if changed else 0


def _print_comparison(result: object, label: str, as_json: bool, extra: dict | None = None) -> int:
    from core.cli.drift import format_report

    report = result.report
    drifted = sum(c.drifted for c in report.columns)
    if as_json:
        out = result.to_dict()
        out.update(extra or {})
        json.dump(out, sys.stdout, default=str, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(f"{label}: {result.a} → {result.b}")
        for key, value in (extra or {}).items():
            print(f"{key}: {value}")
        print(f"declared schema: {result.schema.text()}")
        print(format_report(report))
    return 1 if (result.schema or drifted or report.schema) else 0


def _training(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.analysis.versions import compare_versions
    from core.sources.factory import bundle_of, open_source
    from core.sources.training_baseline import read_training_data, training_inputs, training_run_of_model

    runs = open_source("runs", args.tracking_uri)
    run_id = args.training_run or training_run_of_model(runs, args.model, args.model_version)
    record = runs.get_run(run_id, artifacts=False)
    inputs = training_inputs(record)
    training = read_training_data(inputs[0])
    bundle = bundle_of(args.path)
    if bundle is not None:
        from core.sources.datasets import bundle_roles, pair_from_bundle

        roles = bundle_roles(bundle)
        if not roles:
            raise InvalidInputError(f"bundle {bundle.id} has no datasets to compare with the training data")
        pair = pair_from_bundle(bundle, roles[0])
        current, where = pair.current, pair.description
        if pair.timestamp and pair.timestamp not in training.frame.columns and pair.timestamp in current.columns:
            current = current.drop(columns=[pair.timestamp])  # the split column is not a feature
    else:
        from core.sources.datasets import read_dataset

        current, where = read_dataset(Path(args.path)), str(args.path)
    result = compare_versions(training.dataset.name, f"training ({training.dataset.digest})", training.frame,
                              "incident window", current, max_rows=args.max_rows)
    extra = {"run_id": run_id, "training_data": training.location, "digest_matches": training.digest_matches,
             "incident_data": where}
    return _print_comparison(result, training.label, args.json, extra)
