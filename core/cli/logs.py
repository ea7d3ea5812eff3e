"""``python -m core logs search|patterns``: query logs and diff log templates from the command line.

SOURCE is an incident bundle (directory or zip), a log file (.jsonl, .csv, .log),
a directory of log files, or ``es`` for the Elasticsearch cluster configured by
``ES_URL`` (and friends, see docs/query-syntax.md). For a bundle, ``--from/--to``
default to its incident window and ``--baseline/--window`` to its baseline and
incident windows.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.errors import InvalidInputError
from core.models import TimeWindow, iso, utc
from core.sources.logs import MAX_PAGE_SIZE, LogSource


def open_log_source(spec: str) -> tuple[LogSource, object | None]:
    """The log source named by ``spec`` (through the source factory) and, when it is a bundle, the bundle."""
    from core.sources.factory import bundle_of, open_source

    bundle = bundle_of(spec)
    return open_source("logs", bundle if bundle is not None else spec), bundle


def _window(args: argparse.Namespace, bundle: object | None) -> TimeWindow:
    if args.start and args.end:
        return TimeWindow(utc(args.start), utc(args.end))
    if args.start or args.end:
        raise InvalidInputError("give both --from and --to (ISO 8601, e.g. 2024-05-01T12:00:00Z)")
    if bundle is not None:
        return bundle.window
    raise InvalidInputError("give the time range with --from and --to (ISO 8601, e.g. 2024-05-01T12:00:00Z)")


def _print_warnings(source: LogSource) -> None:
    for w in source.info.warnings:
        print(f"warning: {w}", file=sys.stderr)


def cmd_search(args: argparse.Namespace) -> int:
    if not 1 <= args.size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"--size must be from 1 to {MAX_PAGE_SIZE:,} (the hits printed), not {args.size}; "
                                "narrow the query or the time range to see fewer hits")
    source, bundle = open_log_source(args.source)
    _print_warnings(source)
    window = _window(args, bundle)
    page = source.search(args.query, window, size=args.size)
    if args.json:
        out = page.to_dict()
        out["source"] = source.info.name
        out["warnings"] = list(source.info.warnings)
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"{page.total} hit(s) for {args.query or '*'} in {iso(window.start)}/{iso(window.end)} "
          f"({source.info.name}); newest first")
    for h in page.hits:
        svc = h.fields.get("service.name", "")
        print(f"{iso(h.timestamp)}  {h.level:<5}  {svc}  {h.message}")
    if page.total > len(page.hits):
        print(f"… {page.total - len(page.hits)} more; use --size or narrow the query")
    return 0


def cmd_patterns(args: argparse.Namespace) -> int:
    from core.analysis.logpatterns import PatternConfig, diff_patterns

    source, bundle = open_log_source(args.source)
    _print_warnings(source)
    if args.baseline:
        baseline = TimeWindow.parse(args.baseline)
    elif bundle is not None and bundle.baseline is not None:
        baseline = bundle.baseline
    else:
        raise InvalidInputError("give --baseline START/END (ISO 8601)")
    window = TimeWindow.parse(args.window) if args.window else (bundle.window if bundle is not None else None)
    if window is None:
        raise InvalidInputError("give --window START/END (ISO 8601)")
    config = PatternConfig(sim_th=args.sim_th, depth=args.depth)
    from dataclasses import replace

    from core.sources.logs import pattern_messages

    base_msgs, win_msgs, fraction = pattern_messages(source, args.query, baseline, window)
    diff = replace(diff_patterns(base_msgs, win_msgs, baseline=baseline, window=window, config=config,
                                 alpha=args.alpha), read_fraction=fraction)
    if args.json:
        out = diff.to_dict()
        out["source"] = source.info.name
        out["query"] = args.query
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"baseline {iso(baseline.start)}/{iso(baseline.end)}: {diff.baseline_lines} lines; "
          f"window {iso(window.start)}/{iso(window.end)}: {diff.window_lines} lines; "
          f"{len(diff.changes)} templates"
          + (f" (a server-side sample of {diff.read_fraction:.1%} of each window)" if diff.read_fraction < 1 else ""))
    for status in ("new", "increased", "vanished", "decreased"):
        rows = diff.by_status(status)
        if not rows:
            continue
        print(f"\n{status.upper()} ({len(rows)})")
        for c in rows[: args.limit]:
            ratio = "" if c.ratio is None else f" x{c.ratio:.2f}"
            print(f"  {c.window_count:>8} (baseline {c.baseline_count}, expected {c.expected:.1f}{ratio}, "
                  f"q={c.q_value:.2g})  {c.template}")
    unchanged = len(diff.by_status("unchanged"))
    if unchanged:
        print(f"\n{unchanged} template(s) unchanged")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("logs", help="search logs and diff log templates (Lucene syntax)")
    sub = p.add_subparsers(dest="logs_command", metavar="SUBCOMMAND", required=True)

    s = sub.add_parser("search", help="count and list the log records matching a Lucene query")
    s.add_argument("source", metavar="SOURCE", help="bundle dir/zip, log file, directory of logs, or 'es'")
    s.add_argument("query", metavar="QUERY", nargs="?", default="", help="Lucene query; empty matches everything")
    s.add_argument("--from", dest="start", metavar="T", help="window start, ISO 8601 (default: the bundle window)")
    s.add_argument("--to", dest="end", metavar="T", help="window end, ISO 8601")
    s.add_argument("--size", type=int, default=20, help=f"hits to print, 1 to {MAX_PAGE_SIZE:,} (default 20)")
    s.add_argument("--json", action="store_true", help="print JSON: query, window, total, hits, cursor, warnings")
    s.set_defaults(func=cmd_search)

    q = sub.add_parser("patterns", help="log templates new, vanished or changed in a window against a baseline")
    q.add_argument("source", metavar="SOURCE", help="bundle dir/zip, log file, directory of logs, or 'es'")
    q.add_argument("--baseline", metavar="T1/T2", help="baseline window START/END (default: the bundle's)")
    q.add_argument("--window", metavar="T3/T4", help="incident window START/END (default: the bundle's)")
    q.add_argument("--query", default="", help="only lines matching this Lucene query")
    q.add_argument("--alpha", type=float, default=0.01, help="false-discovery rate (default 0.01)")
    q.add_argument("--sim-th", type=float, default=0.4, help="Drain similarity threshold (default 0.4)")
    q.add_argument("--depth", type=int, default=4, help="Drain tree depth (default 4)")
    q.add_argument("--limit", type=int, default=20, help="templates printed per status (default 20)")
    q.add_argument("--json", action="store_true", help="print the diff as JSON")
    q.set_defaults(func=cmd_patterns)
