"""``python -m core pin INCIDENT --kind triage|changes [--author NAME]``: pin a finding of a stored incident as evidence.

The same findings the pages pin, computed the way the pages compute them, and stored by the same
functions (:mod:`core.flows.pin`), so a pin from the command line is the row the page would store:

- ``triage``: triage over the incident's bundle with its stored milestones (the Triage page's
  "Pin this triage result as evidence");
- ``changes``: the incident's timeline events ranked before its onset (the one onset policy) over
  ``--lookback`` hours (the Timeline page's "Pin this list as evidence").

``--json`` prints ``{"incident", "kind", "evidence", "title"}``. Exit codes: 0 pinned; 2 bad input
(unknown incident, no bundle for triage, no onset for changes, a finding too large to pin); 4 the
store is unavailable.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from core.errors import InvalidInputError

KINDS = ("triage", "changes")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pin", help="pin an incident's triage result or ranked changes as evidence",
        description="Compute a finding over a stored incident as its page does and pin it as evidence "
                    "(on the timeline and in the post-mortem): 'triage' runs triage over its bundle with its "
                    "stored milestones; 'changes' ranks its timeline events before its onset.",
    )
    p.add_argument("incident", metavar="INCIDENT", help="incident id, e.g. demo-ctr-drop")
    p.add_argument("--kind", required=True, choices=KINDS, help="what to pin: triage or changes")
    p.add_argument("--author", default="", metavar="NAME", help="who pins it (recorded with the evidence)")
    p.add_argument("--lookback", type=float, default=72.0, metavar="HOURS",
                   help="changes: hours before the onset to rank (default 72, as on the Timeline page)")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="triage: MLflow tracking URI for the model-registry step (default as for 'triage')")
    p.add_argument("--database", metavar="URL", help="store URL (default: DATABASE_URL or the embedded SQLite file)")
    p.add_argument("--json", action="store_true", help='print {"incident", "kind", "evidence", "title"}')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.flows import pin as flows_pin
    from core.store import open_store
    from core.store.incidents import get_incident

    if not args.lookback > 0:
        raise InvalidInputError(f"--lookback {args.lookback} must be a positive number of hours, e.g. 72")
    store = open_store(args.database)
    try:
        incident = get_incident(store, args.incident)
        if args.kind == "triage":
            from core.flows.triage import triage_incident
            from core.sources.mlflow_runs import configured_tracking_uri

            uri = args.tracking_uri or configured_tracking_uri()
            result = triage_incident(incident, tracking_uri=uri)
            evidence = flows_pin.pin_triage(store, incident, result, args.author, tracking_uri=uri)
        else:
            from core.analysis.correlate import rank_changes
            from core.onset import onset_of_incident
            from core.store.timeline import list_events

            onset = onset_of_incident(incident)
            ranking = rank_changes(list_events(store, incident.id), onset.at,
                                   lookback=timedelta(hours=args.lookback), onset_source=onset.source)
            evidence = flows_pin.pin_ranking(store, incident, ranking, args.author)
    finally:
        store.dispose()
    if args.json:
        print(json.dumps({"incident": incident.id, "kind": args.kind, "evidence": evidence.id,
                          "title": evidence.title}))
    else:
        print(f"pinned evidence #{evidence.id} on {incident.id}: {evidence.title}")
    return 0
