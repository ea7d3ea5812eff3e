"""Runbook entries: one per failure pattern, first one per root-cause class, then learned from incidents.

An entry says what the failure looks like (symptoms), where the workbench shows it (links
in the app's own link format, ``/PAGE?incident=ID&...``, see README "Links and the time
range"), what to check in order — data first, then the environment (code, config, model
versions), then infrastructure — how to mitigate it, and who owns it.

This module is pure: the content types, the default entry of every root-cause class
(:func:`default_content`), an entry learned from an incident's signature
(:func:`learned_content`), validation (:func:`validate_content`) and the Markdown export
(:func:`to_markdown`). :mod:`core.store.runbooks` stores them with numbered versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlencode

from core.errors import InvalidInputError
from core.models import ROOT_CAUSE_LABELS, RootCause

if TYPE_CHECKING:
    from core.analysis.similar import IncidentSignature

#: The order checks are run in: the data first, then what changed around it, then the machines.
STAGES = ("data", "environment", "infrastructure")
#: Pages a runbook may link to (their url paths in app.py; "" is the Incidents page).
PAGES = ("", "timeline", "distributions", "logs", "metrics", "models", "fishbone", "triage", "lineage", "traces",
         "postmortem", "runbooks")
INCIDENT_PLACEHOLDER = "ID"
MAX_ITEMS = 40
MAX_TEXT = 1000
MAX_TITLE = 300


@dataclass(frozen=True)
class Check:
    stage: str  # data | environment | infrastructure
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "text": self.text}


@dataclass(frozen=True)
class ViewLink:
    """Where the workbench shows a symptom: a page and the query parameters of its focus."""

    label: str
    page: str
    params: Mapping[str, str | list[str]] = field(default_factory=dict)  # a list: the parameter repeated

    def href(self, incident_id: str | None = None) -> str:
        """The app link, ``/PAGE?incident=ID&...`` (``ID`` left as a placeholder without an incident)."""
        query = {"incident": incident_id or INCIDENT_PLACEHOLDER, **dict(self.params)}
        return f"/{self.page}?{urlencode(query, doseq=True)}"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "page": self.page,
                "params": {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in self.params.items()}}


@dataclass(frozen=True)
class RunbookContent:
    """The text of one runbook version."""

    title: str
    symptoms: tuple[str, ...] = ()
    views: tuple[ViewLink, ...] = ()
    checks: tuple[Check, ...] = ()
    mitigations: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    signature: Mapping[str, Any] = field(default_factory=dict)  # what incidents of this pattern share

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "symptoms": list(self.symptoms), "views": [v.to_dict() for v in self.views],
                "checks": [c.to_dict() for c in self.checks], "mitigations": list(self.mitigations),
                "owners": list(self.owners), "signature": dict(self.signature)}


@dataclass(frozen=True)
class Runbook:
    """The current version of a runbook entry."""

    id: int
    pattern: str
    cause_class: RootCause
    origin: str  # default | learned
    source_incident_id: str | None
    version: int
    content: RunbookContent
    author: str
    updated_at: datetime

    @property
    def title(self) -> str:
        return self.content.title

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "pattern": self.pattern, "cause_class": self.cause_class.value, "origin": self.origin,
                "source_incident": self.source_incident_id, "version": self.version, "author": self.author,
                "updated_at": self.updated_at.isoformat().replace("+00:00", "Z"), **self.content.to_dict()}


@dataclass(frozen=True)
class RunbookVersion:
    version: int
    content: RunbookContent
    author: str
    note: str
    saved_at: datetime


# ---------------------------------------------------------------- validation

def _line(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    text = re.sub(r"\s+", " ", str(value if value is not None else "")).strip()
    if len(text) > limit:
        raise InvalidInputError(f"{what} is {len(text)} characters long; keep it under {limit}")
    return text


def _lines(values: Any, what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = values.splitlines()
    out = tuple(t for t in (_line(v, what) for v in (values or ())) if t)
    if len(out) > MAX_ITEMS:
        raise InvalidInputError(f"{len(out)} {what} lines; a runbook keeps at most {MAX_ITEMS}")
    return tuple(dict.fromkeys(out))


def cause_class(value: Any) -> RootCause:
    """A root-cause class from its name, or a message listing the classes."""
    try:
        return RootCause(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"'{value}' is not a root-cause class; use one of "
                                f"{', '.join(c.value for c in RootCause)}") from None


def validate_content(content: RunbookContent) -> RunbookContent:
    """The content cleaned (one line per item, duplicates dropped, checks in stage order), or a clear error.

    Raises:
        InvalidInputError: no title, an unknown check stage or page, or text too long.
    """
    title = _line(content.title, "the title", MAX_TITLE)
    if not title:
        raise InvalidInputError("a runbook needs a title; write what the failure pattern is, e.g. "
                                "'Stale feature feed'")
    checks = []
    for c in content.checks:
        stage = str(c.stage).strip().lower()
        if stage not in STAGES:
            raise InvalidInputError(f"check stage '{c.stage}' is not one of {', '.join(STAGES)}")
        text = _line(c.text, "a check")
        if text:
            checks.append(Check(stage, text))
    if len(checks) > MAX_ITEMS:
        raise InvalidInputError(f"{len(checks)} checks; a runbook keeps at most {MAX_ITEMS}")
    checks.sort(key=lambda c: STAGES.index(c.stage))  # stable: the order within a stage is kept
    views = []
    for v in content.views:
        page = str(v.page).strip().strip("/")
        if page not in PAGES:
            raise InvalidInputError(f"view '{v.label}' links to page '/{page}', which the workbench does not have; "
                                    f"use one of {', '.join('/' + p for p in PAGES)}")
        views.append(ViewLink(_line(v.label, "a view label", 200) or f"/{page}", page,
                              {str(k): [str(y) for y in x] if isinstance(x, (list, tuple)) else str(x)
                               for k, x in dict(v.params).items() if str(k) != "incident"}))
    return RunbookContent(title=title, symptoms=_lines(content.symptoms, "symptom"), views=tuple(views),
                          checks=tuple(checks), mitigations=_lines(content.mitigations, "mitigation"),
                          owners=_lines(content.owners, "owner"), signature=dict(content.signature or {}))


def content_from_dict(data: Mapping[str, Any]) -> RunbookContent:
    """Content from its stored (or exported JSON) form."""
    return RunbookContent(
        title=str(data.get("title") or ""),
        symptoms=tuple(str(s) for s in data.get("symptoms") or ()),
        views=tuple(ViewLink(str(v.get("label") or ""), str(v.get("page") or ""), dict(v.get("params") or {}))
                    for v in data.get("views") or ()),
        checks=tuple(Check(str(c.get("stage") or ""), str(c.get("text") or "")) for c in data.get("checks") or ()),
        mitigations=tuple(str(m) for m in data.get("mitigations") or ()),
        owners=tuple(str(o) for o in data.get("owners") or ()),
        signature=dict(data.get("signature") or {}))


def parse_checks(text: str) -> tuple[Check, ...]:
    """Checks typed one a line as ``stage: text`` (``data: row counts of the feature view``).

    Raises:
        InvalidInputError: a line without a known stage; the message quotes it.
    """
    out = []
    for n, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip().lstrip("-*").strip()
        if not line:
            continue
        stage, sep, rest = line.partition(":")
        if not sep or stage.strip().lower() not in STAGES:
            raise InvalidInputError(f"check line {n} ('{line[:60]}') does not start with a stage; write it as "
                                    f"'data: …', 'environment: …' or 'infrastructure: …'")
        out.append(Check(stage.strip().lower(), rest.strip()))
    return tuple(out)


def format_checks(checks: tuple[Check, ...]) -> str:
    return "\n".join(f"{c.stage}: {c.text}" for c in checks)


# ---------------------------------------------------------------- defaults

def _v(label: str, page: str, **params: str) -> ViewLink:
    return ViewLink(label, page, params)


_KPI = _v("The KPI and its onset", "metrics")
_TRIAGE = _v("Ranked root-cause hypotheses", "triage")

_DEFAULTS: dict[RootCause, RunbookContent] = {
    RootCause.STALE_DATA: RunbookContent(
        title="Stale feature feed: the model scores on old features",
        symptoms=("The KPI sags slowly rather than dropping at one instant",
                  "Predictions collapse toward a default or constant value",
                  "A feature refresh job stops succeeding, or succeeds without writing new rows",
                  "Logs show cache misses, 'stale' or fallback-to-default warnings"),
        views=(_KPI, _v("Pipeline runs around the onset", "timeline", timeline_kinds=["data_pipeline", "alert"]),
               _v("Stale or fallback warnings in the logs", "logs", logs_query="stale OR fallback OR default"),
               _v("Feature age and lineage of the feature view", "lineage"), _TRIAGE),
        checks=(Check("data", "Age of the newest row of each feature view against its refresh budget"),
                Check("data", "Share of default or constant predictions since the onset"),
                Check("environment", "Last successful run of the refresh job; a paused or changed schedule"),
                Check("environment", "Config changes to the feature store or its TTLs"),
                Check("infrastructure", "Health of the scheduler, the feature store and its storage")),
        mitigations=("Re-run the refresh job and confirm new rows land",
                     "Trip the circuit breaker to the simpler fallback model while features are stale",
                     "Add a feature-freshness alert (python -m core prevent)"),
        owners=("data-platform", "ml-serving")),
    RootCause.SCHEMA_CHANGE: RunbookContent(
        title="Upstream schema change: renamed, dropped or re-unit columns reach the model",
        symptoms=("The KPI drops at one instant, right after an upstream release or export change",
                  "A column is missing or renamed and the serving layer imputes it",
                  "Values of a column jump by a factor (a unit change)",
                  "Data checks fail: column set, types, ranges"),
        views=(_KPI, _v("Upstream releases and failed data checks", "timeline",
                        timeline_kinds=["data_pipeline", "alert", "deploy"]),
               _v("Column-by-column schema diff", "distributions"),
               _v("Changed dbt models and failed tests", "lineage"), _TRIAGE),
        checks=(Check("data", "Column set and types of the incident window against the reference"),
                Check("data", "Units and ranges of numeric columns; null rates; new or vanished categories"),
                Check("environment", "Upstream exports, dbt model changes and their announcements"),
                Check("environment", "Serving code paths that impute a missing column instead of failing"),
                Check("infrastructure", "Ingestion jobs and their parsers (a new format version)")),
        mitigations=("Map the renamed columns back, or pin the upstream export to the old version",
                     "Reject records that break the data contract instead of imputing",
                     "Add a data contract for the changed columns (python -m core prevent)"),
        owners=("data-platform", "upstream data owner")),
    RootCause.DATA_DRIFT: RunbookContent(
        title="Input drift: the live population moved away from the training data",
        symptoms=("Several features shift together while the schema stays the same",
                  "The prediction distribution moves; the KPI degrades gradually",
                  "No deploy or pipeline failure explains the change"),
        views=(_KPI, _v("Drifted features, reference against incident", "distributions"),
               _v("Campaigns, launches and other external events", "timeline", timeline_kinds=["external", "annotation"]),
               _TRIAGE),
        checks=(Check("data", "Drift of every input feature (effect sizes first), ranked"),
                Check("data", "Which segments moved: country, device, traffic source"),
                Check("environment", "Launches, campaigns or traffic changes near the onset"),
                Check("environment", "Whether the model's training window still matches the live population"),
                Check("infrastructure", "Traffic routing or sampling changes that alter who is scored")),
        mitigations=("Retrain or recalibrate on recent data",
                     "Route the drifted segment to a fallback model",
                     "Add a drift-score alert on the drifted features (python -m core prevent)"),
        owners=("ml-modelling",)),
    RootCause.CODE_REGRESSION: RunbookContent(
        title="Model or code regression: a new version scores worse",
        symptoms=("The KPI drops right after a model promotion or service deploy",
                  "The new model version's offline metrics or feature list differ from the last",
                  "The data looks the same before and after"),
        views=(_KPI, _v("Deploys and model promotions before the onset", "timeline",
                        timeline_kinds=["deploy", "model_version", "config_change"]),
               _v("Diff of the model versions", "models"), _TRIAGE),
        checks=(Check("data", "Rule out the data first: drift and schema of the inputs around the onset"),
                Check("environment", "Model versions promoted and services deployed before the onset"),
                Check("environment", "Diff of the two runs: parameters, metrics, features, training data"),
                Check("environment", "Config and feature-flag changes"),
                Check("infrastructure", "Resource limits of the new version (memory, timeouts)")),
        mitigations=("Roll back to the previous model version or release",
                     "Gate promotions on a shadow or canary comparison",
                     "Add a prediction-shift alert on the model (python -m core prevent)"),
        owners=("ml-modelling", "service owner")),
    RootCause.INFRASTRUCTURE: RunbookContent(
        title="Infrastructure fault: errors, timeouts or latency upstream of the model",
        symptoms=("Error rate or p95 latency rises with the KPI drop",
                  "Logs show timeouts, connection resets or 5xx from a dependency",
                  "Traces show a cascade from one service"),
        views=(_KPI, _v("Errors and timeouts in the logs", "logs", logs_query="log.level:error OR timeout"),
               _v("Where the cascade starts", "traces"),
               _v("Alerts and deploys around the onset", "timeline", timeline_kinds=["alert", "deploy", "config_change"]),
               _TRIAGE),
        checks=(Check("data", "Whether requests reached the model with complete features"),
                Check("environment", "Deploys and config changes of the dependencies"),
                Check("infrastructure", "Error rate and latency of each dependency; the cascade origin"),
                Check("infrastructure", "Capacity: CPU, memory, connection pools, queue depth")),
        mitigations=("Fail over or scale the failing dependency",
                     "Serve the fallback model when the dependency's error rate is over budget",
                     "Add error-rate and latency alerts (python -m core prevent)"),
        owners=("sre", "service owner")),
    RootCause.EXTERNAL_EVENT: RunbookContent(
        title="External event: the world changed, not the system",
        symptoms=("The KPI moves with a holiday, campaign, outage elsewhere or news event",
                  "Traffic volume or mix changes; no internal change lines up"),
        views=(_KPI, _v("External events around the onset", "timeline", timeline_kinds=["external", "annotation"]),
               _v("Which segments moved", "distributions"), _TRIAGE),
        checks=(Check("data", "Traffic volume and segment mix against the same period last week"),
                Check("environment", "Marketing calendar, partner incidents, public holidays"),
                Check("infrastructure", "Rule out an outage of our own edge or CDN")),
        mitigations=("Annotate the event on the timeline and wait it out if the model behaves as designed",
                     "Add the event to the forecast calendar so alerts expect it"),
        owners=("product analytics",)),
}


def default_pattern(cause: RootCause | str) -> str:
    """The pattern key of a class's default entry: the class name itself."""
    return cause_class(cause).value


