"""Bundles read once per version of their files: pages that only need a manifest (the window, the
model name) do not re-validate every log line on every rerun."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.bundle import Bundle, files_stamp, read_bundle
from core.errors import WorkbenchError


def bundle_stamp(path: str) -> tuple:
    """Name, size and modification time of every file of the bundle (a directory or a zip)."""
    root = Path(path)
    if not root.is_dir():
        try:
            s = root.stat()
        except OSError:
            return ()
        return ((root.name, s.st_size, s.st_mtime_ns),)
    return files_stamp(root)


@st.cache_data(show_spinner=False, max_entries=32)
def _read(path: str, stamp: tuple) -> tuple[Bundle | None, WorkbenchError | None]:
    try:
        return read_bundle(path), None
    except WorkbenchError as exc:  # kept, so an invalid bundle is not re-validated on every rerun either
        return None, exc


def read_bundle_cached(path: str) -> Bundle:
    """``core.bundle.read_bundle``, validated once per version of the bundle's files.

    Raises:
        BundleError: the bundle is invalid (the same error read_bundle gives, as any WorkbenchError).
    """
    stamp = bundle_stamp(str(path))
    bundle, error = _read(str(path), stamp)
    if error is not None:
        raise error
    return bundle
