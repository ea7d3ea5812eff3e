"""Typed evidence: each kind of pinned finding has a payload type and one renderer, in one registry.

See :mod:`core.evidence.registry` for the contract and :mod:`core.evidence.kinds` for the built-in
kinds. The post-mortem, its exports and the walkthrough render evidence only through
:func:`evidence_numbers` and :func:`evidence_figure`.
"""

from core.evidence.generic import GenericPayload, frozen_numbers
from core.evidence.registry import (
    EvidenceKind,
    evidence_figure,
    evidence_numbers,
    kind_entry,
    payload_dict,
    register_kind,
    registered_kinds,
    typed_payload,
    unregister_kind,
)
import core.evidence.kinds  # noqa: E402,F401  (registers the built-in kinds)

__all__ = [
    "EvidenceKind", "GenericPayload", "evidence_figure", "evidence_numbers", "frozen_numbers", "kind_entry",
    "payload_dict", "register_kind", "registered_kinds", "typed_payload", "unregister_kind",
]
