"""``python -m core traces BUNDLE_OR_FOLDER [--baseline START/END --window START/END] [--json]``: traces.

Reads OTLP JSON (the collector's file exporter, or plain OTLP JSON exports) from a folder, a file
or a bundle's ``traces/`` folder (:mod:`core.sources.traces_otel`), and prints the cascade origin
ranking (:func:`core.analysis.traces.cascade_ranking`) and the service map, as a diff between the
baseline and the incident window when both are given. Problems met while reading (truncated lines,
non-OTLP JSON, missing parents, clock skew) are printed with their file and line. Exit codes: 0 when
the traces were read (whatever they show), 2 for unusable input (no such folder, no span read, a
bad window), 4 when a configured Jaeger or Tempo query API (``jaeger`` / ``tempo`` as the source,
:mod:`core.sources.traces_api`) cannot be reached or refuses the credentials.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.errors import InvalidInputError

HELP = "distributed traces (OTLP JSON): cascade origin ranking and the service map diff"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "traces", help=HELP,
        description="Read OTLP JSON traces from a folder, a file or a bundle's traces/ folder; rank the services "
                    "by how likely their own failure started the cascade, and show the calls between services "
                    "(baseline against incident window when both are given).",
    )
    p.add_argument("source", help="a folder or file of OTLP JSON traces, an incident bundle (dir or .zip), or "
                                  "jaeger / tempo: the configured query API (JAEGER_URL, TEMPO_URL)")
    p.add_argument("--baseline", default=None, help="the baseline window START/END (ISO 8601)")
    p.add_argument("--window", default=None, help="the incident window START/END (ISO 8601; default: all spans)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def _fmt(value, spec: str = ".1f") -> str:
    try:
        if value != value:  # NaN
            return "-"
        return format(value, spec)
    except (TypeError, ValueError):
        return "-"


#: sources read from a configured trace query API through the factory (``jaeger[:START/END]``, ``tempo``)
API = ("jaeger", "tempo")


def _is_api(spec: str) -> bool:
    from pathlib import Path

    return spec.split(":", 1)[0].lower() in API and not Path(spec).exists()


def _open(spec: str, window, baseline):
    """A Jaeger/Tempo source over the baseline and the incident window together (when given)."""
    from core.models import iso
    from core.sources.factory import open_source

    wins = [w for w in (baseline, window) if w is not None]
    if wins and ":" not in spec:
        spec = f"{spec}:{iso(min(w.start for w in wins))}/{iso(max(w.end for w in wins))}"
    return open_source("traces", spec)


def run(args: argparse.Namespace) -> int:
    from core.analysis.traces import cascade_ranking, service_map, service_map_diff
    from core.jsonsafe import jsonable
    from core.models import TimeWindow
    from core.sources.traces_otel import load_traces

    window = TimeWindow.parse(args.window) if args.window else None
    baseline = TimeWindow.parse(args.baseline) if args.baseline else None
    if baseline is not None and window is None:
        raise InvalidInputError("--baseline needs --window (the incident window to compare it with)")
    api = _is_api(args.source)
    src = _open(args.source, window, baseline) if api else load_traces(args.source)
    ranking = cascade_ranking(src, window, baseline)
    edges = service_map_diff(src, baseline, window) if baseline is not None else service_map(src, window)
    if args.json:
        out = {"source": src.name, "read": src.info.to_dict(),
               "window": window.to_dict() if window else None, "baseline": baseline.to_dict() if baseline else None,
               "cascade": [r.to_dict() for r in ranking],
               "service_map": jsonable(edges.to_dict(orient="records"))}
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    info = src.info
    read_from = "request(s) to" if api else "file(s) in"
    print(f"{info.spans} span(s) in {info.traces} trace(s) from {len(info.files)} {read_from} {src.name}; "
          f"services: {', '.join(info.services)}")
    for w in info.warnings:
        print(f"  warning: {w}")
    print("cascade origin ranking" + (f" ({window.to_dict()['start']} to {window.to_dict()['end']})" if window else "")
          + ":")
    if not ranking:
        print("  no error spans: no cascade")
    for r in ranking:
        print(f"  {r.rank}. {r.service} [{r.category}]: {r.reason}" + (f"; e.g. {r.sample}" if r.sample else ""))
    print("service map" + (" (baseline -> window)" if baseline is not None else "") + ":")
    for e in edges.to_dict(orient="records"):
        if baseline is not None:
            print(f"  {e['caller']} -> {e['callee']} [{e['change']}]: "
                  f"{_fmt(e['rate_per_min_base'])} -> {_fmt(e['rate_per_min_window'])} calls/min, "
                  f"errors {_fmt(e['error_rate_base'], '.1%')} -> {_fmt(e['error_rate_window'], '.1%')}, "
                  f"p95 {_fmt(e['p95_ms_base'])} -> {_fmt(e['p95_ms_window'])} ms")
        else:
            print(f"  {e['caller']} -> {e['callee']}: {_fmt(e['rate_per_min'])} calls/min, "
                  f"errors {_fmt(e['error_rate'], '.1%')}, p50 {_fmt(e['p50_ms'])} ms, p95 {_fmt(e['p95_ms'])} ms")
    return 0
