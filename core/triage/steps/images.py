"""Triage step ``images``: did the images the model receives change (see docs/images.md)?

Reads the bundle's ``images/reference`` (images served before the incident) and ``images/current``
(images from the incident window), profiles both (:mod:`core.sources.images`) and compares them
(:func:`core.analysis.images.compare_images`). Its evidence, by what changed:

* the *encoding* of the images (resolution, JPEG quality, format, aspect ratio, colour mode, a
  share of unreadable files): ``image_format_change`` → ``schema_change``. The inputs still show the
  same world, but the serving path now hands the model something else than it was trained on, as a
  unit or type change does for a table;
  When it does, the step also gives the counter-evidence ``drift_explained_by_image_encoding`` (data
  drift × 0.5): tabular inputs that moved with it (image size, bytes, confidence) follow from it;
* only what the images *show* (brightness, contrast, colourfulness, sharpness, a colour cast) with no
  encoding change: ``image_content_drift`` → ``data_drift``.

Most incidents carry no images, so the step is ``optional``: without an ``images/`` folder it is listed
as not used by the incident and lowers no class's confidence.
"""

from __future__ import annotations

from core.models import RootCause
from core.triage.models import Factor, StepOutcome, StepResult, TriageContext
from core.triage.registry import signal

NAME = "images"
TITLE = "Image inputs"
RULES = {
    "image_format_change": (RootCause.SCHEMA_CHANGE, 0.85,
                            "the images reaching the model changed encoding: resolution, JPEG quality, format "
                            "or aspect ratio"),
    "image_content_drift": (RootCause.DATA_DRIFT, 0.7,
                            "the images reaching the model show something else: brightness, contrast, colour or "
                            "sharpness moved with no change of encoding"),
}


#: Counter-evidence for data drift when the images' encoding changed: the tabular inputs that moved with
#: it (image size, bytes, the model's confidence) follow from the new encoding, not from a new world.
EXPLAINED = Factor(RootCause.DATA_DRIFT, "drift_explained_by_image_encoding", 0.5,
                   "the shift follows from the images' new encoding (resolution, compression), which explains it better")


class ImagesStep:
    """Evidence from the statistics of the images before and during the incident."""

    name = NAME
    title = TITLE
    relevance = {RootCause.SCHEMA_CHANGE: 0.15, RootCause.DATA_DRIFT: 0.15}
    rules = RULES
    optional = True  # most incidents have no image inputs

    def run(self, context: TriageContext) -> StepOutcome:
        from core.analysis.images import compare_images
        from core.sources.images import bundle_image_sets, profile_images

        sets = bundle_image_sets(context.bundle.path)
        if len(sets) < 2:
            return StepOutcome(StepResult(NAME, TITLE, "skipped",
                                          "the bundle has no images/reference and images/current folders"))
        ref = profile_images(sets["reference"], label="reference images")
        cur = profile_images(sets["current"], label="current images")
        result = compare_images(ref, cur)
        fmt = [f for f in result.findings if f.is_format_change]
        content = [f for f in result.findings if not f.is_format_change]
        signals = []
        if fmt:
            top = fmt[0]
            detail = "; ".join(f.message for f in fmt[:4])
            signals.append(signal("image_format_change", min(1.0, top.score + 0.05 * (len(fmt) - 1)), detail,
                                  step=NAME, view="distributions", title=f"Image inputs: {top.message}",
                                  data={"findings": [f.to_dict() for f in fmt[:6]]}))
        elif content:
            top = content[0]
            detail = "; ".join(f.message for f in content[:4])
            signals.append(signal("image_content_drift", min(1.0, top.score + 0.05 * (len(content) - 1)), detail,
                                  step=NAME, view="distributions", title=f"Image inputs: {top.message}",
                                  data={"findings": [f.to_dict() for f in content[:6]]}))
        counts = f"{ref.n_images:,} reference and {cur.n_images:,} current images"
        summary = (f"{counts}: " + "; ".join(f.message for f in result.findings[:3]) if result.findings
                   else f"{counts}: same resolution, quality, format, brightness, contrast and sharpness")
        details = {"findings": [f.to_dict() for f in result.findings], "unreadable_reference": ref.n_bad,
                   "unreadable_current": cur.n_bad}
        return StepOutcome(StepResult(NAME, TITLE, "ok", summary, details), tuple(signals),
                           factors=(EXPLAINED,) if fmt else (),
                           facts={"image_format_change": bool(fmt), "image_content_drift": bool(content)},
                           finding=result)
