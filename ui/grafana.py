"""The "Open in Grafana" link of the Metrics and Logs pages (nothing when Grafana is not configured).

The URL comes from :func:`core.sources.grafana.explore_url`: the same query (PromQL on the Metrics page,
Lucene on the Logs page) on the same absolute range, in the configured Grafana and data source
(``GRAFANA_URL`` and ``GRAFANA_PROMETHEUS_DATASOURCE`` / ``GRAFANA_ELASTICSEARCH_DATASOURCE``; see
docs/grafana.md).
"""

from __future__ import annotations

import streamlit as st

from core.config import settings
from core.errors import WorkbenchError
from core.models import TimeWindow
from core.sources.grafana import configured, explore_url


def grafana_url(kind: str, query: str, window: TimeWindow | tuple) -> str | None:
    """The Explore URL of ``query`` over ``window`` (a TimeWindow or ``(start, end)``), or None when Grafana or
    that data source is not configured."""
    config = settings()
    if not query or not configured(config, kind):
        return None
    try:
        return explore_url(config, kind, query, window if isinstance(window, TimeWindow) else TimeWindow(*window))
    except WorkbenchError:
        return None


def explore_link(kind: str, query: str, window: TimeWindow | tuple, *, where=st) -> None:
    """An "Open in Grafana" button opening Explore on ``query`` over ``window``; nothing when not configured.

    ``kind`` is ``prometheus`` (PromQL) or ``elasticsearch`` (Lucene); ``where`` a column or container.
    """
    url = grafana_url(kind, query, window)
    if url is not None:
        where.link_button("Open in Grafana", url, icon=":material/open_in_new:",
                          help="Grafana Explore with the same query on the same absolute time range (UTC)")


def push_annotations_button(store, incident, *, where=st) -> None:
    """A "Push to Grafana" button: the incident's milestones and pinned events as annotations ``incident:<id>``.

    Nothing when ``GRAFANA_URL`` is not set; pushing twice adds nothing (the client skips what is there).
    """
    config = settings()
    if not configured(config):
        return
    if where.button("Push to Grafana", key=f"grafana_push_{incident.id}", icon=":material/upload:",
                    help=f"Add the milestones and pinned events to Grafana as annotations tagged incident:{incident.id}"):
        from core.sources.grafana import GrafanaClient
        from core.store.timeline import list_events
        from ui.state import show_error

        try:
            got = GrafanaClient.from_settings(config).push(incident, list_events(store, incident.id))
        except WorkbenchError as exc:
            show_error(exc, "Could not push to Grafana.")
            return
        where.success(f"{len(got['added'])} annotation(s) added to Grafana, {got['skipped']} already there.")
