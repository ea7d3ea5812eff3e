"""The triage step registry: the ``Step`` protocol, ``register``, and the views scoring reads.

A step is one file under ``core/triage/steps/`` holding an object with a ``name``, a
``title``, its ``relevance`` (which root-cause classes it bears on, and how much: the
confidence of a class is the relevance-weighted share of its steps that ran) and a
``run(context)`` that returns a :class:`~core.triage.models.StepOutcome`. Built-in steps
register in ``core/triage/steps/__init__.py`` with the same :func:`register` call an
extension uses; the runner runs them in registration order, after the onset.

Two optional attributes: ``rules`` (rule name → ``(class, weight, reason)``), so a new
kind of evidence needs no edit of the rule book in :mod:`core.triage.rules`; and
``requires`` (names of earlier steps it builds on): when one of them did not run, the step
is not run and not listed (the earlier step's skip says why), and it counts as unchecked
for the classes it bears on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from core.errors import InvalidInputError
from core.models import RootCause, TimeWindow
from core.triage.models import ONSET_TITLE, STEP_ONSET, EvidenceItem, Signal, StepOutcome, TriageContext
from core.triage.rules import RULES as BUILTIN_RULES
from core.triage.rules import clip

Rule = tuple[RootCause, float, str]


@runtime_checkable
class Step(Protocol):
    """One triage step (see the module docstring and docs/architecture.md)."""

    name: str
    title: str
    relevance: Mapping[RootCause, float]

    def run(self, context: TriageContext) -> StepOutcome:
        """Read what the step needs through ``context``, analyse it, return its outcome.

        A missing or unusable source gives a ``skipped`` (or ``failed``) step result with the
        reason, never "no problem". Raising :class:`~core.errors.WorkbenchError` marks the
        step failed with its message.
        """
        ...


_STEPS: dict[str, Step] = {}


def register(step: Step) -> Step:
    """Add ``step`` to the registry (it runs after the steps registered before it); returns it.

    Raises:
        InvalidInputError: the object is not a step, its name is taken, its relevance names
            no root-cause class or a weight outside (0, 1], or a rule of its clashes with another.
    """
    if not isinstance(step, Step):
        raise InvalidInputError(f"{step!r} is not a triage step: it needs name, title, relevance and run(context)")
    if step.name == STEP_ONSET or step.name in _STEPS:
        raise InvalidInputError(f"a triage step named '{step.name}' is already registered; pick another name")
    bad = [f"{k}={w}" for k, w in step.relevance.items() if not isinstance(k, RootCause) or not 0 < w <= 1]
    if bad:
        raise InvalidInputError(f"step '{step.name}': relevance must map RootCause classes to weights in (0, 1], "
                                f"got {', '.join(bad)}")
    missing = [r for r in getattr(step, "requires", ()) if r not in _STEPS]
    if missing:
        raise InvalidInputError(f"step '{step.name}' requires {', '.join(missing)}, which is not registered before it")
    taken = set(BUILTIN_RULES) | {r for s in _STEPS.values() for r in getattr(s, "rules", {})}
    clash = sorted(set(getattr(step, "rules", {})) & taken)
    if clash:
        raise InvalidInputError(f"step '{step.name}': rule(s) {', '.join(clash)} already exist; rename them")
    _STEPS[step.name] = step
    return step


def unregister(name: str) -> Step | None:
    """Remove a step by name (for tests and for turning a step off); returns it, or None."""
    return _STEPS.pop(name, None)


def registered_steps() -> tuple[Step, ...]:
    """The registered steps in run order (the built-ins are loaded first)."""
    import core.triage.steps  # noqa: F401  # pyflakes: registers the built-in steps once

    return tuple(_STEPS.values())


def step_titles() -> dict[str, str]:
    """Step name → title, the onset first."""
    return {STEP_ONSET: ONSET_TITLE, **{s.name: s.title for s in registered_steps()}}


def relevance() -> dict[RootCause, dict[str, float]]:
    """Class → {step name: weight}: which registered steps bear on each class, and how much."""
    out: dict[RootCause, dict[str, float]] = {cls: {} for cls in RootCause}
    for s in registered_steps():
        for cls, w in s.relevance.items():
            out[cls][s.name] = float(w)
    return out


def rule(name: str) -> Rule:
    """``(class, weight, reason)`` of a rule of the rule book or of a registered step.

    Raises:
        KeyError: no such rule.
    """
    if name in BUILTIN_RULES:
        return BUILTIN_RULES[name]
    for s in registered_steps():
        got = getattr(s, "rules", {}).get(name)
        if got is not None:
            return got
    raise KeyError(name)


def signal(rule_name: str, strength: float, detail: str, *, step: str, view: str, title: str,
           window: TimeWindow | None = None, data: Mapping[str, Any] | None = None,
           weight_scale: float = 1.0) -> Signal:
    """A :class:`Signal` for ``rule_name`` with its weight from the rules and ``strength`` clipped to [0, 1]."""
    cls, weight, reason = rule(rule_name)
    item = EvidenceItem(step=step, kind=rule_name, title=title, detail=detail, view=view, window=window,
                        data=dict(data or {}))
    return Signal(cls, rule_name, clip(strength), round(weight * weight_scale, 4), reason, item)


class _LiveMapping(Mapping):
    """A read-only mapping recomputed from the registry on every access."""

    def __init__(self, build):
        self._build = build

    def __getitem__(self, key):
        return self._build()[key]

    def __iter__(self) -> Iterator:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return repr(self._build())


def _all_rules() -> dict[str, Rule]:
    out = dict(BUILTIN_RULES)
    for s in registered_steps():
        out.update(getattr(s, "rules", {}))
    return out


#: Every rule (the rule book and the registered steps' own), live.
RULES: Mapping[str, Rule] = _LiveMapping(_all_rules)
#: Class → {step name: weight}, live (see :func:`relevance`).
RELEVANCE: Mapping[RootCause, Mapping[str, float]] = _LiveMapping(relevance)


class _LiveSteps(Sequence):
    """``(name, title)`` pairs of the onset and every registered step, live."""

    def __getitem__(self, i):
        return tuple(step_titles().items())[i]

    def __len__(self) -> int:
        return len(step_titles())

    def __repr__(self) -> str:
        return repr(tuple(step_titles().items()))


#: ``(name, title)`` of the onset and every registered step, in run order, live.
STEPS: Sequence[tuple[str, str]] = _LiveSteps()
