"""Command line: ``python -m core <command> ...`` (documented in README.md, "Command line").

Each command group lives in ``core/cli/<name>.py`` and exposes
``register(subparsers)``, adding its parser with ``set_defaults(func=...)``; the
function returns the exit code. Expected errors (``WorkbenchError``) print one
line on stderr and exit non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import core.cli
from core.errors import WorkbenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="ML Incident Workbench command line: bundles, drift, logs, onsets, runs, changes, triage.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(core.cli.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"core.cli.{info.name}")
        module.register(sub)
    return parser




def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a one-line usage error
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
