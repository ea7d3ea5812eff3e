"""``python -m core quality SOURCE [--json]``: the failing data checks of Great Expectations results.

SOURCE is an incident bundle (its ``quality/`` folder), a GX project folder (its stored
validation results), a folder of validation-result JSON files or one such file
(:mod:`core.sources.quality_gx`). Each check failing in its latest run is listed with its
column, what GX observed and since when it fails. Exit codes: 0 when no check fails, 1 when
some do, 2 for unusable input (one line on stderr naming the file and what is wrong).
"""

from __future__ import annotations

import argparse
import json

HELP = "list the failing Great Expectations data checks of a bundle, GX project or results folder"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quality", help=HELP,
        description="Read Great Expectations validation results (a bundle's quality/ folder, a GX project's "
                    "stored results, a folder of result JSON files or one file) and list every check that "
                    "fails in its latest run: expectation, column, observed value, since when. "
                    "Exit 0: none fails; 1: some fail; 2: unusable input.",
    )
    p.add_argument("source", help="incident bundle (directory or .zip), GX project folder, results folder or file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.sources.factory import open_source

    source = open_source("quality", args.source)
    findings = source.findings()
    checks = len({r.key() for r in source.runs})
    if args.json:
        print(json.dumps({"source": source.label, "checks": checks, "runs": len(source.runs),
                          "failed": [f.to_dict() for f in findings]}, indent=2, default=str))
    else:
        print(f"{source.label}: {len(findings)} of {checks} check(s) failing")
        for f in findings:
            observed = f.to_dict()["observed"]
            text = observed if isinstance(observed, str) else json.dumps(observed, default=str)
            text = text if len(text) <= 80 else text[:79] + "…"
            print(f"  since {f.since:%Y-%m-%d %H:%M} UTC  {f.suite}  {f.expectation}  "
                  f"{f.column or '(table)'}  [{f.category}]  observed {text}")
    return 1 if findings else 0
