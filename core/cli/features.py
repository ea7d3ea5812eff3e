"""``python -m core features REPO [--at TIME] [--json]``: a Feast feature store's views and their freshness.

REPO is a Feast repository folder (local provider, file offline store; read with ``feast``, which lives
in its own venv: README), a snapshot JSON written by ``--export``, or a bundle (its ``features/`` snapshot;
no Feast needed). It lists each feature view's entities, features, source, TTL and last materialised
interval, and whether its online values are older than the TTL at ``--at`` (default: now; a bundle's
window end). With ``--view``, ``--a`` and ``--b`` it fetches the view's historical values for the same
entities (``--entities`` FILE with the join-key columns, default the keys in the view's source) at the two
times and compares them with the drift report.

Exit codes: 0 when no view is stale (no drift between the two times), 1 when some are (drift), 2 for
unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InvalidInputError

HELP = "Feast feature views, sources and TTLs, materialisation freshness, and values at two times compared"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "features", help=HELP,
        description="Read a Feast repository (feature_store.yaml and its registry; needs the feast venv), a "
                    "snapshot JSON or a bundle's features/ snapshot: feature views, entities, sources, TTLs and the "
                    "last materialised interval, stale when older than the TTL at --at. With --view, --a and --b: "
                    "the same entities' historical values at two times, compared. Exit 0: nothing stale (no "
                    "drift); 1: stale views (drift); 2: unusable input.",
    )
    p.add_argument("repo", metavar="REPO", help="Feast repository folder, snapshot JSON, or bundle")
    p.add_argument("--at", metavar="TIME", help="judge freshness at this ISO time (default: now; a bundle's window end)")
    p.add_argument("--export", metavar="FILE", help="write the repository's snapshot JSON (for a bundle's features/)")
    p.add_argument("--view", metavar="NAME", help="the feature view whose values to compare")
    p.add_argument("--a", metavar="TIME", help="reference time of the values")
    p.add_argument("--b", metavar="TIME", help="current time of the values")
    p.add_argument("--entities", metavar="FILE", help="CSV/Parquet of entity join keys (default: the view's source)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from core.models import utc
    from core.sources.factory import bundle_of, open_source
    from core.sources.features_feast import freshness

    if args.view or args.a or args.b:
        return _compare(args)
    repo = open_source("features", args.repo)
    if args.export:
        Path(args.export).write_text(json.dumps(repo.to_dict(), indent=2) + "\n", encoding="utf-8")
    bundle = bundle_of(args.repo) if not args.at else None
    at = utc(args.at) if args.at else (bundle.window.end if bundle is not None else datetime.now(timezone.utc))
    states = freshness(repo, at)
    stale = [s for s in states if s.stale]
    if args.json:
        out = repo.to_dict()
        out["freshness"] = [s.to_dict() for s in states]
        json.dump(out, sys.stdout, default=str, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{repo.label}: {len(repo.views)} feature view(s), {len(stale)} stale at {at:%Y-%m-%d %H:%M} UTC")
        by_view = {s.view: s for s in states}
        for v in repo.views:
            print(f"  {v.name}: entities {', '.join(v.entities) or '-'}; {len(v.features)} feature(s) "
                  f"({', '.join(list(v.features)[:6])}); source {v.source or '-'}")
            state = by_view.get(v.name)
            print(f"    {state.text() if state else 'offline only (not served online)'}")
    return 1 if stale else 0


def _compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from core.analysis.versions import compare_versions
    from core.cli.versions import _print_comparison
    from core.sources.datasets import read_dataset
    from core.sources.features_feast import historical_values, read_repo

    if not (args.view and args.a and args.b):
        raise InvalidInputError("give --view, --a and --b together to compare a feature view's values at two times")
    repo = Path(args.repo)
    info = read_repo(repo)
    view = info.view(args.view)
    if args.entities:
        entities = read_dataset(args.entities)
    else:
        source = Path(view.source_path)
        source = source if source.is_absolute() else repo / source
        if not source.is_file():
            raise InvalidInputError(f"the source of {view.name} ({source}) is not a local file; pass --entities FILE")
        keys = [k for e in view.entities for k in info.entities.get(e, (e,))]
        entities = pd.read_parquet(source, columns=keys).drop_duplicates().head(10_000)
    a, b = historical_values(repo, view.name, entities, args.a, args.b)
    keys = [c for c in a.columns if c not in view.features]
    result = compare_versions(view.name, args.a, a, args.b, b, exclude=keys)
    extra = {"entities": len(a), "missing_a": int(a[list(view.features)].isna().all(axis=1).sum()),
             "missing_b": int(b[list(view.features)].isna().all(axis=1).sum())}
    return _print_comparison(result, f"{info.label} feature view {view.name}", args.json, extra)
