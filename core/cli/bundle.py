"""``python -m core bundle validate|import PATH``."""

from __future__ import annotations

import argparse
import json
import sys

from core.bundle import validate_bundle
from core.store import open_store
from core.store.imports import import_bundle


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


def _import(args: argparse.Namespace) -> int:
    store = open_store(args.database)
    incident_id = import_bundle(store, args.path, if_exists="rename" if args.rename else "error")
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
    i.set_defaults(func=_import)
