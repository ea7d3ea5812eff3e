"""``python -m core bundle validate|import PATH``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from core.bundle import validate_bundle


def _validate(args: argparse.Namespace) -> int:
    problems = validate_bundle(args.path)
    if args.json:
        print(json.dumps({"valid": not problems, "problems": [
            {"file": p.file, "line": p.line, "message": p.message} for p in problems]}))
    elif problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"invalid bundle: {len(problems)} problem(s)", file=sys.stderr)
    else:
        print(f"{args.path}: valid incident-bundle/1")
    return 1 if problems else 0


class _Progress:
    """Import progress on stderr: one rewritten line on a terminal, a line per 10% otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.shown = -1.0
        self.last = 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        share = done / total if total else 1.0
        now = time.monotonic()
        if step == "copy":
            text = "copying the bundle files"
        elif step == "done":
            text = f"imported {done:,} of {total:,} event lines (100%)"
        else:
            text = f"importing events: {done:,} of {total:,} lines ({share:.0%})"
        if self.tty:
            if step in ("copy", "done") or now - self.last >= 0.2:
                self.stream.write("\r" + text + ("\n" if step == "done" else ""))
                self.stream.flush()
                self.last = now
        elif step in ("copy", "done") or share - self.shown >= 0.1:
            print(text, file=self.stream, flush=True)
            self.shown = share


def _import(args: argparse.Namespace) -> int:
    from core.flows.import_bundle import import_bundle
    from core.store import open_store

    store = open_store(args.database)
    show = args.progress or sys.stderr.isatty()
    incident_id = import_bundle(store, args.path, if_exists="rename" if args.rename else "error",
                                progress=_Progress() if show else None)
    if args.json:
        print(json.dumps({"incident": incident_id}))
    else:
        print(f"imported {args.path} as incident {incident_id}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bundle", help="validate or import an incident bundle")
    bsub = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    v = bsub.add_parser("validate", help="check a bundle; every problem is printed with its file and line")
    v.add_argument("path", help="bundle directory or .zip")
    v.add_argument("--json", action="store_true", help="print {valid, problems[]} as JSON")
    v.set_defaults(func=_validate)
    i = bsub.add_parser("import", help="load a bundle into the store as an incident")
    i.add_argument("path", help="bundle directory or .zip")
    i.add_argument("--database", help="store URL (default: DATABASE_URL or the embedded SQLite store)")
    i.add_argument("--rename", action="store_true", help="if the id exists, import under id-2, id-3, ...")
    i.add_argument("--json", action="store_true", help='print {"incident": ID}')
    i.add_argument("--progress", action="store_true",
                   help="print progress on stderr even when it is not a terminal (on a terminal it always shows)")
    i.set_defaults(func=_import)
