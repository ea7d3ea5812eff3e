"""``python -m core accept INCIDENT --author NAME [--rank N]``: accept a triage hypothesis onto the fishbone.

Runs triage over the incident's bundle with its stored milestones (as the Triage page's Run
does, :func:`core.flows.triage.triage_incident`) and accepts the hypothesis of rank ``N``
(default 1, the most likely) as the page's Accept button does
(:func:`core.flows.accept.accept_hypothesis`): a *suspected* cause in the class's fishbone
category, with the hypothesis' evidence, and a first Five Whys chain ending at it.
``--json`` prints::

    {"incident", "rank", "class", "category", "created", "cause": {"id", "text", "status"},
     "whys": [id, ...]}

Exit codes: 0 accepted (also when it was on the fishbone already: ``created`` false); 2 bad
input (unknown incident, no bundle, a rank out of range or without evidence); 3 a concurrent
edit was refused; 4 the store is unavailable.
"""

from __future__ import annotations

import argparse
import json

from core.errors import InvalidInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "accept", help="accept a triage hypothesis as a suspected fishbone cause with a Five Whys chain",
        description="Run triage over a stored incident's bundle (with its stored milestones, as the Triage page "
                    "does) and accept one hypothesis: a suspected cause in its fishbone category, carrying its "
                    "evidence, and a first Five Whys chain. Accepting it again changes nothing.",
    )
    p.add_argument("incident", metavar="INCIDENT", help="incident id, e.g. demo-ctr-drop")
    p.add_argument("--rank", type=int, default=1, metavar="N",
                   help="the hypothesis to accept, by rank (default 1: the most likely)")
    p.add_argument("--author", required=True, metavar="NAME", help="who accepts it (kept in the cause's notes)")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="MLflow tracking URI for triage's model-registry step (default as for 'triage')")
    p.add_argument("--database", metavar="URL", help="store URL (default: DATABASE_URL or the embedded SQLite file)")
    p.add_argument("--json", action="store_true", help="print the accepted cause as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.flows.accept import accept_hypothesis, category_for
    from core.flows.triage import triage_incident
    from core.sources.mlflow_runs import configured_tracking_uri
    from core.store import open_store
    from core.store.incidents import get_incident

    if not args.author.strip():
        raise InvalidInputError("--author is empty; give the name of who accepts the hypothesis")
    if args.rank < 1:
        raise InvalidInputError(f"--rank {args.rank} is out of range; 1 is the most likely hypothesis")
    store = open_store(args.database)
    try:
        incident = get_incident(store, args.incident)
        result = triage_incident(incident, tracking_uri=args.tracking_uri or configured_tracking_uri())
        ranks = len(result.hypotheses)
        if not 1 <= args.rank <= ranks:
            raise InvalidInputError(f"--rank {args.rank} is out of range; the triage has {ranks} hypotheses (1–{ranks})")
        chosen = result.hypotheses[args.rank - 1]
        if not chosen.signals:
            raise InvalidInputError(f"hypothesis {args.rank} ({chosen.label}) has no evidence; nothing to accept")
        got = accept_hypothesis(store, incident.id, chosen, args.author)
    finally:
        store.dispose()
    category = category_for(chosen.root_cause)
    if args.json:
        print(json.dumps({
            "incident": incident.id, "rank": args.rank, "class": chosen.root_cause.value, "category": category,
            "created": got.created,
            "cause": {"id": got.cause.id, "text": got.cause.text, "status": str(got.cause.status)},
            "whys": [w.id for w in got.whys],
        }))
    elif got.created:
        print(f"accepted hypothesis {args.rank} ({chosen.label}) as suspected cause #{got.cause.id} "
              f"in '{category}': {got.cause.text}")
        print(f"Five Whys chain: steps {', '.join(f'#{w.id}' for w in got.whys)}")
    else:
        print(f"hypothesis {args.rank} ({chosen.label}) is on the fishbone already as cause #{got.cause.id}: "
              f"{got.cause.text}")
    return 0
