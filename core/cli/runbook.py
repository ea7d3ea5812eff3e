"""``python -m core runbook list|show|export|learn``: the runbook entries of the incident store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InvalidInputError
from core.models import RootCause
from core.store import open_store

HELP = "runbooks per failure pattern: list, show, export as Markdown, learn from an incident"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("runbook", help=HELP, description=(
        "Runbook entries of the incident store (DATABASE_URL or the embedded SQLite file): one per root-cause "
        "class by default, plus the failure patterns learned from incidents."))
    sub = parser.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)
    classes = [c.value for c in RootCause]

    lst = sub.add_parser("list", help="list the entries: pattern, class, origin, version, title")
    lst.add_argument("--cause", choices=classes, help="only the entries of this root-cause class")
    lst.add_argument("--json", action="store_true", help="print a JSON list of entries")
    lst.set_defaults(func=run_list)

    show = sub.add_parser("show", help="print one entry (its current version, or --version N)")
    show.add_argument("pattern", help="the entry's pattern, e.g. stale_data or schema_change/lab-scorer")
    show.add_argument("--version", type=int, help="an older version (default: the current one)")
    show.add_argument("--history", action="store_true", help="list every version: number, author, time, note")
    show.add_argument("--incident", help="fill the incident id into the workbench links")
    show.add_argument("--json", action="store_true", help="print the entry as JSON")
    show.set_defaults(func=run_show)

    export = sub.add_parser("export", help="write entries as Markdown (one file per entry with --all)")
    export.add_argument("pattern", nargs="?", help="the entry's pattern (or --all)")
    export.add_argument("--all", action="store_true", help="every entry, one Markdown file each, into --output DIR")
    export.add_argument("--incident", help="fill the incident id into the workbench links")
    export.add_argument("--base-url", default="", help="prefix of the links, e.g. https://workbench.example.com")
    export.add_argument("--output", "-o", type=Path, help="file (or folder with --all) to write; default stdout")
    export.set_defaults(func=run_export)

    learn = sub.add_parser("learn", help="add an incident's failure pattern to the runbooks (new entry or version)")
    learn.add_argument("incident", help="incident id; its root-cause class is used unless --cause is given")
    learn.add_argument("--cause", choices=classes, help="the confirmed root-cause class")
    learn.add_argument("--author", default="", help="who adds it (recorded on the version)")
    learn.add_argument("--json", action="store_true", help="print {pattern, version, created} as JSON")
    learn.set_defaults(func=run_learn)


def run_list(args: argparse.Namespace) -> int:
    from core.store.runbooks import list_runbooks

    store = open_store()
    try:
        books = list_runbooks(store, args.cause)
    finally:
        store.dispose()
    if args.json:
        print(json.dumps([{"pattern": b.pattern, "cause_class": b.cause_class.value, "origin": b.origin,
                           "version": b.version, "title": b.title, "source_incident": b.source_incident_id}
                          for b in books]))
        return 0
    width = max(len(b.pattern) for b in books)
    for b in books:
        print(f"{b.pattern:<{width}}  {b.origin:<7}  v{b.version:<3}  {b.title}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from core.prevention.runbooks import to_markdown
    from dataclasses import replace
    from core.store.runbooks import get_runbook, get_version, list_versions

    store = open_store()
    try:
        rb = get_runbook(store, args.pattern)
        versions = list_versions(store, args.pattern) if args.history else []
        if args.version is not None:
            old = get_version(store, args.pattern, args.version)
            rb = replace(rb, version=old.version, content=old.content, author=old.author, updated_at=old.saved_at)
    finally:
        store.dispose()
    if args.history:
        rows = [{"version": v.version, "author": v.author, "saved_at": v.saved_at.isoformat().replace("+00:00", "Z"),
                 "note": v.note, "title": v.content.title} for v in versions]
        if args.json:
            print(json.dumps(rows))
        else:
            for r in rows:
                print(f"v{r['version']:<3} {r['saved_at']}  {r['author'] or '—':<16} {r['note']}")
        return 0
    print(json.dumps(rb.to_dict()) if args.json else to_markdown(rb, args.incident))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from core.prevention.runbooks import to_markdown
    from core.store.runbooks import get_runbook, list_runbooks

    if args.all == bool(args.pattern):
        raise InvalidInputError("name one runbook pattern, or give --all (with --output DIR) for every entry")
    if args.output is not None and not (args.output if args.all else args.output.parent).exists():
        where = args.output if args.all else args.output.parent
        raise InvalidInputError(f"folder {where} does not exist; create it first")
    if args.all and args.output is None:
        raise InvalidInputError("--all writes one file per entry; give --output DIR")
    store = open_store()
    try:
        books = list_runbooks(store) if args.all else [get_runbook(store, args.pattern)]
    finally:
        store.dispose()
    if args.all:
        for b in books:
            path = args.output / (b.pattern.replace("/", "__") + ".md")
            path.write_text(to_markdown(b, args.incident, base_url=args.base_url), encoding="utf-8")
            print(path)
        return 0
    text = to_markdown(books[0], args.incident, base_url=args.base_url)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def run_learn(args: argparse.Namespace) -> int:
    from core.store.runbooks import learn_from_incident

    store = open_store()
    try:
        rb, created = learn_from_incident(store, args.incident, author=args.author, cause=args.cause)
    finally:
        store.dispose()
    if args.json:
        print(json.dumps({"pattern": rb.pattern, "version": rb.version, "created": created}))
    else:
        print(f"{'Created' if created else 'Updated'} runbook {rb.pattern} (version {rb.version}) from {args.incident}")
    return 0
