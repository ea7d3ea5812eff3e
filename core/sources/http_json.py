"""One JSON-over-HTTP call with the errors every HTTP source reports the same way.

The Sentry, Grafana, Jaeger and Tempo clients (and any new HTTP source) call
:func:`request_json`: a timeout, an unreachable server, any HTTP error status and a body that
is not JSON all become :class:`~core.errors.SourceUnavailableError` whose message names the
server (``where``, a display URL without credentials) and the setting to fix, never a token.
Each caller passes its own sentences for the statuses it knows better (401, 403, 404, 429…).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Union

StatusMessage = Union[str, Callable[[Any], str]]

from core.errors import SourceUnavailableError


def request_json(method: str, url: str, *, where: str, url_setting: str, timeout: float,
                 params: Mapping[str, Any] | None = None, body: Any = None,
                 headers: Mapping[str, str] | None = None, auth: Any = None,
                 status_messages: Mapping[int, StatusMessage] | None = None, timeout_hint: str = "",
                 not_json_hint: str = "", what: str = "") -> tuple[Any, Any]:
    """Send one request and return ``(decoded JSON body, response)``.

    ``url_setting`` names the setting holding the server address (``GRAFANA_URL``);
    ``status_messages`` maps a status to the sentence shown after ``where`` (or to a function of
    the response returning it, to quote a header such as ``Retry-After``);
    ``what`` (``GET /api/…``) is added to the generic HTTP-error sentence.
    """
    import requests

    sent = {"Accept": "application/json", **(headers or {})}
    try:
        resp = requests.request(method, url, params=params, json=body, headers=sent, auth=auth, timeout=timeout)
    except requests.Timeout:
        raise SourceUnavailableError(f"{where} did not answer within {timeout:g} s"
                                     + (f" ({timeout_hint})" if timeout_hint else "")) from None
    except requests.ConnectionError:
        raise SourceUnavailableError(f"{where} cannot be reached; check {url_setting} and the network") from None
    except requests.RequestException as exc:
        raise SourceUnavailableError(f"request to {where} failed ({type(exc).__name__})") from None
    status = resp.status_code
    if status >= 400:
        known = (status_messages or {}).get(status)
        if callable(known):
            known = known(resp)
        if known:
            raise SourceUnavailableError(f"{where} {known}")
        raise SourceUnavailableError(f"{where} answered HTTP {status}" + (f" to {what}" if what else ""))
    try:
        return resp.json(), resp
    except ValueError:
        raise SourceUnavailableError(f"{where} answered {what + ' with ' if what else ''}a body that is not JSON"
                                     + (f"; {not_json_hint}" if not_json_hint else "")) from None