def default_content(cause: RootCause | str) -> RunbookContent:
    """The default runbook text of a root-cause class."""
    c = cause_class(cause)
    return replace(_DEFAULTS[c], signature={"root_cause": c.value})


def learned_pattern(signature: IncidentSignature, cause: RootCause) -> str:
    """The pattern key of an entry learned from an incident: class and service (else the incident id),
    the same key recurrence analytics groups incidents by (:func:`core.analysis.similar.pattern_key`)."""
    from core.analysis.similar import pattern_key

    return pattern_key(cause.value, signature.service, signature.incident_id)


def learned_content(signature: IncidentSignature, cause: RootCause, base: RunbookContent | None = None
                    ) -> RunbookContent:
    """An entry learned from one incident's evidence, on top of ``base`` (an earlier version or the default).

    The incident's own findings become symptoms (the features that moved, the checks that failed,
    the log templates that appeared), its pages become links, and its signature is kept so later
    incidents of the same pattern can be recognised.
    """
    base = base or default_content(cause)
    label = ROOT_CAUSE_LABELS[cause]
    title = base.title if base.signature.get("service") else (
        f"{label} on {signature.service}" if signature.service else f"{label} as in {signature.incident_id}")
    found = []
    if signature.features:
        found.append(f"Features affected in {signature.incident_id}: {', '.join(sorted(signature.features)[:8])}")
    if signature.failing_checks:
        found.append(f"Checks that failed in {signature.incident_id}: "
                     f"{'; '.join(sorted(signature.failing_checks)[:6])}")
    if signature.log_templates:
        found.append(f"Log templates that appeared in {signature.incident_id}: "
                     f"{'; '.join(sorted(signature.log_templates)[:4])}")
    if signature.model:
        found.append(f"Model involved in {signature.incident_id}: {signature.model}")
    views = list(base.views)
    if signature.features:
        col = sorted(signature.features)[0]
        views.append(_v(f"Distribution of {col}", "distributions", distributions_column=col))
    if signature.model:
        views.append(_v(f"Versions of {signature.model}", "models", models_model=signature.model))
    views.append(_v(f"Post-mortem of {signature.incident_id}", "postmortem"))
    seen = set()
    views = [v for v in views if not (v.href() in seen or seen.add(v.href()))]
    old_sig = dict(base.signature)
    sig = {"root_cause": cause.value, "service": signature.service or old_sig.get("service", ""),
           "model": signature.model or old_sig.get("model", ""),
           "features": sorted(set(old_sig.get("features") or ()) | set(signature.features)),
           "failing_checks": sorted(set(old_sig.get("failing_checks") or ()) | set(signature.failing_checks)),
           "log_templates": sorted(set(old_sig.get("log_templates") or ()) | set(signature.log_templates)),
           "incidents": sorted(set(old_sig.get("incidents") or ()) | {signature.incident_id})}
    owners = base.owners + ((signature.service,) if signature.service and signature.service not in base.owners else ())
    return validate_content(RunbookContent(
        title=title, symptoms=base.symptoms + tuple(found), views=tuple(views), checks=base.checks,
        mitigations=base.mitigations, owners=owners, signature=sig))


