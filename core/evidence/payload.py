"""What the typed payloads share: the stored copy they were read from, and tolerant readers.

A payload read from a row keeps that row's dict (``stored``): ``to_payload()`` gives it back
unchanged, so the frozen copy a post-mortem shows never depends on which fields a payload type
models. A payload built in code (``stored`` None) gives the dict of its fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from core.evidence.generic import frozen_numbers


@dataclass(frozen=True)
class StoredPayload:
    """Base of the built-in payload types; ``stored`` is the JSON result the payload was read from."""

    stored: Mapping[str, Any] | None = field(default=None, compare=False, repr=False, kw_only=True)

    def to_payload(self) -> dict[str, Any]:
        """The JSON dict kept in the evidence row (the stored one, unchanged, when read from a row)."""
        return dict(self.stored) if self.stored is not None else self.fields_payload()

    def fields_payload(self) -> dict[str, Any]:
        """The payload's fields as the JSON dict a pin stores."""
        raise NotImplementedError


class TableRenderer:
    """Numbers of every built-in kind: the frozen copy's scalar values, in stored order; no chart."""

    def numbers(self, payload: StoredPayload) -> list[tuple[str, str]]:
        return frozen_numbers(payload.to_payload())

    def figure(self, payload: Any, *, dark: bool = False) -> Any:
        return None


def number(value: Any) -> float | None:
    """A JSON number as float; None for null, text, booleans and anything else."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def integer(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def records(value: Any) -> list[Mapping[str, Any]]:
    """The dicts of a JSON list (other items are left out)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
