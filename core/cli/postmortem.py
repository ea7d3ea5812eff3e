"""``python -m core postmortem INCIDENT_ID --format md|html|pdf --output FILE [--database URL]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InvalidInputError
from core.report.postmortem import build_postmortem, gather_inputs
from core.report.render import FORMATS, export_info, export_postmortem
from core.store import open_store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "postmortem", help="write an incident's blameless post-mortem as Markdown, HTML or PDF",
        description="Draft the post-mortem of an incident from its timeline, fishbone, Five Whys, action items "
                    "and pinned evidence (saved section edits win over the draft) and write it as Markdown, "
                    "a self-contained HTML file with interactive charts, or a PDF.",
    )
    parser.add_argument("incident", metavar="INCIDENT_ID", help="incident id, e.g. demo-ctr-drop")
    parser.add_argument("--format", "-f", choices=FORMATS, default="md", help="output format (default: md)")
    parser.add_argument("--output", "-o", type=Path,
                        help="file to write (default: stdout for md and html; required for pdf)")
    parser.add_argument("--database", metavar="URL",
                        help="store URL (default: DATABASE_URL or the embedded SQLite file)")
    parser.add_argument("--mask", action="store_true",
                        help="mask e-mail and IP addresses, API keys, tokens and card numbers (core/masking.py)")
    parser.add_argument("--no-charts", action="store_true", help="leave the charts out (faster; text only)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON summary {incident, format, output, bytes, sections, edited, charts, "
                             "evidence, key_events, masked, warnings} instead of the report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output is not None and not args.output.parent.exists():
        raise InvalidInputError(f"folder {args.output.parent} does not exist; create it first")
    if args.format == "pdf" and args.output is None and sys.stdout.isatty():
        raise InvalidInputError("PDF is binary; give --output FILE or redirect stdout to a file")
    store = open_store(args.database)
    try:
        pm = build_postmortem(gather_inputs(store, args.incident), mask=args.mask, charts=not args.no_charts)
    finally:
        store.dispose()
    data = export_postmortem(pm, args.format)
    if args.output is not None:
        args.output.write_bytes(data)
    elif not args.json:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if args.json:
        print(json.dumps({"format": args.format, "output": str(args.output) if args.output else None,
                          "bytes": len(data), **export_info(pm)}))
    for w in pm.warnings if not args.json else ():
        print(f"blameless check ({w.section}): {w.problem}: {w.excerpt} — {w.suggestion}", file=sys.stderr)
    return 0
