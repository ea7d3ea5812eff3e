"""The Images panel of the Distributions page: two sets of images compared by their derived statistics.

Sources: the incident bundle's ``images/reference`` and ``images/current``, two uploaded ``.zip`` files, or
two server paths (folders, zips, ``FILE#COLUMN``) when the Local paths policy allows it. The work (core:
:mod:`core.sources.images`, :mod:`core.analysis.images`) is cached by the inputs' digest; uploads and
paths run on a button click.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

from core.analysis.images import ImageComparison, compare_images
from core.data_dirs import local_paths_policy
from core.errors import InvalidInputError, WorkbenchError
from core.models import Incident
from core.sources.images import ImageProfile, bundle_image_sets, profile_images, thumbnail_png
from ui import state
from ui.distributions import md

RESULT_KEY = "images_result"
THUMB = 140


def _folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st_ = p.stat()
            h.update(f"{p.relative_to(folder)}:{st_.st_size}:{st_.st_mtime_ns}".encode())
    return h.hexdigest()


@st.cache_data(show_spinner=False, max_entries=8)  # callers show the spinner (the warm-up thread has no page)
def _compare_paths(reference: str, current: str, _digest: str) -> tuple[ImageComparison, ImageProfile, ImageProfile]:
    ref = profile_images(reference, label="reference")
    cur = profile_images(current, label="current")
    return compare_images(ref, cur, k=3), ref, cur


@st.cache_data(show_spinner="Profiling the uploaded images…", max_entries=4)
def _compare_uploads(ref_bytes: bytes, cur_bytes: bytes) -> tuple[ImageComparison, ImageProfile, ImageProfile]:
    with tempfile.TemporaryDirectory(prefix="workbench-images-") as tmp:
        a, b = Path(tmp) / "reference.zip", Path(tmp) / "current.zip"
        a.write_bytes(ref_bytes)
        b.write_bytes(cur_bytes)
        ref = profile_images(a, label="reference")
        cur = profile_images(b, label="current")
        # keep the bytes of the extreme images: the temporary zips go away
        return compare_images(ref, cur, k=3), _detached(ref), _detached(cur)


def _detached(profile: ImageProfile) -> ImageProfile:
    from dataclasses import replace

    from core.sources.images import ImageLimits, ImageRef

    keep = set(profile.frame["name"]) if len(profile.frame) <= 2000 else set()
    limits = ImageLimits.from_settings()
    refs = tuple(ImageRef(r.name, data=r.read(limits)) for r in profile.refs if r.name in keep)
    return replace(profile, refs=refs)


@st.cache_data(show_spinner=False, max_entries=256)
def _thumb(_profile: ImageProfile, where: str, name: str) -> bytes | None:
    """A thumbnail, cached by where the image is (``where``: its file or zip, or its bytes' digest)."""
    try:
        return thumbnail_png(_profile.ref(name), side=THUMB)
    except InvalidInputError:
        return None


def prefetch(incidents: list[Incident], limit: int = 4) -> int:
    """Profile the bundle images of the first ``limit`` incidents that carry two image sets, into the
    same cache the panel reads (the app's warm-up thread, :func:`ui.state.warm_up`); the count done."""
    done = 0
    for incident in incidents:
        if done >= limit:
            break
        sets = bundle_image_sets(incident.bundle_path) if incident.bundle_path else {}
        if len(sets) != 2:
            continue
        ref, cur = sets["reference"], sets["current"]
        try:
            _compare_paths(str(ref), str(cur), _folder_digest(ref) + _folder_digest(cur))
        except WorkbenchError:  # the panel shows the problem when it is opened
            continue
        done += 1
    return done


def _where(profile: ImageProfile, name: str) -> str:
    try:
        ref = profile.ref(name)
    except InvalidInputError:
        return ""
    if ref.data is not None:
        return hashlib.sha256(ref.data).hexdigest()
    return f"{ref.path}!{ref.member}"


def panel(incident: Incident | None) -> None:
    """The Images panel (an expander, open when the incident carries images)."""
    sets = bundle_image_sets(incident.bundle_path) if incident is not None and incident.bundle_path else {}
    has = len(sets) == 2
    with st.expander("Image inputs: compare two sets of images", expanded=has, icon=":material/image:"):
        choices = (["Incident images"] if has else []) + ["Upload two zips", "Server paths"]
        how = st.radio("Images", choices, horizontal=True, key="images_source")
        try:
            result = _pick(how, sets)
        except WorkbenchError as exc:
            state.show_error(exc, "The images cannot be compared.")
            return
        if result is None:
            return
        _show(*result, pin=lambda: _pin_button(incident, how, *result))


def _pick(how: str, sets: dict[str, Path]) -> tuple[ImageComparison, ImageProfile, ImageProfile] | None:
    if how == "Incident images":
        st.caption("Reference: the bundle's images/reference (served before the incident); current: images/current.")
        ref, cur = sets["reference"], sets["current"]
        with st.spinner("Profiling the images…"):
            return _compare_paths(str(ref), str(cur), _folder_digest(ref) + _folder_digest(cur))
    if how == "Upload two zips":
        u1, u2 = st.columns(2)
        a = u1.file_uploader("Reference images (.zip)", type=["zip"], key="images_upload_ref")
        b = u2.file_uploader("Current images (.zip)", type=["zip"], key="images_upload_cur")
        if a is None or b is None:
            st.info("Upload a .zip of reference images and a .zip of current images.")
            return None
        if not st.button("Compare the images", key="images_run_upload", type="primary") and \
                st.session_state.get(RESULT_KEY) != ("upload", a.file_id, b.file_id):
            return None
        st.session_state[RESULT_KEY] = ("upload", a.file_id, b.file_id)
        return _compare_uploads(a.getvalue(), b.getvalue())
    policy = local_paths_policy()
    if not policy.enabled:
        st.warning(md(policy.notice))
        return None
    st.caption(md(policy.notice))
    p1, p2 = st.columns(2)
    a = p1.text_input("Reference images (folder, .zip or FILE#COLUMN)", key="images_path_ref")
    b = p2.text_input("Current images", key="images_path_cur")
    if not (a and b):
        st.info("Give two folders, .zip files or table columns of image paths or bytes (data.parquet#image).")
        return None
    if not st.button("Compare the images", key="images_run_paths", type="primary") and \
            st.session_state.get(RESULT_KEY) != ("paths", a, b):
        return None
    for p in (a, b):
        policy.check(p.rsplit("#", 1)[0] if "#" in p and not Path(p).exists() else p)
    st.session_state[RESULT_KEY] = ("paths", a, b)
    digest = "".join(_folder_digest(Path(p)) if Path(p).is_dir() else str(Path(p.split("#")[0]).stat().st_mtime_ns)
                     for p in (a, b) if Path(p.split("#")[0]).exists())
    return _compare_paths(a, b, digest)


def _show(result: ImageComparison, ref: ImageProfile, cur: ImageProfile, *, pin: Callable[[], None]) -> None:
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Reference images", f"{ref.n_images:,}")
    m2.metric("Current images", f"{cur.n_images:,}")
    m3.metric("Unreadable (ref / cur)", f"{ref.n_bad:,} / {cur.n_bad:,}")
    drifted = [c for c in result.report.ranked_columns() if c.drifted] if result.report else []
    m4.metric("Drifted measures", f"{len(drifted)} / {len(result.report.columns) if result.report else 0}")
    if result.findings:
        for f in result.findings:
            (st.error if f.is_format_change else st.warning)(md(f.message),
                                                            icon=":material/aspect_ratio:" if f.is_format_change
                                                            else ":material/tonality:")
    else:
        st.success("Same resolution, JPEG quality, format, brightness, contrast, colour and sharpness.")
    pin()
    st.markdown(f"**Most extreme images by {md(result.focus)}**, reference left, current right")
    for end in ("lowest", "highest"):
        cols = st.columns(2)
        for col, side, profile in ((cols[0], "reference", ref), (cols[1], "current", cur)):
            rows = result.extremes.get(side, {}).get(end, [])
            col.caption(f"{side.capitalize()}: {end} {md(result.focus)}")
            shots = [(name, value, _thumb(profile, _where(profile, name), name)) for name, value in rows]
            shots = [s for s in shots if s[2] is not None]
            if shots:
                col.image([s[2] for s in shots], caption=[f"{s[0]} · {_short(s[1])}" for s in shots], width=THUMB)
            else:
                col.caption("No image to show.")
    if result.report is not None:
        table = pd.DataFrame([{
            "measure": c.column, "drifted": c.drifted, "score": round(c.score, 2),
            "reference median": _median(ref, c.column), "current median": _median(cur, c.column),
        } for c in result.report.ranked_columns()])
        st.dataframe(table, hide_index=True, key="images_measures", width="stretch")
    bad = [{"set": "reference", "image": n, "reason": r} for n, r in ref.bad] + \
          [{"set": "current", "image": n, "reason": r} for n, r in cur.bad]
    if bad:
        st.markdown(f"**Unreadable or refused images** ({len(bad):,}): counted and listed, not compared")
        st.dataframe(pd.DataFrame(bad), hide_index=True, key="images_unreadable", width="stretch")


SOURCES = {"Incident images": "the bundle's images/reference and images/current", "Upload two zips": "two uploaded zips",
           "Server paths": "two paths on the server"}


def _pin_button(incident: Incident | None, how: str, result: ImageComparison, ref: ImageProfile,
                cur: ImageProfile) -> None:
    """"Pin as evidence": the findings, counts and each measure's drift onto the incident's timeline."""
    if incident is None:
        return
    if not st.button("Pin as evidence", key="images_pin", icon=":material/push_pin:",
                     help="Freeze these image findings, counts and measures onto the incident (timeline and "
                          "post-mortem)."):
        return
    from core.flows.pin import pin_images

    columns = [c.column for c in result.report.columns] if result.report is not None else []
    medians = {c: (_median(ref, c), _median(cur, c)) for c in columns}
    try:
        ev = pin_images(state.get_store(), incident, result, source=SOURCES.get(how, how), medians=medians,
                        author=st.session_state.get("distributions_author", ""))
    except WorkbenchError as exc:
        state.show_error(exc, "Not pinned.")
        return
    st.success(f"Pinned as evidence #{ev.id}; it is on the timeline and will appear in the post-mortem.")


def _short(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _median(profile: ImageProfile, column: str) -> str:
    """The median of a measure (the most common value of a text one), as text for the table."""
    if column not in profile.frame.columns:
        return "—"
    values = pd.to_numeric(profile.frame[column], errors="coerce").dropna()
    if len(values):
        return _short(float(values.median())) if abs(float(values.median())) >= 100 else f"{float(values.median()):.4g}"
    mode = profile.frame[column].dropna().astype(str).mode()
    return mode.iloc[0] if len(mode) else "—"
