"""``python -m core postmortem INCIDENT_ID --format md|html|pdf --output FILE [--attachments DIR_OR_ZIP]``.

With ``--attachments`` (or ``--guard-rails``) the guard rails are generated from the incident's
bundle and proven (promtool, amtool, the breaker replay, the data contract), the action-item
section and the STAR summary cite them, and ``--attachments`` writes their files (rules, unit
tests, Alertmanager routes, contract, breaker policy, proof summary, runbook link) into a folder,
or a zip when the path ends in ``.zip``. Exit codes: 0 written; 2 unusable input; 5 promtool or
amtool failed (the report and attachments are still written; the tool's message is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
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
    parser.add_argument("--attachments", type=Path, metavar="DIR_OR_ZIP",
                        help="generate the guard rails and write them beside the report: a zip when the path ends "
                             "in .zip, else a folder (implies --guard-rails)")
    parser.add_argument("--who-did-what", action="store_true",
                        help="add who did what, when (from the audit log) to the Response section")
    parser.add_argument("--guard-rails", action="store_true",
                        help="generate the guard rails from the incident's bundle and cite their proofs in the "
                             "action items and the STAR summary")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON summary {incident, format, output, bytes, sections, edited, charts, "
                             "evidence, key_events, masked, warnings, guard_rails, attachments} instead of the report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output is not None and not args.output.parent.exists():
        raise InvalidInputError(f"folder {args.output.parent} does not exist; create it first")
    if args.format == "pdf" and args.output is None and sys.stdout.isatty():
        raise InvalidInputError("PDF is binary; give --output FILE or redirect stdout to a file")
    if args.attachments is not None and args.attachments.suffix.lower() == ".zip" \
            and not args.attachments.parent.exists():
        raise InvalidInputError(f"folder {args.attachments.parent} does not exist; create it first")
    store = open_store(args.database)
    plan = None
    try:
        inputs = gather_inputs(store, args.incident)
        if args.who_did_what:
            from core.report.audit import who_did_what

            inputs = replace(inputs, who_did_what=who_did_what(store, args.incident))
        if args.attachments is not None or args.guard_rails:
            from core.report.guardrails import generate_for_incident

            with tempfile.TemporaryDirectory(prefix="postmortem-guard-rails-") as tmp:
                rails, plan = generate_for_incident(store, inputs.incident, out_dir=Path(tmp))
            inputs = replace(inputs, guard_rails=rails)
        pm = build_postmortem(inputs, mask=args.mask, charts=not args.no_charts)
    finally:
        store.dispose()
    written: list[Path] = []
    if args.attachments is not None and pm.guard_rails is not None:
        from core.report.guardrails import write_attachments

        written = write_attachments(pm.guard_rails, args.attachments)
    data = export_postmortem(pm, args.format)
    if args.output is not None:
        args.output.write_bytes(data)
    elif not args.json:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if args.json:
        print(json.dumps({"format": args.format, "output": str(args.output) if args.output else None,
                          "bytes": len(data), **export_info(pm),
                          "attachments": [str(p) for p in written] if args.attachments is not None else None}))
    for w in pm.warnings if not args.json else ():
        print(f"blameless check ({w.section}): {w.problem}: {w.excerpt} — {w.suggestion}", file=sys.stderr)
    failed = plan.failed_tool() if plan is not None else None
    if failed is not None:
        tool = "amtool" if "amtool" in failed.command[0] else "promtool"
        print(f"{tool} failed on the guard rails: {' '.join(failed.output.split())}", file=sys.stderr)
        return 5
    return 0
