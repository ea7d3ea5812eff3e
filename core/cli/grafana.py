"""``python -m core grafana link|push|import``: Grafana Explore links, incident annotations, alert history.

* ``link --datasource prometheus|elasticsearch --query Q --window START/END``: print the Explore URL
  of the query on that absolute range (:func:`core.sources.grafana.explore_url`);
* ``push INCIDENT [--database URL]``: push the stored incident's milestones and pinned timeline events
  as annotations tagged ``incident:<id>`` (those already there are skipped);
* ``import FILE [--incident ID] [--json]``: Grafana annotation JSON or alert-state history as timeline
  events, printed, and with ``--incident`` added to that stored incident's timeline (all or nothing).

Settings: ``GRAFANA_*`` or ``[grafana]`` (docs/grafana.md). Exit codes: 0 on success, 2 for unusable
input (settings missing, a file of another format), 4 when Grafana cannot be reached or refuses the token.
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "Grafana: Explore link for a query and range, push incident annotations, import alert history"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "grafana", help=HELP,
        description="Grafana (GRAFANA_URL, GRAFANA_TOKEN, GRAFANA_PROMETHEUS_DATASOURCE, "
                    "GRAFANA_ELASTICSEARCH_DATASOURCE; see docs/grafana.md). "
                    "Exit 0: done; 2: unusable input; 4: Grafana unreachable or refusing the token.",
    )
    sub = p.add_subparsers(dest="grafana_command", metavar="ACTION", required=True)
    link = sub.add_parser("link", help="print the Grafana Explore URL of a query on an absolute range")
    link.add_argument("--datasource", required=True, choices=["prometheus", "elasticsearch"],
                      help="which configured data source (PromQL or Lucene)")
    link.add_argument("--query", required=True, help="the PromQL or Lucene query")
    link.add_argument("--window", required=True, help="START/END (ISO 8601, UTC)")
    link.set_defaults(func=_link)
    push = sub.add_parser("push", help="push a stored incident's milestones and pinned events as annotations")
    push.add_argument("incident", help="the incident id")
    push.add_argument("--database", metavar="URL", help="store URL (default: DATABASE_URL or the embedded SQLite file)")
    push.add_argument("--json", action="store_true", help='print {"incident", "added", "skipped"}')
    push.set_defaults(func=_push)
    imp = sub.add_parser("import", help="read Grafana annotation JSON or alert-state history as timeline events")
    imp.add_argument("file", help="a JSON file: GET /api/annotations or GET /api/v1/rules/history output")
    imp.add_argument("--incident", default=None, help="add the events to this stored incident's timeline")
    imp.add_argument("--database", metavar="URL", help="store URL (default: DATABASE_URL or the embedded SQLite file)")
    imp.add_argument("--json", action="store_true", help="print the events as JSON")
    imp.set_defaults(func=_import)


def _link(args: argparse.Namespace) -> int:
    from core.config import settings
    from core.models import TimeWindow
    from core.sources.grafana import explore_url

    print(explore_url(settings(), args.datasource, args.query, TimeWindow.parse(args.window)))
    return 0


def _push(args: argparse.Namespace) -> int:
    from core.config import settings
    from core.sources.grafana import GrafanaClient
    from core.store import open_store
    from core.store.incidents import get_incident
    from core.store.timeline import list_events

    client = GrafanaClient.from_settings(settings())
    store = open_store(args.database)
    try:
        incident = get_incident(store, args.incident)
        events = list_events(store, incident.id)
    finally:
        store.dispose()
    got = client.push(incident, events)
    if args.json:
        print(json.dumps({"incident": incident.id, **got}))
    else:
        print(f"{incident.id}: {len(got['added'])} annotation(s) added to {client.display_url}, "
              f"{got['skipped']} already there")
    return 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.sources.grafana import read_annotations

    events = read_annotations(Path(args.file))
    if args.incident:
        from core.flows.timeline_io import add_source_events

        added = add_source_events(args.database, args.incident, events)
        if not args.json:
            print(f"{added} event(s) added to the timeline of {args.incident}")
    if args.json:
        json.dump([{**e, "timestamp": e["timestamp"].isoformat(),
                    "end": e["end"].isoformat() if e["end"] else None} for e in events],
                  sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    for e in events:
        print(f"{e['timestamp']:%Y-%m-%dT%H:%M:%SZ}  {e['kind']:10s} {e['title']}")
    return 0
