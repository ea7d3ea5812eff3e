"""The generic payload and renderer: any stored result as a table of its scalar values, no chart.

Used for kinds nobody registered (old rows, extensions that are not loaded) and, through
:func:`frozen_numbers`, for the frozen-numbers table of the built-in kinds too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

MAX_FROZEN_NUMBERS = 12


def _num(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def frozen_numbers(result: Mapping[str, Any], limit: int = MAX_FROZEN_NUMBERS) -> list[tuple[str, str]]:
    """Scalar values of an evidence result (one level of nesting flattened), as (name, text), in stored order."""
    out: list[tuple[str, str]] = []
    for key, value in result.items():
        if len(out) >= limit:
            break
        if isinstance(value, (int, float, bool)) and value is not None:
            out.append((str(key), _num(value)))
        elif isinstance(value, str) and len(value) <= 80:
            out.append((str(key), value))
        elif isinstance(value, dict):
            for k2, v2 in value.items():
                if len(out) >= limit:
                    break
                if isinstance(v2, (int, float, bool)) or (isinstance(v2, str) and len(v2) <= 80):
                    out.append((f"{key}.{k2}", _num(v2)))
    return out


@dataclass(frozen=True)
class GenericPayload:
    """A stored result of a kind with no typed payload: kept as it is."""

    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "GenericPayload":
        return cls(dict(data) if isinstance(data, Mapping) else {})

    def to_payload(self) -> dict[str, Any]:
        return dict(self.data)


class GenericRenderer:
    """The stored payload's scalar values as a table; no chart (nothing is guessed from key names)."""

    def numbers(self, payload: Any) -> list[tuple[str, str]]:
        return frozen_numbers(payload.to_payload())

    def figure(self, payload: Any, *, dark: bool = False) -> None:
        return None


def _generic() -> Any:
    from core.evidence.registry import EvidenceKind

    return EvidenceKind("generic", GenericPayload, GenericRenderer(), "any result, as a table of its values")


GENERIC = _generic()
