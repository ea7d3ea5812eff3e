"""``python -m core prevent BUNDLE [--out DIR] [--cause CLASS] [--json]``: guard rails from the root cause, proven.

Writes into ``--out`` (default ``prevent-<incident>/``) the Prometheus alerting rules
(``rules.yml``), their ``promtool test rules`` unit tests built from the incident's own
series (``rules_test.yml``) and the circuit-breaker policy (``fallback.yaml``, ``fallback.py``);
runs ``promtool check rules`` and ``promtool test rules``; and prints the proofs: when each
alert would have fired and how many minutes before the incident was detected, and when the
breaker would have tripped. The root cause is ``--cause``, else the bundle's ``root_cause``,
else triage's top hypothesis. Exit codes: 0 when the files were written and promtool passed,
2 for unusable input (an invalid bundle, an unknown cause, series too short), 5 when
promtool failed (its message is printed) or is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "write Prometheus guard rails and a circuit breaker from an incident's root cause, proven with promtool"
EXIT_PROMTOOL = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prevent", help=HELP,
        description="Generate the guard rails that would have caught this incident earlier: Prometheus alerting "
                    "rules with thresholds from the baseline, promtool unit tests from the incident's series, "
                    "and a circuit-breaker policy with its replay. Exit 0: written and promtool passed; "
                    "2: unusable input; 5: promtool failed or is missing.",
    )
    p.add_argument("bundle", help="incident bundle: a directory with bundle.json, or a .zip of one")
    p.add_argument("--out", default=None, help="folder to write the files into (default prevent-<incident>)")
    p.add_argument("--cause", default=None,
                   help="root-cause class to guard against (default: the bundle's root_cause, else triage's top)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.bundle import read_bundle
    from core.prevention.plan import prevent

    bundle = read_bundle(args.bundle)
    out = Path(args.out) if args.out else Path(f"prevent-{bundle.id}")
    plan = prevent(bundle, out_dir=out, cause=args.cause)
    if args.json:
        json.dump(plan.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"{plan.incident}: guard rails for {plan.cause.value} ({plan.cause_source}); "
              f"onset {plan.onset:%Y-%m-%d %H:%M} UTC ({plan.onset_source})")
        for r in plan.ruleset.rules:
            print(f"  rule {r.alert}: {r.expr}")
        for t in plan.ruleset.templates:
            print(f"  template {t.guard}: {t.missing}")
        for line in plan.proof_lines():
            print(f"  {line}")
        print(f"  wrote {', '.join(sorted(plan.files))} to {plan.out_dir}")
    if not plan.promtool_ok:
        failed = plan.check if not plan.check.ok else plan.test
        print(f"promtool failed: {failed.output if failed else ''}", file=sys.stderr)
        return EXIT_PROMTOOL
    return 0
