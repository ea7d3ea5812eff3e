"""The post-mortem's charts: the timeline (KPI above the event lanes) and each pinned finding's chart.

An evidence chart is whatever the finding's kind draws (:func:`core.evidence.evidence_figure`);
nothing is guessed from the payload's key names.
"""

from __future__ import annotations

import pandas as pd

from core.evidence import evidence_figure
from core.models import Milestone
from core.report.model import MAX_EVIDENCE_CHARTS, Chart, ImpactNumbers, PostmortemInputs
from core.report.text import utc_text


def build_charts(inputs: PostmortemInputs, *, dark: bool = False, impact: ImpactNumbers | None = None) -> list[Chart]:
    """The timeline chart (KPI above the event lanes) and one chart per drawable evidence item.

    Without a ``started`` milestone, the impact start the report used (e.g. the detected
    KPI onset) is drawn as the ``started`` line and the caption says so.
    """
    from core.viz.timeline import build_timeline_figure

    inc = inputs.incident
    out: list[Chart] = []
    window = inc.time_range()
    if inputs.events or inputs.kpi is not None:
        kpi = inputs.kpi
        if kpi is not None and window is not None:
            ts = pd.to_datetime(kpi["timestamp"], utc=True)
            kpi = kpi[(ts >= window.start) & (ts < window.end)]
        milestones = dict(inc.milestones)
        note = ""
        if impact is not None and impact.start and not inc.milestone(Milestone.STARTED) \
                and impact.start_source.startswith("KPI onset"):
            milestones[Milestone.STARTED.value] = impact.start
            note = " The 'started' line is the KPI onset detected by change-point analysis (no milestone set)."
        fig = build_timeline_figure(
            list(inputs.events), kpi=kpi, kpi_name=inc.kpi_metric or "KPI", milestones=milestones,
            window=(window.start, window.end) if window else None, dark=dark, height=560,
        )
        fig.update_layout(width=1000)
        out.append(Chart("timeline", "Timeline", fig,
                         "KPI above, one lane per event kind below; vertical lines are the milestones." + note))
    drawn = 0
    for i, ev in enumerate(inputs.evidence, 1):
        if drawn >= MAX_EVIDENCE_CHARTS:
            break
        fig = evidence_figure(ev, dark=dark)
        if fig is not None:
            out.append(Chart("evidence", f"E{i}. {ev.title}", fig,
                             f"From the frozen copy pinned {utc_text(ev.created_at)}.", anchor=i - 1))
            drawn += 1
    return out
