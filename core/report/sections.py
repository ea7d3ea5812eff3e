"""The drafted Markdown of every section, the evidence blocks and the STAR summary."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping

from core.evidence import evidence_numbers
from core.models import (
    ROLE_LABELS,
    ROOT_CAUSE_LABELS,
    ActionStatus,
    Cause,
    CauseStatus,
    EventKind,
    Evidence,
    Incident,
    Milestone,
    Role,
    TimelineEvent,
    durations_from,
    format_duration,
)
from core.report.impact import end_source
from core.report.model import CHANGE_KINDS, ImpactNumbers, PostmortemInputs, Star
from core.report.text import md_table, md_text, pct, utc_text


def _durations_line(incident: Incident, impact: ImpactNumbers) -> str:
    known = {k: v for k, v in durations_from(incident, impact.start).items() if v is not None}
    if not known:
        return "No durations yet: set the incident's milestones (started, detected, mitigated, resolved)."
    return ("Measured from impact start: " + " · ".join(f"**{k}** {format_duration(v)}" for k, v in known.items())
            + ".")


def _cause_label(c: Cause, names: Mapping[int, str]) -> str:
    cat = names.get(c.category_id, "")
    return f"{md_text(c.text)}" + (f" *({md_text(cat)})*" if cat else "")


def draft_sections(inputs: PostmortemInputs, impact: ImpactNumbers, keys: list[TimelineEvent],
                   star: Star) -> dict[str, str]:
    """The drafted Markdown of every section."""
    inc = inputs.incident
    ms = inc.milestones
    events = list(inputs.events)
    d: dict[str, str] = {}
    rc = ROOT_CAUSE_LABELS.get(inc.root_cause, "not classified yet") if inc.root_cause else "not classified yet"
    d["title_status"] = "\n".join([
        f"**{md_text(inc.title)}**", "",
        md_table(["Incident", "Service", "Severity", "Status", "Root-cause class"],
               [[inc.id, inc.service or "—", inc.severity.value, inc.status.value, rc]]),
    ])
    d["star"] = star.as_markdown()
    summary = md_text(inc.summary) or f"{md_text(inc.title)}."
    confirmed = [c for c in inputs.causes if c.status == CauseStatus.CONFIRMED and c.parent_id is None]
    parts = [summary]
    if impact.kpi_change is not None:
        parts.append(f"Over the {format_duration(impact.duration)} of impact, {md_text(impact.kpi_name)} averaged "
                     f"{pct(impact.kpi_change)} against its baseline mean.")
    if confirmed:
        parts.append("Confirmed cause" + ("s" if len(confirmed) > 1 else "") + ": "
                     + "; ".join(md_text(c.text) for c in confirmed) + ".")
    d["summary"] = " ".join(parts)

    rows = [["Impact start", f"{utc_text(impact.start)} ({impact.start_source})"],
            ["Impact end", f"{utc_text(impact.end)} ({end_source(inc)})"],
            ["Duration", format_duration(impact.duration)]]
    if impact.kpi_before is not None:
        rows += [[f"{md_text(impact.kpi_name)} before (baseline mean)", f"{impact.kpi_before:.4g}"],
                 [f"{md_text(impact.kpi_name)} during impact (mean)", f"{impact.kpi_during:.4g}"],
                 ["KPI change (impact mean vs baseline mean)", pct(impact.kpi_change)],
                 ["Affected share", f"{impact.affected_share:.0%} of {impact.readings:,} KPI readings during impact "
                                    "were worse than 95% of baseline readings (normal: 5%)"]]
    else:
        rows.append(["KPI change", "no KPI series attached to this incident"])
    d["impact"] = md_table(["Measure", "Value"], rows) + "\n\n" + _durations_line(inc, impact)

    if keys:
        trows = [[e.timestamp.strftime("%Y-%m-%d %H:%M"), e.kind.value.replace("_", " "),
                  e.title + (" (pinned)" if e.pinned and e.kind != EventKind.MILESTONE else "")] for e in keys]
        more = len(events) - len([k for k in keys if k.id is not None])
        d["timeline"] = md_table(["Time (UTC)", "Kind", "Event"], trows) + (
            f"\n\n{more:,} further events (logs and routine entries) are on the full timeline." if more > 0 else "")
    else:
        d["timeline"] = "No events on the timeline yet."

    started, detected = impact.start, ms.get(Milestone.DETECTED.value)
    alerts = [e for e in events if e.kind == EventKind.ALERT and (started is None or e.timestamp >= started)]
    det = [f"Detected at {utc_text(detected)}" + (f", {format_duration(detected - started)} after impact start (TTD)."
                                              if started and detected else ".")]
    if alerts:
        det.append(f"First alert: *{md_text(alerts[0].title)}* at {utc_text(alerts[0].timestamp)}.")
    else:
        det.append("No alert is on the timeline: detection came from a person or a report.")
    if detected and started and detected - started > timedelta(minutes=30):
        det.append("Detection took longer than 30 minutes; consider an alert on the KPI itself.")
    d["detection"] = " ".join(det)

    roles = [[ROLE_LABELS.get(Role(r), r) if r in {x.value for x in Role} else r, p] for r, p in inc.roles.items()]
    ack, mitigated = ms.get(Milestone.ACKNOWLEDGED.value), ms.get(Milestone.MITIGATED.value)
    resp = []
    if ack:
        resp.append(f"Acknowledged at {utc_text(ack)}"
                    + (f" (TTA {format_duration(ack - started)})." if started else "."))
    lo, hi = detected or started, mitigated or ms.get(Milestone.RESOLVED.value)
    acts = [e for e in events if lo and e.timestamp >= lo and (hi is None or e.timestamp <= hi)
            and e.kind in (EventKind.ANNOTATION, EventKind.CONFIG_CHANGE, EventKind.DEPLOY, EventKind.MODEL_VERSION,
                           EventKind.FINDING, EventKind.LOG)]
    if acts:
        resp.append("Steps taken between detection and mitigation:\n\n" + "\n".join(
            f"- {e.timestamp.strftime('%Y-%m-%d %H:%M')} — {md_text(e.title)}" for e in acts[:15]))
    if not resp:
        resp.append("No response steps recorded yet; add them as notes on the timeline.")
    resp.append("Roles (people appear only here):\n\n" + (md_table(["Role", "Person"], roles) if roles
                                                          else "No roles assigned."))
    if inputs.who_did_what:
        resp.append(inputs.who_did_what)
    d["response"] = "\n\n".join(resp)

    resolved = ms.get(Milestone.RESOLVED.value)
    rec = []
    if mitigated:
        rec.append(f"Impact mitigated at {utc_text(mitigated)}"
                   + (f" (TTM {format_duration(mitigated - started)})." if started else "."))
    if resolved:
        rec.append(f"Resolved at {utc_text(resolved)}"
                   + (f" (TTR {format_duration(resolved - started)})." if started else "."))
    fixes = [e for e in events if mitigated and e.timestamp >= mitigated and (resolved is None or e.timestamp <= resolved)
             and e.kind in CHANGE_KINDS + (EventKind.ANNOTATION,)]
    rec += [f"- {e.timestamp.strftime('%Y-%m-%d %H:%M')} — {md_text(e.title)}" for e in fixes[:10]]
    d["recovery"] = "\n".join(rec) if rec else "Not mitigated yet: set the mitigated and resolved milestones."

    names = inputs.category_names
    lines = [f"Root-cause class: **{rc}**.", ""]
    if confirmed:
        for i, c in enumerate(confirmed, 1):
            lines.append(f"{i}. **{_cause_label(c, names)}**" + (f" — {md_text(c.notes)}" if c.notes else ""))
            for k in [x for x in inputs.causes if x.parent_id == c.id]:
                lines.append(f"    - contributing: {md_text(k.text)} ({k.status.value.replace('_', ' ')})")
            for ref in c.evidence[:5]:
                lines.append(f"    - evidence: {md_text(ref.get('title', ''))}")
    else:
        lines.append("No cause is confirmed on the fishbone yet.")
    contributing = [c for c in inputs.causes if c.status == CauseStatus.CONFIRMED and c.parent_id is not None
                    and c.parent_id not in {x.id for x in confirmed}]
    suspected = [c for c in inputs.causes if c.status == CauseStatus.SUSPECTED]
    ruled = [c for c in inputs.causes if c.status == CauseStatus.RULED_OUT]
    if contributing:
        lines += ["", "Contributing factors:"] + [f"- {_cause_label(c, names)}" for c in contributing]
    if suspected:
        lines += ["", "Still suspected (not confirmed):"] + [f"- {_cause_label(c, names)}" for c in suspected]
    if ruled:
        lines += ["", "Ruled out:"] + [f"- {_cause_label(c, names)}" + (f" — {md_text(c.notes)}" if c.notes else "")
                                       for c in ruled]
    d["root_causes"] = "\n".join(lines)

    from core.store.fishbone import why_paths

    paths = why_paths(inputs.whys)
    if paths:
        causes_by_id = {c.id: c for c in inputs.causes}
        blocks = []
        for n, path in enumerate(paths, 1):
            head = f"**Chain {n}" + (f" ({md_text(path[0].chain)})" if path[0].chain != "main" else "") + "**"
            steps = []
            for i, w in enumerate(path, 1):
                step = f"{i}. {md_text(w.question)} — {md_text(w.answer) or '*unanswered*'}"
                if w.cause_id in causes_by_id:
                    step += f" → cause: *{md_text(causes_by_id[w.cause_id].text)}*"
                steps.append(step)
            blocks.append(head + "\n\n" + "\n".join(steps))
        d["five_whys"] = "\n\n".join(blocks)
    else:
        d["five_whys"] = "No Five Whys chain yet: add one on the Fishbone page."

    well = []
    durs = durations_from(inc, impact.start)
    if durs["TTD"] is not None and durs["TTD"] <= timedelta(minutes=30):
        well.append(f"Fast detection: TTD {format_duration(durs['TTD'])}.")
    if alerts:
        well.append("Monitoring fired an alert.")
    if inputs.evidence:
        well.append(f"{len(inputs.evidence)} finding(s) were pinned as evidence, so the analysis is reproducible.")
    if ruled:
        well.append(f"{len(ruled)} plausible change(s) were ruled out with evidence instead of being rolled back blindly.")
    d["went_well"] = "\n".join(f"- {x}" for x in well) or "- *Add what helped the response.*"
    wrong = []
    if durs["TTD"] is not None and durs["TTD"] > timedelta(minutes=30):
        wrong.append(f"Slow detection: impact ran for {format_duration(durs['TTD'])} before anyone knew.")
    if not alerts:
        wrong.append("No alert fired on the timeline.")
    wrong += [f"{md_text(c.text)}" for c in confirmed]
    d["went_wrong"] = "\n".join(f"- {x}" for x in wrong) or "- *Add system conditions that made it worse.*"
    d["got_lucky"] = ("- *Add what could have made this worse, e.g. timing, traffic level, or a check that "
                      "happened to catch it.*")

    if inputs.actions:
        causes_by_id = {c.id: c for c in inputs.causes}
        today = datetime.now(timezone.utc).date()
        arows = []
        for a in inputs.actions:
            overdue = a.due is not None and a.due < today and a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
            arows.append([a.text, a.owner or "unassigned", (a.due.isoformat() if a.due else "—") + (" (past due)" if overdue else ""),
                          a.status.value.replace("_", " "),
                          causes_by_id[a.cause_id].text if a.cause_id in causes_by_id else "—"])
        d["action_items"] = md_table(["Action", "Owner", "Due", "Status", "Linked cause"], arows)
    else:
        d["action_items"] = "No action items yet: add them on the Fishbone page."
    if inputs.guard_rails is not None:
        from core.report.guardrails import action_items_markdown

        d["action_items"] += "\n\n" + action_items_markdown(inputs.guard_rails)

    blocks = evidence_blocks(inputs.evidence)
    d["evidence"] = "\n\n".join(blocks) if blocks else \
        "No evidence pinned: pin findings from the analysis pages to support the causes."
    return d


def evidence_blocks(evidence: Iterable[Evidence]) -> list[str]:
    """One Markdown block per pinned finding: title, kind, window, digest and its frozen numbers
    (the rows its kind's renderer gives, :func:`core.evidence.evidence_numbers`)."""
    blocks = []
    for i, ev in enumerate(evidence, 1):
        window = f"{utc_text(ev.window.start)} – {utc_text(ev.window.end)}" if ev.window else "no window"
        head = f"**E{i}. {md_text(ev.title)}** — {md_text(ev.kind)}, {window}, digest `{ev.digest[:12]}`"
        nums = evidence_numbers(ev)  # as the finding's kind renders its frozen copy
        blocks.append(head + ("\n\n" + md_table(["Measure (frozen copy)", "Value"], [[k, v] for k, v in nums])
                              if nums else ""))
    return blocks


def star_summary(inputs: PostmortemInputs, impact: ImpactNumbers) -> Star:
    """Situation, task, action, result in one sentence each."""
    inc = inputs.incident
    svc = f" on {md_text(inc.service)}" if inc.service else ""
    kpi = (f"; {md_text(impact.kpi_name)} averaged {pct(impact.kpi_change)} against its baseline mean over the impact"
           if impact.kpi_change is not None else "")
    situation = f"{inc.severity.value} incident{svc} starting {utc_text(impact.start)}: {md_text(inc.title)}{kpi}."
    task = ("Restore normal service, find the root cause without blaming anyone, and prevent a recurrence.")
    confirmed = [c for c in inputs.causes if c.status == CauseStatus.CONFIRMED and c.parent_id is None]
    ruled = [c for c in inputs.causes if c.status == CauseStatus.RULED_OUT]
    act = []
    if inputs.evidence:
        act.append(f"pinned {len(inputs.evidence)} finding(s) as evidence")
    if ruled:
        act.append(f"ruled out {len(ruled)} plausible change(s)")
    if confirmed:
        shown = "; ".join(md_text(c.text) for c in confirmed[:3]) + ("; …" if len(confirmed) > 3 else "")
        act.append(f"confirmed {len(confirmed)} cause(s): {shown}")
    if inputs.guard_rails is not None and inputs.guard_rails.proven:
        from core.report.guardrails import star_action

        act.append(md_text(star_action(inputs.guard_rails)))
    if not act:
        action = "Investigation is under way; no cause confirmed yet."
    else:
        action = "The team " + (", ".join(act[:-1]) + " and " + act[-1] if len(act) > 1 else act[0]) + "."
    durs = durations_from(inc, impact.start)
    res = []
    if durs["TTM"] is not None:
        res.append(f"impact mitigated after {format_duration(durs['TTM'])}")
    if durs["TTR"] is not None:
        res.append(f"resolved after {format_duration(durs['TTR'])}")
    open_items = sum(a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS) for a in inputs.actions)
    res.append(f"{len(inputs.actions)} action item(s), {open_items} still open")
    if inputs.guard_rails is not None and inputs.guard_rails.proven:
        res.append(f"{len(inputs.guard_rails.proven)} guard rail(s) ready to deploy"
                   + (f" ({md_text(inputs.guard_rails.headline)})" if inputs.guard_rails.headline else ""))
    result = (res[0][0].upper() + "; ".join(res)[1:] + ".") if res else "Not resolved yet."
    return Star(situation=situation, task=task, action=action, result=result)