# ---------------------------------------------------------------- export

def _md(text: str) -> str:
    """User text shown literally in Markdown."""
    out = str(text)
    for ch in "\\`*_{}[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return out


def to_markdown(runbook: Runbook, incident_id: str | None = None, *, base_url: str = "") -> str:
    """The entry as Markdown; links use the app's format with ``incident`` filled in when given."""
    c = runbook.content
    lines = [f"# {_md(c.title)}", "",
             f"*Pattern* `{runbook.pattern}` · *root-cause class* {ROOT_CAUSE_LABELS[runbook.cause_class]} · "
             f"*{runbook.origin}* · version {runbook.version}"
             + (f" · learned from {runbook.source_incident_id}" if runbook.source_incident_id else ""), ""]
    lines += ["## Symptoms", ""] + [f"- {_md(s)}" for s in c.symptoms] + [""]
    lines += ["## How the workbench shows them", ""]
    lines += [f"- [{_md(v.label)}]({base_url}{v.href(incident_id)})" for v in c.views] + [""]
    lines += ["## Checks, in order", ""]
    for n, chk in enumerate(c.checks, 1):
        lines.append(f"{n}. **{chk.stage}** — {_md(chk.text)}")
    lines += ["", "## Mitigations", ""] + [f"- {_md(m)}" for m in c.mitigations] + [""]
    lines += ["## Owners", "", ", ".join(_md(o) for o in c.owners) or "none named yet", ""]
    return "\n".join(lines)


