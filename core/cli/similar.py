"""``python -m core similar INCIDENT``: stored incidents most like one, and why; recurrence per pattern."""

from __future__ import annotations

import argparse
import json

from core.store import open_store

HELP = "past incidents most similar to one (class, service, model, features, checks, log templates), and why"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("similar", help=HELP, description=(
        "Rank the stored incidents by what they share with INCIDENT and say why; with --recurrence, list "
        "incidents per month of every failure pattern before and after its guard rail shipped."))
    parser.add_argument("incident", nargs="?", help="incident id, e.g. demo-fraud-stale")
    parser.add_argument("--limit", type=int, default=5, help="how many to list (default 5)")
    parser.add_argument("--recurrence", action="store_true",
                        help="instead: recurrence per failure pattern (class/service) before and after its guard rail")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.analysis.similar import rank_similar
    from core.errors import InvalidInputError
    from core.store.analytics import load_guard_rails, load_signature, load_signatures

    if args.recurrence == bool(args.incident):
        raise InvalidInputError("name an incident to find similar ones, or give --recurrence (without an incident)")
    store = open_store()
    try:
        if args.recurrence:
            from core.analysis.incident_analytics import recurrence_by_pattern

            found = recurrence_by_pattern(load_signatures(store), load_guard_rails(store))
        else:
            target = load_signature(store, args.incident)
            ranked = rank_similar(target, load_signatures(store), limit=args.limit)
    finally:
        store.dispose()
    if args.recurrence:
        if args.json:
            print(json.dumps([{"pattern": r.pattern, "incidents": list(r.incidents), "guard_rails": list(r.guard_rails),
                               "shipped": r.shipped.isoformat().replace("+00:00", "Z") if r.shipped else None,
                               "before": r.before, "after": r.after, "rate_before": round(r.rate_before, 4),
                               "rate_after": None if r.rate_after is None else round(r.rate_after, 4),
                               "monthly": [{"month": m.strftime("%Y-%m"), "count": int(c), "phase": p}
                                           for m, c, p in r.monthly.itertuples(index=False)]}
                              for r in found]))
        else:
            for r in found:
                print(r.sentence)
            if not found:
                print("No incident has a root-cause class yet, so there is no failure pattern to count.")
        return 0
    if args.json:
        print(json.dumps({"incident": target.incident_id, "signature": target.to_dict(),
                          "similar": [s.to_dict() for s in ranked]}))
        return 0
    if not ranked:
        print(f"No stored incident shares a root-cause class, service, model, feature, failing check or log "
              f"template with {target.incident_id}.")
    for s in ranked:
        print(f"{s.incident_id}  {s.score:.2f}  {s.signature.title}")
        for r in s.reasons:
            print(f"    - {r.text}")
    return 0
