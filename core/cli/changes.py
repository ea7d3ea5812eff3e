"""``python -m core changes BUNDLE``: the change events before the onset, ranked.

The onset is ``--onset``, else the one onset policy of :mod:`core.onset` (the
bundle's ``started`` milestone event; the KPI change point that triage and the pages
use; the end of the bundle's baseline window; the start of its window).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta

from core.analysis.correlate import (
    DEFAULT_HALF_LIFE,
    DEFAULT_LOOKBACK,
    ChangeRanking,
    parse_prior_args,
    rank_changes,
)
from core.bundle import Bundle, read_bundle
from core.errors import InvalidInputError
from core.models import format_duration, iso
from core.onset import bundle_milestones, bundle_onset


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "changes",
        help="rank the change events before the incident onset",
        description="List the change events (deploys, model versions, config and pipeline changes, external "
                    "events) in a look-back window before the onset, ranked by closeness and kind prior.",
    )
    p.add_argument("bundle", metavar="BUNDLE", help="incident bundle directory or .zip")
    p.add_argument("--json", action="store_true", help="print the ranking as JSON")
    p.add_argument("--lookback", type=float, default=DEFAULT_LOOKBACK.total_seconds() / 3600, metavar="HOURS",
                   help="hours before the onset to look at (default 72)")
    p.add_argument("--onset", metavar="ISO", help="impact start, e.g. 2026-03-12T14:20Z (default: see above)")
    p.add_argument("--half-life", type=float, default=DEFAULT_HALF_LIFE.total_seconds() / 3600, metavar="HOURS",
                   help="age in hours at which closeness halves (default 6)")
    p.add_argument("--prior", action="append", default=[], metavar="KIND=WEIGHT",
                   help="override a kind prior (0..1), repeatable, e.g. --prior deploy=0.9")
    p.add_argument("--top", type=int, default=0, metavar="N", help="show only the first N (default all)")
    p.set_defaults(func=run)


__all__ = ["bundle_milestones", "rank_bundle", "register", "run"]


def rank_bundle(bundle: Bundle, *, onset: str | None = None, lookback: timedelta = DEFAULT_LOOKBACK,
                half_life: timedelta = DEFAULT_HALF_LIFE, priors: dict[str, float] | None = None) -> ChangeRanking:
    """Rank a bundle's change events before its onset (resolved as described in the module docstring)."""
    chosen = bundle_onset(bundle, explicit=onset)
    return rank_changes(bundle.events(), chosen.at, lookback=lookback, half_life=half_life, priors=priors,
                        onset_source=chosen.source)


def run(args: argparse.Namespace) -> int:
    if args.lookback <= 0:
        raise InvalidInputError(f"--lookback {args.lookback} must be a positive number of hours, e.g. 72")
    if args.half_life <= 0:
        raise InvalidInputError(f"--half-life {args.half_life} must be a positive number of hours, e.g. 6")
    priors = parse_prior_args(args.prior)
    bundle = read_bundle(args.bundle)
    ranking = rank_bundle(bundle, onset=args.onset, lookback=timedelta(hours=args.lookback),
                          half_life=timedelta(hours=args.half_life), priors=priors)
    changes = ranking.changes[: args.top] if args.top > 0 else ranking.changes
    if args.json:
        out = ranking.to_dict()
        out["bundle"] = bundle.id
        out["changes"] = [c.to_dict() for c in changes]
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{bundle.id}: onset {iso(ranking.onset)} ({ranking.onset_source}); "
          f"look-back {format_duration(ranking.lookback)}; {len(ranking.changes)} change(s)")
    if not changes:
        print("no change events in the look-back window")
        return 0
    for c in changes:
        print(f"{c.rank:>3}. {c.score:5.2f}  {iso(c.event.timestamp)}  {c.event.kind:<14} {c.event.title}")
        print(f"      {'; '.join(c.evidence[:3])}")
    return 0