def format_views(views: tuple[ViewLink, ...]) -> str:
    """Links one a line as ``Label | /page?param=value`` (the editor's form; ``incident`` is added when shown)."""
    out = []
    for v in views:
        href = v.href()
        path, _, query = href.partition("?")
        query = "&".join(p for p in query.split("&") if not p.startswith("incident="))
        out.append(f"{v.label} | {path}{'?' + query if query else ''}")
    return "\n".join(out)


def parse_views(text: str) -> tuple[ViewLink, ...]:
    """Links typed one a line as ``Label | /page?param=value`` (a repeated parameter keeps every value).

    Raises:
        InvalidInputError: a line without ``|`` or whose address is not ``/page?…``; the message quotes it.
    """
    from urllib.parse import parse_qs, urlsplit

    out = []
    for n, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        label, sep, href = line.rpartition("|")
        href = href.strip()
        if not sep or not href.startswith("/"):
            raise InvalidInputError(f"link line {n} ('{line[:60]}') is not 'Label | /page?param=value'; "
                                    "for example 'Stale warnings | /logs?logs_query=stale'")
        parts = urlsplit(href)
        params = {k: (v[0] if len(v) == 1 else v) for k, v in parse_qs(parts.query).items() if k != "incident"}
        out.append(ViewLink(label.strip() or href, parts.path.strip("/"), params))
    return tuple(out)
