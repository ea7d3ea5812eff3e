"""``python -m core errors [BUNDLE_OR_FOLDER] [--sentry] [--onset TIME] [--window START/END] [--incident ID] [--json]``.

Application errors from Sentry (:mod:`core.sources.errors_sentry`): from a bundle's ``errors/``
folder, a folder or file of Sentry event exports, or with ``--sentry`` the Sentry REST API of the
settings (``SENTRY_URL``, ``SENTRY_ORG``, ``SENTRY_PROJECT``, ``SENTRY_AUTH_TOKEN``). Lists the issues,
the timeline events (new issues, regressions, releases) and the findings around the onset: a new
issue first seen N minutes after a release, a surge of an existing issue. The onset is ``--onset``,
else the bundle's onset (core.onset), else none (then no findings). ``--incident`` adds the timeline
events to that stored incident (all or nothing). Exit codes: 0 on success,
2 for unusable input (a file of another format, naming the file and line), 4 when Sentry cannot be
reached or refuses the token.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.errors import InvalidInputError

HELP = "Sentry issues, releases and findings from a bundle, an event export or the Sentry API"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "errors", help=HELP,
        description="Read Sentry issues and events from a bundle's errors/ folder, a Sentry event export "
                    "(files the sentry-sdk wrote, or the API's event JSON) or, with --sentry, the Sentry REST API; "
                    "list the issues, the timeline events and the findings around the onset "
                    "(new issue after a release: code regression; surge of an existing issue: infrastructure). "
                    "Exit 0: done; 2: unusable input; 4: Sentry unreachable or refusing the token.",
    )
    p.add_argument("source", nargs="?", default=None,
                   help="incident bundle (directory or .zip), or a folder or file of Sentry event exports")
    p.add_argument("--sentry", action="store_true",
                   help="read the Sentry REST API of the settings (SENTRY_*); a bundle given names the window")
    p.add_argument("--onset", default=None, help="the incident onset (ISO 8601, UTC); default: the bundle's")
    p.add_argument("--window", default=None, help="START/END (ISO 8601): only issues seen in it; default: "
                   "the bundle's baseline and window, else everything")
    p.add_argument("--incident", default=None,
                   help="add the timeline events (new issues, regressions, releases) to this stored incident")
    p.add_argument("--database", metavar="URL", help="store URL (default: DATABASE_URL or the embedded SQLite file)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.models import TimeWindow, utc
    from core.sources.errors_sentry import findings, timeline_events
    from core.sources.factory import bundle_of, open_source

    if not args.sentry and not args.source:
        raise InvalidInputError("give a bundle or a Sentry export (file or folder), or --sentry for the Sentry API")
    bundle = bundle_of(args.source) if args.source else None
    window = TimeWindow.parse(args.window) if args.window else None
    if window is None and bundle is not None:
        window = TimeWindow((bundle.baseline or bundle.window).start, bundle.window.end)
    onset = utc(args.onset) if args.onset else None
    if onset is None and bundle is not None:
        from core.onset import bundle_onset

        onset = bundle_onset(bundle).at
    source = open_source("errors", "sentry" if args.sentry else (bundle if bundle is not None else args.source))
    data = source.data(window)
    issues = source.issues(window, limit=10_000) if window else data.issues
    events = timeline_events(data, window)
    baseline = bundle.baseline if bundle is not None and bundle.baseline and onset and bundle.baseline.end <= onset \
        else None
    found = findings(data, onset, baseline=baseline) if onset else []
    if args.incident:
        _store_events(args, events)
    if args.json:
        out = {"source": source.name, "window": window.to_dict() if window else None,
               "onset": onset.isoformat() if onset else None,
               "issues": json.loads(issues.to_json(orient="records", date_format="iso")),
               "releases": json.loads(data.releases.to_json(orient="records", date_format="iso")),
               "timeline": [{**e, "timestamp": e["timestamp"].isoformat(), "end": None} for e in events],
               "findings": [f.to_dict() for f in found]}
        json.dump(out, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    print(f"{source.name}: {len(issues)} issue(s), {len(data.events)} event(s), {len(data.releases)} release(s)")
    for i in issues.itertuples():
        print(f"  {i.first_seen:%Y-%m-%d %H:%M} .. {i.last_seen:%Y-%m-%d %H:%M}  x{i.count:<6} {i.level:7s} {i.title}"
              + (f"  ({i.culprit})" if i.culprit else ""))
    if events:
        print(f"timeline ({len(events)}):")
        for e in events:
            print(f"  {e['timestamp']:%Y-%m-%dT%H:%M:%SZ}  {e['title']}")
    if onset is None:
        print("no onset (give --onset or a bundle): no findings")
    elif found:
        print(f"findings around the onset {onset:%Y-%m-%dT%H:%M:%SZ} ({len(found)}):")
        for f in found:
            cls = "code_regression" if f.kind == "new_after_release" else "infrastructure"
            print(f"  {f.at:%Y-%m-%dT%H:%M:%SZ}  [{cls}] {f.detail}")
    else:
        print(f"no new issue after a release and no surge around the onset {onset:%Y-%m-%dT%H:%M:%SZ}")
    return 0


def _store_events(args: argparse.Namespace, events: list[dict]) -> None:
    """Add the timeline events to the stored incident (all or nothing)."""
    from core.flows.timeline_io import add_source_events

    added = add_source_events(args.database, args.incident, events)
    if not args.json:
        print(f"{added} event(s) added to the timeline of {args.incident}")
