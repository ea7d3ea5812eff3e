"""Every command-line command and option is documented in README.md (a public surface must be)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.__main__ import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _walk(parser: argparse.ArgumentParser, prefix: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}".strip(), None
                yield from _walk(sub, f"{prefix} {name}")
        elif action.option_strings and "-h" not in action.option_strings:
            yield prefix, max(action.option_strings, key=len)


def test_every_command_and_option_is_in_the_readme():
    missing = []
    for command, option in _walk(build_parser(), ""):
        if option is None:
            if f"python -m core {command}" not in README:
                missing.append(f"command 'python -m core {command}'")
        elif option not in README:
            missing.append(f"option {option} of '{command}'")
    assert not missing, "undocumented in README.md: " + "; ".join(missing)


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    for args in (["bundle", "validate", str(tmp_path / "nothing")], ["no-such-command"]):
        proc = subprocess.run([sys.executable, "-m", "core", *args], cwd=root, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr
