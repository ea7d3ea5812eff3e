"""Triage step ``changes``: the change events before the onset, and routine jobs that stopped.

Reads the bundle's ``events.jsonl``; ranks the events with :func:`core.analysis.correlate.rank_changes`
and turns them into evidence for ``external_event``, ``schema_change``, ``data_drift``,
``code_regression`` and ``infrastructure``; a routine job (an hourly refresh...) that stopped
running before the onset is evidence for ``stale_data``. A deploy or configuration change of a
service that is not on the affected model's path is discounted as a probable coincidence
(:func:`judge_path`: the service dependency graph of the bundle's traces when it has them, else
the bundle's service and model names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

import numpy as np

from core.analysis.correlate import ChangeRanking, rank_changes
from core.models import RootCause, format_duration, iso, utc
from core.triage.models import Signal, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal
from core.triage.rules import CLOSE, INFRA_EVENT_WORDS, LOOKBACK, SCHEMA_EVENT_WORDS, around, closeness

NAME = "changes"
TITLE = "Change events before the onset"


@dataclass(frozen=True)
class StoppedJob:
    """A routine job that stopped running before the onset."""

    title: str
    kind: str
    last_run: datetime
    period: timedelta
    runs: int


@dataclass(frozen=True)
class ChangeFinding:
    ranking: ChangeRanking | None
    stopped: tuple[StoppedJob, ...]
    step: StepResult


def _job_key(title: str) -> str:
    return re.sub(r"\d+", "#", " ".join(title.casefold().split()))


def find_stopped_jobs(events: Sequence[Mapping[str, Any]], onset: datetime, data_end: datetime) -> list[StoppedJob]:
    """Routine events (three or more with the same title up to numbers) whose runs stopped
    before the onset while the data goes on: the last run is at most a few periods before
    the onset and no run follows for at least two periods."""
    groups: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for ev in events:
        kind = str(ev.get("kind") or "")
        if kind not in ("data_pipeline", "deploy", "config_change"):
            continue
        shown = " ".join(str(ev.get("title") or "").split())
        groups.setdefault((kind, _job_key(shown)), []).append((utc(ev["timestamp"]), shown))
    out = []
    for (kind, _key), runs in groups.items():
        if len(runs) < 3:
            continue
        runs.sort()
        times = [t for t, _shown in runs]
        title = runs[-1][1]  # the last run's own title, as the timeline shows it (the key masks its numbers)
        gaps = np.diff([t.timestamp() for t in times])
        period = timedelta(seconds=float(np.median(gaps)))
        if period <= timedelta(0):
            continue
        last = times[-1]
        if last > onset:
            continue
        silent = data_end - last
        if silent >= 2.5 * period and onset - last <= 3 * period + timedelta(hours=1):
            out.append(StoppedJob(title, kind, last, period, len(times)))
    return out


def analyse_changes(events: Sequence[Mapping[str, Any]] | None, onset: datetime, *, data_end: datetime,
                    lookback: timedelta = LOOKBACK, half_life: timedelta = CLOSE) -> ChangeFinding:
    """Rank the change events before the onset and find routine jobs that stopped."""
    title = TITLE
    if events is None:
        return ChangeFinding(None, (), StepResult(NAME, title, "skipped",
                                                  "the bundle has no events.jsonl: changes could not be checked"))
    ranking = rank_changes(events, onset, lookback=lookback, half_life=half_life)
    stopped = tuple(find_stopped_jobs(events, onset, data_end))
    top = ranking.top
    parts = [f"{ranking.considered} change(s) in the {format_duration(lookback)} before the onset"]
    if top is not None:
        parts.append(f"closest suspect: {top.event.kind} '{top.event.title}' {format_duration(top.age)} before")
    for job in stopped:
        parts.append(f"routine job '{job.title}' stopped after {iso(job.last_run)}")
    return ChangeFinding(ranking, stopped, StepResult(
        NAME, title, "ok", "; ".join(parts),
        {"top": [c.to_dict() for c in ranking.changes[:5]],
         "stopped_jobs": [{"title": j.title, "last_run": iso(j.last_run), "period_s": j.period.total_seconds()}
                          for j in stopped]}))



#: A service-like name leading an event title ("payments-gateway 3.2.1 deployed").
TITLE_SERVICE = re.compile(r"^\s*([a-z][a-z0-9]*(?:[-_][a-z0-9]+)+)\b|^\s*([a-z][\w-]*)\s+v?\d+(?:\.\d+)+\b", re.I)
#: The factor for a change of a service that is not on the affected model's path.
OFF_PATH = 0.15


def off_path(ev_details: Mapping[str, Any], title: str, service: str, path: frozenset[str] = frozenset(),
             *, from_title: bool = True) -> str | None:
    """The service a change names when that service is not on the model's path, else None.

    The path is the bundle's service, the model, and ``path`` (other services known to be on it).
    A change names a service in its details (``service``, ``model``, ``dataset``, ``job``) or, when
    ``from_title``, as the leading name of its title (``payments-gateway 3.2.1 deployed``).
    """
    if not service:
        return None
    names = {str(v).casefold() for k, v in ev_details.items() if k in ("service", "model", "dataset", "job") and v}
    if not names and from_title:
        m = TITLE_SERVICE.match(title)
        if m:
            names = {(m.group(1) or m.group(2)).casefold()}
    text = title.casefold()
    ours = {service.casefold(), *(p.casefold() for p in path)}
    if any(o in text for o in ours) or any(o in n or n in o for n in names for o in ours):
        return None
    return sorted(names)[0] if names else None


@dataclass(frozen=True)
class PathJudgement:
    """Whether a change is of a service on the affected model's path, which rule decided, and why."""

    service: str  # the service (or model, dataset, job) the change names
    on_path: bool
    rule: str  # GRAPH_RULE (the traces' service dependency graph) or NAME_RULE (the bundle's names)
    why: str  # readable: "'search-api' is not on the path of model 'fraud-scorer' … in the trace dependency graph: …"


GRAPH_RULE, NAME_RULE = "graph", "name"


def _service_names(details: Mapping[str, Any], title: str, from_title: bool) -> list[str]:
    """The services a change names: its ``service`` detail, else (``from_title``) the name leading its title."""
    if details.get("service"):
        return [str(details["service"])]
    if from_title and not any(details.get(k) for k in ("model", "dataset", "job")):
        m = TITLE_SERVICE.match(title)
        if m:
            return [m.group(1) or m.group(2)]
    return []


def judge_path(details: Mapping[str, Any], title: str, service: str, *, model: str = "",
               path: frozenset[str] = frozenset(), graph: Any = None, graph_note: str = "",
               from_title: bool = True) -> PathJudgement | None:
    """Is the service a change names on the path of the affected model? None when there is nothing to judge.

    None when the change names the bundle's service or the model (or one of ``path``), or names nothing.
    Otherwise, when ``graph`` (a :class:`core.analysis.traces.ServiceGraph` of the bundle's traces) holds
    the model's service and the change names a service, the graph decides: a service that calls it or
    that it calls, directly or through others, is on the path; any other (a sibling, another component,
    a service absent from the traces) is not. Without a graph, or when the graph cannot tell, the name
    rule decides: a service other than the bundle's service and the model is not on the path.
    """
    if not service:
        return None
    other = off_path(details, title, service, frozenset(path | ({model} if model else set())), from_title=from_title)
    if other is None:
        return None
    who = f"model {model!r} (service {service!r})" if model else repr(service)
    names = _service_names(details, title, from_title)
    anchor = (graph.find(service) or (graph.find(model) if model else None)) if graph is not None else None
    if anchor is not None and names:
        near = graph.on_path(anchor)
        found = [graph.find(n) for n in names]
        hit = next((f for f in found if f is not None and f in near), None)
        if hit is not None:
            return PathJudgement(hit, True, GRAPH_RULE,
                                 f"'{hit}' is on the path of {who} in the trace dependency graph "
                                 f"({' → '.join(graph.chain(hit, anchor))}), so it is not discounted")
        shown = next((f for f in found if f is not None), None)
        if shown is not None:
            where = f"it is in the traces but neither calls nor is called by {anchor}, directly or through others"
        else:
            shown, where = names[0], "it does not appear in the traces"
        return PathJudgement(shown, False, GRAPH_RULE,
                             f"'{shown}' is not on the path of {who} in the trace dependency graph: {where} "
                             f"(the path there: {graph.describe(anchor)})")
    if graph is not None and anchor is None:
        reason = f"{service!r} does not appear in the traces"
    elif graph is not None:
        reason = "the change names no service the traces could place"
    else:
        reason = graph_note or "no trace dependency graph"
    return PathJudgement(other, False, NAME_RULE,
                         f"'{other}' is not on the path of {who}, judged by name ({reason}): it is neither the "
                         "bundle's service nor the model")


def changes_signals(ch: ChangeFinding, onset: datetime, service: str, data_end: datetime,
                    path: frozenset[str] = frozenset(), model: str = "", *, graph: Any = None,
                    graph_note: str = "") -> list[Signal]:
    """Evidence from the ranked changes (the strongest per rule) and from the stopped routine jobs."""
    out: list[Signal] = []
    if ch.ranking is None:
        return out
    best: dict[str, Signal] = {}

    def keep(sig: Signal) -> None:
        if sig.contribution > 0 and (sig.rule not in best or sig.contribution > best[sig.rule].contribution):
            best[sig.rule] = sig

    """Evidence from the ranked changes (the best signal per rule) and the stopped jobs."""
    routine = {_job_key(j.title) for j in ch.stopped}
    for rc in ch.ranking.changes:
        ev = rc.event
        close = closeness(rc.age)
        if rc.score < rc.prior * rc.closeness * 0.99:  # a routine (recurring) change: hardly a change
            close *= 0.15
        if _job_key(ev.title) in routine:
            continue
        infra = bool(INFRA_EVENT_WORDS.search(ev.title + " " + " ".join(map(str, ev.details.values()))))
        judged = judge_path(ev.details, ev.title, service, model=model, path=path, graph=graph,
                            graph_note=graph_note, from_title=ev.kind == "deploy" and not infra)
        svc = OFF_PATH if judged is not None and not judged.on_path else 1.0
        text = f"{ev.kind} '{ev.title}' {format_duration(rc.age)} before the onset"
        if judged is not None and ev.kind in ("deploy", "config_change", "model_version"):
            text += (f"; {judged.why}" if judged.on_path else
                     f"; discounted ×{OFF_PATH:g}: {judged.why}, so the timing is probably a coincidence")
        window = around(ev.timestamp, timedelta(hours=12), timedelta(hours=12))
        common = dict(step=NAME, view="timeline", title=ev.title, window=window,
                      data={"kind": ev.kind, "timestamp": iso(ev.timestamp), "age_s": rc.age.total_seconds(),
                            "closeness": round(close, 3), "service_factor": svc,
                            "path_rule": judged.rule if judged is not None else ""})
        if ev.kind == "external":
            keep(signal("external_change", close, text, **common))
        elif ev.kind == "data_pipeline":
            schema_like = bool(SCHEMA_EVENT_WORDS.search(ev.title + " " + " ".join(map(str, ev.details.values()))))
            keep(signal("schema_pipeline_event", close * (1.0 if schema_like else 0.6), text, **common))
            keep(signal("drift_pipeline_event", close, text, **common))
        elif ev.kind in ("model_version", "deploy", "config_change"):
            if infra and ev.kind != "model_version":
                keep(signal("infra_event", close * svc, text, **common))
            else:
                kind_w = {"model_version": 1.0, "deploy": 0.9, "config_change": 0.7}[ev.kind]
                keep(signal("code_event", close * svc * kind_w, text, **common))
    for job in ch.stopped:
        lead = onset - job.last_run
        strength = 1.0 if lead <= 2 * job.period + timedelta(minutes=30) else 0.6
        keep(signal("job_stopped", strength,
                     f"'{job.title}' ran every {format_duration(job.period)} ({job.runs} runs) and last ran at "
                     f"{iso(job.last_run)}, {format_duration(lead)} before the onset; no run since "
                     f"(up to {iso(data_end)})",
                     step=NAME, view="timeline", title=f"Routine job stopped: {job.title}",
                     window=around(job.last_run, timedelta(hours=12), timedelta(hours=12)),
                     data={"last_run": iso(job.last_run), "period_s": job.period.total_seconds()}))
    out.extend(best.values())
    return out



class ChangesStep:
    """Rank the change events before the onset; find routine jobs that stopped."""

    name = NAME
    title = TITLE
    relevance = {RootCause.DATA_DRIFT: 0.3, RootCause.SCHEMA_CHANGE: 0.4, RootCause.STALE_DATA: 0.5,
                 RootCause.CODE_REGRESSION: 0.8, RootCause.INFRASTRUCTURE: 0.2, RootCause.EXTERNAL_EVENT: 0.8}

    def run(self, context: TriageContext) -> StepOutcome:
        events = context.events()
        found = analyse_changes(events, context.at, data_end=context.data_end)
        model = str((context.bundle.manifest.get("model") or {}).get("name") or "")
        graph = context.service_graph() if events else None
        sigs = changes_signals(found, context.at, context.service, context.data_end, model=model,
                               graph=graph, graph_note=context.graph_note)
        step = found.step
        anchor = (graph.find(context.service) or (graph.find(model) if model else None)) if graph else None
        if anchor is not None and step.ran:
            step = replace(step, summary=f"{step.summary}; the model's path in the trace dependency graph: "
                                         f"{graph.describe(anchor)}",
                           details={**step.details, "path": graph.describe(anchor)})
        return StepOutcome(step, tuple(sigs), finding=replace(found, step=step))


#: The change-event rules judged against the data's own change point when the data changed first.
DATA_RULES = ("schema_pipeline_event", "drift_pipeline_event", "job_stopped")
#: The change-event rules judged against the prediction's own change point when the model's output changed first.
MODEL_RULES = ("code_event", "infra_event")


def changes_at_data_onset(context: TriageContext, data_onset: datetime, label: str,
                          rules: tuple[str, ...] = DATA_RULES) -> list[Signal]:
    """Change events judged against the data's (or the model output's) own change point.

    When the data changed well before the KPI, the change that explains it precedes the data
    change, not the KPI onset; the data step calls this with the data onset it found (and with
    the prediction's own change point for the code rules).
    """
    events = context.events()
    if events is None:
        return []
    early = analyse_changes(events, data_onset, data_end=context.data_end)
    model = str((context.bundle.manifest.get("model") or {}).get("name") or "")
    out = []
    for s in changes_signals(early, data_onset, context.service, context.data_end, model=model,
                             graph=context.service_graph(), graph_note=context.graph_note):
        if s.rule in rules:
            detail = s.evidence.detail.replace("before the onset", f"before {label}")
            detail = detail.replace(f"{iso(data_onset)}, ", f"{iso(data_onset)} ({label}), ")
            out.append(replace(s, evidence=replace(s.evidence, detail=detail)))
    return out
