"""The "Import bundle" panel of the Incidents page: upload, progress, and a question when the id exists.

Messages name the user's file (never the temporary copy), an existing id is never renamed
silently (the panel asks: import under the next free id, or cancel), and a finished import
reruns the page so its counts and the incident picker include the new incident.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

import streamlit as st

from core.errors import BundleError, WorkbenchError
from core.store import Store
from core.flows.import_bundle import IncidentExistsError, import_bundle, next_free_id
from ui import state

PENDING_KEY = "incidents_import_pending"  # {"digest", "id", "suggested"} while the user decides
DONE_KEY = "incidents_import_done"  # the success message shown after the rerun


def panel(store: Store) -> None:
    """Draw the import panel."""
    st.write("Upload an incident bundle (`.zip` of a folder with `bundle.json`; see docs/bundle-format.md).")
    done = st.session_state.pop(DONE_KEY, None)
    if done:
        st.success(done)
    upload = st.file_uploader("Bundle (.zip)", type=["zip"], key="incidents_upload")
    if upload is None:
        st.session_state.pop(PENDING_KEY, None)
        return
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    pending = st.session_state.get(PENDING_KEY)
    if pending and pending["digest"] != digest:  # another file was uploaded meanwhile
        st.session_state.pop(PENDING_KEY, None)
        pending = None
    if pending is None:
        if st.button("Import", key="incidents_import", type="primary"):
            _import(store, upload.name, data, digest, if_exists="error")
        return
    st.warning(f"An incident with id '{pending['id']}' already exists. Import {upload.name} as "
               f"'{pending['suggested']}', or cancel?")
    c1, c2 = st.columns(2)
    if c1.button(f"Import as {pending['suggested']}", key="incidents_import_rename", type="primary"):
        _import(store, upload.name, data, digest, if_exists="rename")
    if c2.button("Cancel", key="incidents_import_cancel"):
        st.session_state.pop(PENDING_KEY, None)
        st.info(f"{upload.name} was not imported.")


def _import(store: Store, name: str, data: bytes, digest: str, *, if_exists: str) -> None:
    shown = Path(name).name or "bundle.zip"
    with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
        path = Path(tmp) / shown
        path.write_bytes(data)
        bar = st.progress(0.0, text=f"Reading {shown}…")

        def progress(step: str, done: int, total: int) -> None:
            if step == "copy":
                bar.progress(0.0, text=f"Copying {shown} into the workbench…")
            else:
                bar.progress(min(done / total, 1.0) if total else 1.0,
                             text=f"Importing {shown}: {done:,} of {total:,} event lines")

        try:
            new_id = import_bundle(store, path, if_exists=if_exists, progress=progress)
        except IncidentExistsError as exc:
            bar.empty()
            st.session_state[PENDING_KEY] = {"digest": digest, "id": exc.incident_id,
                                             "suggested": next_free_id(store, exc.incident_id)}
            st.rerun()
        except BundleError as exc:
            bar.empty()
            st.error(f"{shown} is not a valid bundle; nothing was imported. Fix these problems and upload again:")
            lines = [_named(str(p), tmp, shown) for p in exc.problems] or [_named(str(exc), tmp, shown)]
            st.code("\n".join(lines), language=None)
            return
        except WorkbenchError as exc:
            bar.empty()
            st.error(f"{shown} was not imported: {_named(str(exc), tmp, shown)}")
            return
    st.session_state.pop(PENDING_KEY, None)
    state.select_incident(new_id)
    st.session_state[DONE_KEY] = f"Imported {shown} as incident {new_id}."
    st.rerun()  # counts, the table and the sidebar picker include the new incident


def _named(message: str, tmp: str, name: str) -> str:
    """``message`` with temporary paths (the upload's copy, the unpacked zip) replaced by the file name."""
    from core.bundle import bundle_cache_dir

    message = message.replace(str(Path(tmp) / name), name).replace(tmp, name)
    message = re.sub(re.escape(str(bundle_cache_dir())) + r"(?:[/\\][^\s:;,'\"]*)?", name, message)  # zip cache
    return re.sub(re.escape(tempfile.gettempdir()) + r"[/\\][^\s:;,'\"]*", name, message)
