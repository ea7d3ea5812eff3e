"""``python -m core triage BUNDLE [--json] [--tracking-uri URI]``: ranked root-cause hypotheses for a bundle.

Runs the whole triage (onset, changes, data, logs, metrics, model registry) over an
incident bundle (directory or .zip) and prints the hypotheses, best first, each with
its score, confidence and evidence. ``--json`` prints::

    {"onset": {...} | null, "hypotheses": [{"class", "score", "confidence", "status",
     "explanation", "arithmetic", "evidence": [...], "factors": [...]}, ...],
     "skipped": [{"step", "title", "reason"}, ...], "steps": [...], ...}

Exit codes: 0 whenever the bundle is valid (also when nothing could be confirmed or a
source was skipped); 2 for an invalid bundle or unusable input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

from core.sources.mlflow_runs import configured_tracking_uri
from core.triage import summarise, triage_bundle


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "triage", help="rank the likely root-cause classes of an incident bundle, with evidence",
        description="Run automatic triage over an incident bundle: find the KPI onset, rank the changes before "
                    "it, compare the data, diff the logs and metrics (and the model registry when given), and "
                    "score data_drift, schema_change, stale_data, code_regression, infrastructure and "
                    "external_event. See docs/triage.md for the scoring.",
    )
    p.add_argument("bundle", help="incident bundle: a directory with bundle.json, or a .zip of one")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI for the model-registry step (default: $MLFLOW_TRACKING_URI, "
                        "else the app's embedded store when it exists; the step is skipped without one)")
    p.add_argument("--top", type=int, default=3, help="hypotheses shown in text output (default 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    uri = args.tracking_uri or configured_tracking_uri()
    result = triage_bundle(args.bundle, tracking_uri=uri)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in summarise(result, top=max(1, args.top)):
            print(line)
    return 0
