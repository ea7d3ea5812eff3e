"""The workbench reports its own unexpected errors to Sentry, when ``SENTRY_DSN`` is set.

:func:`start` is called once per app run (``app.py``; it does nothing after the first call with the same
DSN). With ``SENTRY_DSN`` (or ``dsn`` under ``[sentry]`` in ``.streamlit/secrets.toml``) it initialises the
real ``sentry-sdk`` (from ``requirements-sentry.txt``, imported only then): unexpected errors reach it
through the SDK's logging integration (Streamlit logs every uncaught page exception at ERROR as
"Uncaught app execution"; expected :class:`~core.errors.WorkbenchError` messages are shown on the page and
not logged, so they are not sent). Without the DSN nothing is imported and nothing is sent; with the DSN but
without the SDK one warning says to install ``requirements-sentry.txt``.

Every event passes :func:`scrub` (the SDK's ``before_send``) first: the presentation-mode masking of
:mod:`core.masking` is applied to the message, the exception values, the stack frames' local variables
and source lines, the breadcrumbs and the extra data, so a card number, an e-mail address or a token in
an error message arrives masked. ``send_default_pii`` stays off. Optional settings: ``SENTRY_ENVIRONMENT``,
``SENTRY_RELEASE``, ``SENTRY_SAMPLE_RATE`` (errors, 0..1, default 1).
"""

from __future__ import annotations

import logging
from typing import Any

from core.masking import mask_obj, mask_text

__all__ = ["scrub", "start"]

LOG = logging.getLogger(__name__)
INSTALL_HINT = "SENTRY_DSN is set but sentry-sdk is not installed: install requirements-sentry.txt " \
               "(pip install -r requirements-sentry.txt) to report the workbench's errors to Sentry"
#: what a stack frame carries that can hold user data: local variables and the source lines around it
FRAME_KEYS = ("vars", "context_line", "pre_context", "post_context")
_started: str | None = None
_warned = False


def _mask_in(container: Any, *keys: str) -> None:
    if isinstance(container, dict):
        for key in keys:
            if key in container:
                container[key] = mask_obj(container[key])


def scrub(event: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
    """``before_send``: the event with the presentation-mode masking applied to what can carry user data."""
    if isinstance(event.get("message"), str):
        event["message"] = mask_text(event["message"])
    _mask_in(event.get("logentry"), "message", "formatted", "params")
    for exc in (event.get("exception") or {}).get("values") or []:
        _mask_in(exc, "value")
        for frame in (exc.get("stacktrace") or {}).get("frames") or []:
            _mask_in(frame, *FRAME_KEYS)
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in (thread.get("stacktrace") or {}).get("frames") or []:
            _mask_in(frame, *FRAME_KEYS)
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        _mask_in(crumb, "message", "data")
    _mask_in(event, "extra", "request")
    return event


def start(config: Any = None) -> bool:
    """Initialise error reporting when a DSN is configured; True when reporting is on."""
    global _started, _warned
    if config is None:
        from core.config import settings

        config = settings()
    sec = config.section("sentry")
    dsn = sec.text("dsn")
    if not dsn:
        return False
    if _started == dsn:
        return True
    try:
        import sentry_sdk
    except ImportError:
        if not _warned:
            LOG.warning(INSTALL_HINT)
            _warned = True
        return False
    sentry_sdk.init(dsn=dsn, before_send=scrub, send_default_pii=False,
                    environment=sec.text("environment"), release=sec.text("release"),
                    sample_rate=sec.number("sample_rate", 1.0),
                    trace_propagation_targets=[])  # no trace headers on calls to the team's own servers
    _started = dsn
    return True
