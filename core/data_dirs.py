"""Which server folders app users may read by path (the Distributions page's "Local paths").

A path typed into the app is read by the *server*, with the server's permissions. So:

* when ``WORKBENCH_DATA_DIRS`` is set (folders separated by ``os.pathsep``), only files
  inside those folders can be read; paths and folders are resolved first (``..`` and
  symbolic links cannot lead out);
* in team mode (``DATABASE_URL`` is PostgreSQL: several people share the app) reading by
  path is off unless that allow-list is set;
* on the embedded default (one analyst, SQLite) any file the server can read is allowed,
  and the page says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from core.config import DATA_DIRS_VAR, Settings, load_settings, settings
from core.errors import InvalidInputError


def _settings(environ: Mapping[str, str] | None) -> Settings:
    return settings() if environ is None else load_settings(environ)


def team_mode(environ: Mapping[str, str] | None = None) -> bool:
    """True when the store is PostgreSQL (``DATABASE_URL``), i.e. the app is shared by a team."""
    return _settings(environ).store.team_mode


@dataclass(frozen=True)
class LocalPathsPolicy:
    """Whether paths may be read, inside which folders (empty: anywhere), and a sentence saying so."""

    enabled: bool
    folders: tuple[Path, ...]
    notice: str

    def check(self, path: str | Path) -> Path:
        """``path`` resolved, if this policy lets app users read it.

        Raises:
            InvalidInputError: reading by path is off, or the path lies outside every allowed folder.
        """
        if not self.enabled:
            raise InvalidInputError(self.notice)
        text = str(path).strip()
        if not text:
            raise InvalidInputError("give a file path")
        resolved = Path(text).expanduser().resolve()
        if self.folders and not any(resolved.is_relative_to(f) for f in self.folders):
            raise InvalidInputError(
                f"{text} is outside the folders app users may read ({DATA_DIRS_VAR}: "
                f"{os.pathsep.join(str(f) for f in self.folders)}); copy the file into one of them or upload it")
        return resolved


def local_paths_policy(environ: Mapping[str, str] | None = None) -> LocalPathsPolicy:
    """The policy from ``WORKBENCH_DATA_DIRS`` and ``DATABASE_URL`` (default: the process environment)."""
    config = _settings(environ)
    folders = tuple(dict.fromkeys(Path(p).expanduser().resolve() for p in config.limits.data_dirs))
    if folders:
        shown = ", ".join(str(f) for f in folders)
        return LocalPathsPolicy(True, folders, f"Reads files on the server that runs the workbench, only inside: {shown}.")
    if config.store.team_mode:
        return LocalPathsPolicy(False, (), (
            "Reading server files by path is off in team mode (DATABASE_URL is PostgreSQL): set "
            f"{DATA_DIRS_VAR} to the folders app users may read (separated by '{os.pathsep}'), or upload the files."))
    return LocalPathsPolicy(True, (), (
        "Reads files on the server that runs the workbench (not on your computer), with the server's permissions: "
        f"any CSV, Parquet or JSONL file it can open. Set {DATA_DIRS_VAR} to limit this to some folders."))
