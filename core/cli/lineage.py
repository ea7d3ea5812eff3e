"""``python -m core lineage TARGET_OR_BUNDLE [--feature NAME] [--previous MANIFEST] [--json]``: dbt lineage.

Reads the dbt artifacts of a ``target/`` folder, a dbt project or a bundle's ``dbt/`` folder
(:mod:`core.sources.lineage_dbt`), maps each ``--feature`` to its dbt column or model, and lists
the nodes upstream of it and what changed, failed a test, errored, ran late or went stale, with the
path to the feature. Exit codes: 0 when nothing is found (upstream of the features when given, else
anywhere), 1 when something is, 2 for unusable input (a missing, malformed, partial or unsupported
artifact; a feature dbt does not produce).
"""

from __future__ import annotations

import argparse
import json
import sys

from core.errors import InvalidInputError

HELP = "dbt lineage: upstream of a feature, and what changed, failed or went stale"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lineage", help=HELP,
        description="Read dbt artifacts (manifest.json, run_results.json, sources.json, catalog.json) from a "
                    "target/ folder, a dbt project or a bundle's dbt/ folder; show the path from each feature back "
                    "to its sources and the nodes that changed, failed a test, errored, ran late or went stale.",
    )
    p.add_argument("target", help="a dbt target/ folder, a dbt project folder, or an incident bundle (dir or .zip)")
    p.add_argument("--feature", action="append", default=[],
                   help="a model input feature to trace (repeatable; default: the feature model, if one)")
    p.add_argument("--previous", default=None,
                   help="the manifest.json (or its folder) from before the change (default: previous/ in the folder)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.sources.lineage_dbt import findings, load_lineage, path_text

    lineage = load_lineage(args.target, previous=args.previous)
    mapping = lineage.map_features(args.feature)
    missing = [f for f in args.feature if f not in mapping]
    if missing:
        raise InvalidInputError(f"{lineage.name}: no dbt model produces feature(s) {', '.join(missing)} and no "
                                "feature model is marked (meta feature_table: true)")
    if not args.feature and lineage.feature_model():
        uid = lineage.feature_model()
        mapping = {lineage.nodes[uid].label: (uid, None)}
    found = findings(lineage)
    features = {}
    on_path: set[int] = set()
    for name, (uid, column) in mapping.items():
        nodes = lineage.path_subgraph([uid])
        mine = [i for i, f in enumerate(found) if f.node in nodes]
        on_path.update(mine)
        features[name] = {"model": uid, "column": column,
                          "upstream": [lineage.nodes[u].label for u in lineage.upstream_of(uid)],
                          "paths": [path_text(lineage, found[i], name, uid) for i in mine]}
    shown = [found[i] for i in sorted(on_path)] if args.feature else found
    counts: dict[str, int] = {}
    for n in lineage.nodes.values():
        counts[n.resource_type] = counts.get(n.resource_type, 0) + 1
    if args.json:
        out = {"folder": lineage.name, "dbt_version": lineage.dbt_version,
               "generated_at": (lineage.generated_at.isoformat().replace("+00:00", "Z")
                                if lineage.generated_at else None),
               "run_command": lineage.run_command, "nodes": counts, "features": features,
               "findings": [f.to_dict() for f in shown]}
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 1 if shown else 0
    print(f"dbt {lineage.dbt_version or '?'} artifacts in {lineage.name}: "
          + ", ".join(f"{v} {k}(s)" for k, v in sorted(counts.items()))
          + (f"; last run: {lineage.run_command}" if lineage.run_command else ""))
    for name, info in features.items():
        where = f"{lineage.nodes[info['model']].label}.{info['column']}" if info["column"] \
            else f"{lineage.nodes[info['model']].label} (model level)"
        print(f"feature {name} -> {where}; upstream: {' <- '.join(info['upstream']) or 'nothing'}")
        for p in info["paths"]:
            print(f"  {p}")
    if not shown:
        print("nothing changed, failed, errored, ran late or went stale"
              + (" upstream of the features" if args.feature else ""))
    else:
        print(f"findings ({len(shown)}):")
        for f in shown:
            at = f"{f.at:%Y-%m-%dT%H:%M:%SZ}" if f.at else "no time"
            print(f"  {at}  {f.kind:11s} {f.detail}")
    return 1 if shown else 0
