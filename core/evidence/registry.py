"""The evidence kind registry: each kind's typed payload and its one renderer.

A *kind* is the name stored with a pinned finding (``drift``, ``changepoint``, ``log_query``, …).
:func:`register_kind` ties it to

* a **payload type**: a frozen dataclass with ``from_payload(data)`` (reads the stored JSON
  result, old rows included; missing keys take defaults) and ``to_payload()`` (the JSON dict that
  is stored; for a payload read from a row, that row's dict, unchanged);
* a **renderer**: ``numbers(payload)`` — the ``(measure, value)`` rows of the frozen copy shown as
  a table — and ``figure(payload, *, dark)`` — a Plotly figure (from :mod:`core.viz.evidence`) or
  None.

The post-mortem (:mod:`core.report`), its exports and the walkthrough (``ui.presentation``) draw
evidence only through :func:`evidence_numbers` and :func:`evidence_figure`. A kind nobody
registered (an old row, an extension's kind that is not loaded) gets the generic renderer: its
scalar values as a table and no chart; rendering never raises for an unknown or malformed payload.
The built-in kinds register in :mod:`core.evidence.kinds`, through the same :func:`register_kind`
an extension calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol, runtime_checkable

from core.errors import InvalidInputError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from core.models import Evidence


@runtime_checkable
class EvidencePayload(Protocol):
    """What a typed payload offers (a frozen dataclass in practice)."""

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "EvidencePayload": ...

    def to_payload(self) -> dict[str, Any]: ...


class EvidenceRenderer(Protocol):
    """The one renderer of a kind: the frozen numbers and the chart of its payload."""

    def numbers(self, payload: Any) -> list[tuple[str, str]]: ...

    def figure(self, payload: Any, *, dark: bool = False) -> "go.Figure | None": ...


@dataclass(frozen=True)
class EvidenceKind:
    """A registered kind: its name, a one-line description, its payload type and renderer."""

    kind: str
    payload_type: type
    renderer: EvidenceRenderer
    description: str = ""


_KINDS: dict[str, EvidenceKind] = {}


def register_kind(kind: str, payload_type: type, renderer: EvidenceRenderer, *, description: str = "",
                  replace: bool = False) -> EvidenceKind:
    """Register an evidence kind (built-ins and extensions alike).

    Raises:
        InvalidInputError: the name is empty, already registered (without ``replace=True``), the
            payload type lacks ``from_payload``/``to_payload`` or the renderer ``numbers``/``figure``.
    """
    if not kind or not isinstance(kind, str):
        raise InvalidInputError("an evidence kind needs a non-empty name")
    if kind in _KINDS and not replace:
        raise InvalidInputError(f"evidence kind '{kind}' is already registered; pass replace=True to change it")
    if not (hasattr(payload_type, "from_payload") and hasattr(payload_type, "to_payload")):
        raise InvalidInputError(f"the payload type of '{kind}' needs from_payload() and to_payload()")
    if not (callable(getattr(renderer, "numbers", None)) and callable(getattr(renderer, "figure", None))):
        raise InvalidInputError(f"the renderer of '{kind}' needs numbers(payload) and figure(payload, dark=...)")
    entry = EvidenceKind(kind, payload_type, renderer, description)
    _KINDS[kind] = entry
    return entry


def unregister_kind(kind: str) -> None:
    """Remove a kind; its rows then render with the generic renderer."""
    _KINDS.pop(kind, None)


def registered_kinds() -> tuple[EvidenceKind, ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS.values())


def kind_entry(kind: str) -> EvidenceKind:
    """The registered kind, or the generic one for a name nobody registered."""
    from core.evidence.generic import GENERIC

    return _KINDS.get(kind) or GENERIC


def typed_payload(kind: str, result: Mapping[str, Any] | None) -> Any:
    """The stored ``result`` of a ``kind`` read into its payload type (generic when unreadable)."""
    from core.evidence.generic import GENERIC, GenericPayload

    entry = kind_entry(kind)
    data = result if isinstance(result, Mapping) else {}
    try:
        return entry.payload_type.from_payload(data)
    except (TypeError, ValueError, KeyError, AttributeError):  # a malformed old row: show it as it is
        return GenericPayload.from_payload(data) if entry is not GENERIC else GenericPayload({})


def _renderer_for(kind: str, payload: Any) -> EvidenceRenderer:
    from core.evidence.generic import GENERIC, GenericPayload

    return GENERIC.renderer if isinstance(payload, GenericPayload) else kind_entry(kind).renderer


def evidence_numbers(ev: "Evidence") -> list[tuple[str, str]]:
    """The ``(measure, value)`` rows of a pinned finding's frozen copy, as its kind renders them."""
    payload = typed_payload(ev.kind, ev.result)
    return _renderer_for(ev.kind, payload).numbers(payload)


def evidence_figure(ev: "Evidence", *, dark: bool = False) -> "go.Figure | None":
    """The chart of a pinned finding, as its kind draws it; None when the kind draws none."""
    payload = typed_payload(ev.kind, ev.result)
    return _renderer_for(ev.kind, payload).figure(payload, dark=dark)


def payload_dict(result: Any) -> Any:
    """A result given to :func:`core.store.evidence.pin_evidence`: a typed payload becomes its
    ``to_payload()``; a dict (or anything else) is returned as it is."""
    if not isinstance(result, Mapping) and hasattr(result, "to_payload"):
        return result.to_payload()
    return result
