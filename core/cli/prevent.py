"""``python -m core prevent BUNDLE [--out DIR] [--cause CLASS] [--no-contract] [--contract-engine E] [--json]``.

Writes into ``--out`` (default ``prevent-<incident>/``) the Prometheus alerting rules
(``rules.yml``), their ``promtool test rules`` unit tests built from the incident's own
series (``rules_test.yml``), an Alertmanager route snippet (``alertmanager.yml``), the
circuit-breaker policy (``fallback.yaml``, ``fallback.py``), the data contract for the changed
columns (``contract_suite.json`` with Great Expectations, else ``contract_schema.json``) and
``proof.md``; runs ``promtool check rules``, ``promtool test rules``, ``amtool check-config`` and
``amtool config routes test``, validates the contract on the reference and incident windows,
and prints the proofs: when each alert would have fired and how many minutes before the
incident was detected, when the breaker would have tripped, whether the contract passes on
the reference and fails on the incident. The root cause is ``--cause``, else the bundle's
``root_cause``, else triage's top hypothesis. Exit codes: 0 when the files were written and
promtool and amtool passed, 2 for unusable input (an invalid bundle, an unknown cause, series
too short), 5 when promtool or amtool failed (its message is printed) or is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "write alert rules, Alertmanager routes, a data contract and a circuit breaker from a root cause, each proven"
EXIT_PROMTOOL = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prevent", help=HELP,
        description="Generate the guard rails that would have caught this incident earlier: Prometheus alerting "
                    "rules with thresholds from the baseline, promtool unit tests from the incident's series, "
                    "an Alertmanager route snippet checked with amtool, a data contract for the changed columns "
                    "(passes on the reference, fails on the incident) and a circuit-breaker policy with its "
                    "replay. Exit 0: written, promtool and amtool passed; 2: unusable input; 5: promtool or "
                    "amtool failed or is missing.",
    )
    p.add_argument("bundle", help="incident bundle: a directory with bundle.json, or a .zip of one")
    p.add_argument("--out", default=None, help="folder to write the files into (default prevent-<incident>)")
    p.add_argument("--cause", default=None,
                   help="root-cause class to guard against (default: the bundle's root_cause, else triage's top)")
    p.add_argument("--no-contract", action="store_true",
                   help="skip the data contract (Great Expectations takes seconds to import)")
    p.add_argument("--contract-engine", choices=("great_expectations", "schema_check"), default=None,
                   help="build the contract with Great Expectations or the workbench's schema check "
                        "(default: Great Expectations when installed, requirements-gx.txt)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.bundle import read_bundle
    from core.prevention.plan import prevent

    bundle = read_bundle(args.bundle)
    out = Path(args.out) if args.out else Path(f"prevent-{bundle.id}")
    plan = prevent(bundle, out_dir=out, cause=args.cause, contract=not args.no_contract,
                   contract_engine=args.contract_engine)
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
        for line in plan.all_lines():
            print(f"  {line}")
        if plan.contract is not None and plan.contract.note:
            print(f"  note: {plan.contract.note}")
        print(f"  wrote {', '.join(sorted(plan.files))} to {plan.out_dir}")
    failed = plan.failed_tool()
    if failed is not None:
        tool = "amtool" if "amtool" in failed.command[0] else "promtool"
        print(f"{tool} failed: {' '.join(failed.output.split())}", file=sys.stderr)
        return EXIT_PROMTOOL
    return 0
