"""``python -m core fishbone export INCIDENT --format md|mermaid|json|svg|png``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InvalidInputError
from core.report.fishbone_export import FORMATS, export_fishbone, write_bundle_fishbone
from core.store import open_store
from core.store.fishbone import get_fishbone
from core.store.incidents import get_incident


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("fishbone", help="export an incident's fishbone and Five Whys")
    sub = parser.add_subparsers(dest="fishbone_command", metavar="ACTION", required=True)
    export = sub.add_parser(
        "export", help="write the fishbone as Markdown, Mermaid, JSON, SVG or PNG",
        description="Export an incident's fishbone (store: DATABASE_URL or the embedded SQLite file).",
    )
    export.add_argument("incident", help="incident id, e.g. demo-ctr-drop")
    export.add_argument("--format", "-f", choices=FORMATS, default="md", help="output format (default: md)")
    export.add_argument("--output", "-o", type=Path,
                        help="file to write (default: stdout; required for png to a terminal)")
    export.add_argument("--presentation", action="store_true", help="dark theme, large type (svg/png)")
    export.add_argument("--to-bundle", action="store_true",
                        help="also write fishbone.json into the incident's bundle directory")
    export.add_argument("--json", action="store_true",
                        help="print a JSON summary {incident, format, output, bytes, bundle_file} instead")
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        incident = get_incident(store, args.incident)
        fishbone = get_fishbone(store, incident.id)
        data = export_fishbone(fishbone, args.format, presentation=args.presentation)
        bundle_file = None
        if args.to_bundle:
            if not incident.bundle_path:
                raise InvalidInputError(f"incident '{incident.id}' has no bundle; drop --to-bundle")
            bundle_file = str(write_bundle_fishbone(fishbone, incident.bundle_path))
    finally:
        store.dispose()
    if args.output is not None:
        if not args.output.parent.exists():
            raise InvalidInputError(f"folder {args.output.parent} does not exist; create it first")
        args.output.write_bytes(data)
    elif args.format == "png" and sys.stdout.isatty():
        raise InvalidInputError("PNG is binary; give --output FILE or redirect stdout to a file")
    elif not args.json:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if args.json:
        print(json.dumps({"incident": incident.id, "format": args.format,
                          "output": str(args.output) if args.output else None, "bytes": len(data),
                          "bundle_file": bundle_file}))
    return 0
