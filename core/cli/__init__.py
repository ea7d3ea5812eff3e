"""The commands of ``python -m core``: one line per command, its module and its one-line help.

A command ``NAME`` lives in the module named here and exposes ``register(subparsers)``,
adding its parser (``help=`` the same text as below) with ``set_defaults(func=...)``.
``python -m core NAME ...`` imports only that module; ``python -m core --help`` lists
every command from this table without importing any of them. To add a command, write
its module and add its line here (``tests/core/test_cli_documented.py`` checks that the
help below is the one the module registers, and that README documents it).
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "accept": Command("core.cli.accept",
                      "accept a triage hypothesis as a suspected fishbone cause with a Five Whys chain"),
    "bundle": Command("core.cli.bundle", "validate or import an incident bundle"),
    "changes": Command("core.cli.changes", "rank the change events before the incident onset"),
    "drift": Command("core.cli.drift", "schema diff and drift between two files, or one file split at a time"),
    "errors": Command("core.cli.errors",
                      "Sentry issues, releases and findings from a bundle, an event export or the Sentry API"),
    "features": Command("core.cli.features",
                        "Feast feature views, sources and TTLs, materialisation freshness, and values at two times compared"),
    "fishbone": Command("core.cli.fishbone", "export an incident's fishbone and Five Whys"),
    "grafana": Command("core.cli.grafana",
                       "Grafana: Explore link for a query and range, push incident annotations, import alert history"),
    "images": Command("core.cli.images", "compare two sets of images (folders, zips, a column of paths or bytes): resolution, JPEG quality, brightness, sharpness"),
    "lineage": Command("core.cli.lineage",
                       "dbt lineage: upstream of a feature, and what changed, failed or went stale"),
    "logs": Command("core.cli.logs", "search logs and diff log templates (Lucene syntax)"),
    "onset": Command("core.cli.onset", "find change points and the main onset of a KPI series"),
    "pin": Command("core.cli.pin", "pin an incident's triage result or ranked changes as evidence"),
    "postmortem": Command("core.cli.postmortem",
                          "write an incident's blameless post-mortem as Markdown, HTML or PDF"),
    "prevent": Command("core.cli.prevent",
                       "write alert rules, Alertmanager routes, a data contract and a circuit breaker from a root cause, each proven"),
    "quality": Command("core.cli.quality",
                       "list the failing Great Expectations data checks of a bundle, GX project or results folder"),
    "runbook": Command("core.cli.runbook",
                       "runbooks per failure pattern: list, show, export as Markdown, learn from an incident"),
    "runs": Command("core.cli.runs", "MLflow runs and model registry: diff two runs, model history"),
    "similar": Command("core.cli.similar", "past incidents most similar to one (class, service, model, features, "
                       "checks, log templates), and why"),
    "team": Command("core.cli.team", "team mode: access roles, automation tokens, audit log, ICS handover"),
    "traces": Command("core.cli.traces",
                      "distributed traces (OTLP JSON): cascade origin ranking and the service map diff"),
    "versions": Command("core.cli.versions",
                        "Delta table and date-partition history, two versions compared, or incident data vs the training data"),
    "triage": Command("core.cli.triage", "rank the likely root-cause classes of an incident bundle, with evidence"),
}
