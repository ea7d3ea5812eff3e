"""Paths the workbench writes, proven to lie inside their base folder.

Every file operation on a name that comes from input (an incident id, a file name in a
bundle) goes through :func:`inside`, so ``..``, an absolute path or a symbolic link can
never make the workbench write, replace or delete anything outside its home.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InvalidInputError


def inside(base: Path | str, *parts: str | Path) -> Path:
    """``base / parts`` resolved, proven to lie inside ``base``.

    With ``parts`` the result must lie strictly below ``base`` (never ``base`` itself),
    so deleting or replacing the result can never touch ``base`` or anything above it.
    Symbolic links are resolved before the check.

    Raises:
        InvalidInputError: a part is empty or absolute, or the resolved path leaves ``base``.
    """
    root = Path(base).resolve()
    for part in parts:
        text = str(part)
        if not text or Path(text).is_absolute() or text.startswith(("/", "\\")):
            raise InvalidInputError(
                f"{text!r} is not a relative name; the workbench only writes inside {root}"
            )
    target = root.joinpath(*(str(p) for p in parts)).resolve()
    if parts and (target == root or not target.is_relative_to(root)):
        shown = "/".join(str(p) for p in parts)
        raise InvalidInputError(
            f"'{shown}' leads outside {root}; use a plain name without '..', '/' or links"
        )
    return target


def home_path(*parts: str | Path) -> Path:
    """A path inside the workbench home (``WORKBENCH_HOME``), proven not to leave it."""
    from core.store import workbench_home

    return inside(workbench_home(), *parts)
