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


def test_the_command_table_is_what_the_modules_register():
    """core.cli.COMMANDS lists every command with the module's own help line, so --help can skip the imports."""
    from core.cli import COMMANDS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    registered = {choice.dest: choice.help for choice in sub._choices_actions}
    assert registered == {name: command.help for name, command in COMMANDS.items()}
    cli_files = {p.stem for p in (Path(__file__).resolve().parents[2] / "core" / "cli").glob("*.py")}
    assert {command.module.rsplit(".", 1)[1] for command in COMMANDS.values()} == cli_files - {"__init__"}


def test_help_imports_no_command_and_a_command_imports_only_its_own(tmp_path):
    import subprocess
    import sys

    from core.cli import COMMANDS

    root = Path(__file__).resolve().parents[2]
    probe = ("import sys, runpy\n"
             "sys.argv = ['core'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('core', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('core.cli.')), file=sys.stderr)\n")
    full_help = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=root, capture_output=True, text=True,
                               timeout=120)
    assert full_help.returncode == 0
    assert all(f"    {name}" in full_help.stdout for name in COMMANDS)
    for args, expected in ((["--help"], []), (["bundle", "validate", str(tmp_path / "none")], ["core.cli.bundle"])):
        proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=root, capture_output=True, text=True,
                              timeout=120)
        assert proc.stderr.strip().splitlines()[-1] == repr(expected), proc.stderr
