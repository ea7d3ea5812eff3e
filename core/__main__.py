"""Command line: ``python -m core <command> ...`` (documented in README.md, "Command line").

Each command group lives in ``core/cli/<name>.py`` and exposes
``register(subparsers)``, adding its parser with ``set_defaults(func=...)``; the
function returns the exit code. ``core.cli.COMMANDS`` lists the commands, one line
each: a command imports only its own module, and ``--help`` imports none. Expected
errors (``WorkbenchError``) print one line on stderr and exit non-zero; no traceback
reaches the user.
"""

from __future__ import annotations

import sys

try:  # Ctrl-C while the interpreter is still importing: one line, no traceback
    import argparse
    import importlib
    import signal
    from collections.abc import Iterable

    from core.cli import COMMANDS
    from core.errors import WorkbenchError
except KeyboardInterrupt:
    sys.stderr.write("error: interrupted\n")
    raise SystemExit(130) from None

INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C (128 + SIGINT)


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the given commands registered in full (default: all of them).

    Every other command of ``core.cli.COMMANDS`` gets a placeholder with its help line,
    so ``--help`` and the "invalid choice" message list all commands without importing them.
    """
    full = set(COMMANDS) if commands is None else set(commands)
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="ML Incident Workbench command line: bundles, drift, logs, onsets, runs, changes, triage.",
    )
    parser.add_argument("--as", dest="acting_as", metavar="USER",
                        help="act as USER (team mode): their role is checked and the audit log names them; "
                             "needs their automation token in WORKBENCH_TOKEN")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in sorted(COMMANDS):
        if name in full:
            importlib.import_module(COMMANDS[name].module).register(sub)
        else:
            sub.add_parser(name, help=COMMANDS[name].help)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The command named on the line (the first word that is not an option), if it is one."""
    words = [a for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] != "--as")]
    word = next(iter(words), None)
    return word if word in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    """Run one command; Ctrl-C at any point (importing the commands included) is one line and exit 130."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return 0


def _run(argv: list[str] | None) -> int:
    from core.redact import redact

    if argv is None:
        argv = sys.argv[1:]
    command = _command_in(argv)
    parser = build_parser([command] if command else [])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a one-line usage error
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        from core.team.cli import act_as

        act_as(args, command)  # --as USER with WORKBENCH_TOKEN: checked and audited as that person
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        # messages are built from redacted text already; this is the last line of defence
        print(f"error: {redact(exc)}", file=sys.stderr)
        return exc.exit_code


def _answered() -> None:
    """The command has given its answer: a late Ctrl-C during the interpreter's exit changes nothing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    try:
        code = main()
        _answered()
    except KeyboardInterrupt:  # a second Ctrl-C while the first is being reported
        code = INTERRUPTED
        _answered()
    sys.exit(code)
