"""``python -m core runs``: diff two MLflow runs, show a registered model's history.

    python -m core runs diff RUN_A RUN_B [--tracking-uri URI] [--all] [--json]
    python -m core runs history MODEL_NAME [--tracking-uri URI] [--onset ISO] [--json]

The tracking URI defaults to ``MLFLOW_TRACKING_URI``, else the embedded store
``sqlite:///<WORKBENCH_HOME>/mlflow.db``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.models import iso, utc


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="MLflow runs and model registry: diff two runs, model history",
                                 description="Compare MLflow runs and read the model registry.")
    sub = runs.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")
    runs.set_defaults(func=lambda args: (runs.print_help(), 2)[1])

    diff = sub.add_parser("diff", help="params, metrics, tags, input datasets and artifacts that differ",
                          description="Diff run A (e.g. last good) against run B (e.g. the incident's).")
    diff.add_argument("run_a", metavar="RUN_A", help="run id of the reference run")
    diff.add_argument("run_b", metavar="RUN_B", help="run id of the run under suspicion")
    _uri_arg(diff)
    diff.add_argument("--all", action="store_true", help="also list what is the same in both runs")
    diff.add_argument("--json", action="store_true", help="print JSON instead of text")
    diff.set_defaults(func=run_diff)

    hist = sub.add_parser("history", help="versions, aliases, deploy times and runs of a registered model",
                          description="Registry history of one model, oldest version first.")
    hist.add_argument("model", metavar="MODEL_NAME", help="registered model name")
    _uri_arg(hist)
    hist.add_argument("--onset", metavar="ISO", help="also pick last-good and incident versions for this onset")
    hist.add_argument("--json", action="store_true", help="print JSON instead of text")
    hist.set_defaults(func=run_history)


def _uri_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", metavar="URI", default=None,
                        help="mlruns folder, sqlite:///path or http(s)://host:port "
                             "(default: MLFLOW_TRACKING_URI, else the embedded store)")


def _source(uri: str | None) -> Any:
    """``--tracking-uri``, else the configured tracking URI, else the embedded store (the source factory)."""
    from core.sources.factory import open_source

    return open_source("runs", uri or None)


def run_diff(args: argparse.Namespace) -> int:
    from core.analysis.rundiff import SAME, diff_runs

    source = _source(args.tracking_uri)
    a = source.get_run(args.run_a)
    b = source.get_run(args.run_b)
    diff = diff_runs(a, b)
    if args.json:
        print(json.dumps(diff.to_dict(only_changes=not args.all), indent=2))
        return 0
    keep = (lambda rows: rows) if args.all else (lambda rows: [r for r in rows if r.status != SAME])
    print(f"A: {diff.label_a}\nB: {diff.label_b}")
    for w in diff.warnings:
        print(f"warning: {w}")
    if diff.identical:
        print("no differences in params, metrics, tags, input datasets or artifacts")
    for title, rows, fmt in (
        ("params", keep(diff.params), lambda r: f"{r.key}: {_s(r.a)} → {_s(r.b)}"),
        ("metrics", keep(diff.metrics), _metric_line),
        ("tags", keep(diff.tags), lambda r: f"{r.key}: {_s(r.a)} → {_s(r.b)}"),
        ("input datasets", keep(diff.datasets), _dataset_line),
        ("artifacts", keep(diff.artifacts), lambda r: f"{r.path}: {_s(r.size_a)} → {_s(r.size_b)} bytes"),
    ):
        if rows:
            print(f"\n{title} ({len(rows)}):")
            for r in rows:
                print(f"  [{r.status}] {fmt(r)}")
    return 0


def _s(value: Any) -> str:
    return "—" if value is None else str(value)


def _metric_line(r: Any) -> str:
    rel = f" ({r.relative:+.2%})" if r.relative is not None else ""
    fa = "—" if r.a is None else f"{r.a:.6g}"
    fb = "—" if r.b is None else f"{r.b:.6g}"
    return f"{r.key}: {fa} → {fb}{rel}"


def _dataset_line(r: Any) -> str:
    parts = [f"{r.name} [{r.context or 'no context'}]: digest {_s(r.digest_a)} → {_s(r.digest_b)}"]
    if r.columns_added:
        parts.append(f"columns added: {', '.join(r.columns_added)}")
    if r.columns_removed:
        parts.append(f"columns removed: {', '.join(r.columns_removed)}")
    for col, ta, tb in r.type_changes:
        parts.append(f"{col}: {ta} → {tb}")
    return "; ".join(parts)


def run_history(args: argparse.Namespace) -> int:
    from core.analysis.rundiff import choose_runs

    source = _source(args.tracking_uri)
    history = source.registry_history(args.model)
    choice = choose_runs(history, utc(args.onset)) if args.onset else None
    if args.json:
        out = history.to_dict()
        if choice is not None:
            out["choice"] = choice.to_dict()
        print(json.dumps(out, indent=2))
        return 0
    aliases = ", ".join(f"{a} → v{v}" for a, v in sorted(history.aliases.items())) or "none"
    print(f"{history.model}: {len(history.versions)} versions; aliases: {aliases}")
    for v in reversed(history.versions):
        tag = f" [{', '.join(v.aliases)}]" if v.aliases else ""
        stage = f" stage={v.stage}" if v.stage else ""
        commit = f" commit={v.git_commit[:7]}" if v.git_commit else ""
        print(f"  v{v.version}{tag} {v.time_basis} {iso(v.effective_at)} run={v.run_id or '—'}{commit}{stage}")
    if choice is not None:
        print(f"\nincident: v{choice.incident.version if choice.incident else '—'}; "
              f"last good: v{choice.last_good.version if choice.last_good else '—'}\n{choice.reason}")
    return 0
