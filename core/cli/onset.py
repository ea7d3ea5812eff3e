"""``python -m core onset SERIES [--direction D] [--json]``: change points and the main onset of a KPI.

SERIES is a CSV or Parquet file with ``timestamp,value[,labels]`` columns, or an
incident bundle (directory or .zip), whose KPI metric and direction are used
unless ``--metric``/``--direction`` say otherwise; for a bundle's KPI the output also
gives the incident onset every other view uses (:func:`core.onset.bundle_onset`: the
``started`` milestone, else the detected KPI onset, else the windows). Exit codes: 0 when
the analysis ran (with or without a change point), 2 for unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.analysis.changepoint import (
    DEFAULT_MAX_CHANGE_POINTS,
    DEFAULT_PENALTY_SCALE,
    DIRECTIONS,
    METHODS,
    SEASONALITY,
    break_down_segments,
    detect_onset,
)
from core.errors import InvalidInputError
from core.sources.metrics import MetricSeries, read_series_file


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "onset", help="find change points and the main onset of a KPI series",
        description="Find the change points of a KPI series (CSV/Parquet timestamp,value[,labels] or a bundle) "
                    "and report the main onset: time, levels before and after, relative change, good or bad, "
                    "confidence.",
    )
    p.add_argument("series", help="CSV or Parquet file, or an incident bundle (directory or .zip)")
    p.add_argument("--direction", choices=DIRECTIONS, default=None,
                   help="whether higher values are better (default: the bundle's KPI direction, "
                        "else higher_is_better)")
    p.add_argument("--metric", default=None, help="metric name inside a bundle (default: the bundle's KPI)")
    p.add_argument("--time-column", default="timestamp", help="time column of a CSV/Parquet file (default timestamp)")
    p.add_argument("--value-column", default="value", help="value column of a CSV/Parquet file (default value)")
    p.add_argument("--method", choices=METHODS, default="binseg", help="ruptures algorithm (default binseg)")
    p.add_argument("--penalty-scale", type=float, default=DEFAULT_PENALTY_SCALE,
                   help=f"penalty per change = scale x log(n); larger finds fewer (default {DEFAULT_PENALTY_SCALE:g})")
    p.add_argument("--max-change-points", type=int, default=DEFAULT_MAX_CHANGE_POINTS,
                   help=f"report at most this many change points (default {DEFAULT_MAX_CHANGE_POINTS})")
    p.add_argument("--seasonality", choices=SEASONALITY, default="auto",
                   help="remove a daily profile: auto (when it is strong), daily (always) or none")
    p.add_argument("--label", default=None,
                   help="label column for a segment breakdown at the onset (e.g. platform)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def _load(args: argparse.Namespace) -> tuple[MetricSeries, str, Any]:
    """(series, direction, the bundle when SERIES is a bundle and the KPI is analysed, else None)."""
    path = Path(args.series)
    is_bundle = path.is_dir() or path.suffix.lower() == ".zip"
    if not is_bundle:
        if args.metric:
            raise InvalidInputError("--metric only applies to a bundle; give the series file itself")
        series = read_series_file(path, timestamp=args.time_column, value=args.value_column)
        return replace(series, name=path.stem), args.direction or "higher_is_better", None
    from core.bundle import read_bundle
    from core.sources.factory import open_source

    bundle = read_bundle(path)  # its errors name the problem in the bundle
    name = args.metric or bundle.kpi_metric
    series = open_source("metrics", bundle).read(name)
    direction = args.direction or (bundle.kpi_direction if name == bundle.kpi_metric else "higher_is_better")
    return series, direction, bundle if name == bundle.kpi_metric else None


def run(args: argparse.Namespace) -> int:
    series, direction, bundle = _load(args)
    if args.label and args.label not in series.labels:
        raise InvalidInputError(
            f"--label {args.label}: no such column in {series.name}; label columns are "
            f"{', '.join(series.labels) or 'none'}"
        )
    result = detect_onset(
        series.total(), direction=direction, metric=series.name, method=args.method,
        penalty_scale=args.penalty_scale, max_change_points=args.max_change_points,
        seasonality=args.seasonality,
    )
    breakdown = None
    if args.label and result.onset is not None:
        breakdown = break_down_segments(series.frame, args.label, result.onset, direction=direction,
                                        seasonality=args.seasonality)
    notes = [*series.notes, *result.notes]
    incident = None
    if bundle is not None:
        from core.onset import bundle_onset

        incident = bundle_onset(bundle)
    if args.json:
        out = result.to_dict()
        out["source"] = series.source
        out["incident_onset"] = incident.to_dict() if incident is not None else None
        out["notes"] = notes
        out["segments"] = breakdown.to_dict() if breakdown else None
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    step = result.resolution_seconds
    print(f"{series.name}: {result.n_points} points, analysed at {step:g}s resolution, "
          f"seasonality {result.seasonality}, {result.method} (penalty scale {result.penalty_scale:g})")
    if not result.change_points:
        print("no change point: the series stays within its normal variation")
    else:
        print(f"change points ({len(result.change_points)}):")
        for c in result.change_points:
            rel = f"{c.relative_change:+.1%}" if c.relative_change is not None else "n/a"
            mark = "  <- main onset" if c is result.onset else ""
            print(f"  {c.time:%Y-%m-%dT%H:%M:%SZ}  {c.level_before:.6g} -> {c.level_after:.6g}  {rel:>7s}  "
                  f"{c.effect:4s}  confidence {c.confidence:.0%}{mark}")
        o = result.onset
        rel = f" ({o.relative_change:+.1%})" if o.relative_change is not None else ""
        print(f"main onset: {o.time:%Y-%m-%dT%H:%M:%SZ} (new level reached {o.settled:%Y-%m-%dT%H:%M:%SZ}); "
              f"{o.level_before:.6g} -> {o.level_after:.6g}{rel}, {o.effect} for a {direction} KPI, "
              f"confidence {o.confidence:.0%}")
    if breakdown:
        print(f"segments by {breakdown.label}: {breakdown.summary}")
        for s in breakdown.segments:
            rel = f"{s.relative_change:+.1%}" if s.relative_change is not None else "n/a"
            print(f"  {s.segment:20s} {s.level_before:.6g} -> {s.level_after:.6g}  {rel:>7s}  "
                  f"{'moved' if s.moved else 'steady'}")
    if incident is not None:
        print(f"incident onset: {incident.at:%Y-%m-%dT%H:%M:%SZ} ({incident.source}; the onset triage, "
              "'changes', the pages and the post-mortem use)")
    for n in notes:
        print(f"note: {n}")
    return 0
