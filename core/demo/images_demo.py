"""Demo 4: the serving path starts sending downscaled, recompressed images and accuracy falls.

A product-photo classifier was trained (in Weights & Biases) on 128×128 photos at JPEG quality ~92.
At 09:25 on 11 March image-gateway 3.2.0 is deployed: to save bandwidth it resizes every upload to
64×64 and re-encodes it at quality 55 before it reaches the model. Nothing fails; top-1 accuracy
falls from ~0.91 to ~0.74 and low-confidence answers triple.

The bundle carries small generated images (``images/reference``: served before the deploy;
``images/current``: served after it, three of them truncated in transit), the predictions with the
request's image metadata, KPI and serving metrics, logs, the deploy event, and the model's W&B runs
(``wandb/``: real offline runs, see :mod:`core.demo.data` and ``scripts/make_wandb_demo_runs.py``).
The root cause is ``schema_change``: the inputs still show the same products, but their encoding —
the contract between the serving path and the model — changed, as a unit change does in a table.
"""

from __future__ import annotations

import io
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.bundle import write_bundle
from core.demo.common import daily_cycle, event, log, log_stream, minutes, ramp, random_times, series, t, z

ID = "demo-image-downscale"
SEED = 20260311
DATA_START = t("2026-03-09T00:00")
DATA_END = t("2026-03-12T00:00")
DEPLOY = t("2026-03-11T09:25")
ONSET = t("2026-03-11T09:30")
BASELINE = (DATA_START, t("2026-03-10T12:00"))
WINDOW = (t("2026-03-10T12:00"), DATA_END)
CLASSES = ("mug", "shoe", "lamp", "chair", "backpack", "watch")
SIDE, QUALITY = 128, 92  # what the model was trained on
NEW_SIDE, NEW_QUALITY = 64, 55  # what image-gateway 3.2.0 sends
IMAGES_PER_SIDE = 240
TRUNCATED = 3
WANDB_RUNS = Path(__file__).resolve().parent / "data" / "image_downscale" / "wandb"


def _photo(rng: np.random.Generator, label: int) -> "object":
    """A small synthetic product photo: a textured backdrop and one object of the class's colour and shape."""
    from PIL import Image, ImageDraw, ImageFilter

    bg = rng.integers(150, 235, 3)
    base = np.clip(bg + rng.normal(0, 9, (SIDE, SIDE, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(img)
    hue = np.array([(200, 60, 50), (40, 90, 190), (230, 190, 40), (90, 60, 40), (40, 150, 80), (120, 120, 130)][label])
    colour = tuple(int(c) for c in np.clip(hue + rng.normal(0, 18, 3), 0, 255))
    cx, cy = (int(v) for v in rng.integers(44, 84, 2))
    r = int(rng.integers(22, 38))
    box = (cx - r, cy - r, cx + r, cy + r)
    if label % 3 == 0:
        draw.ellipse(box, fill=colour, outline=(20, 20, 20), width=2)
    elif label % 3 == 1:
        draw.rectangle(box, fill=colour, outline=(20, 20, 20), width=2)
    else:
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=colour, outline=(20, 20, 20))
    for _ in range(6):  # printed detail: thin lines the downscale washes out
        x0, y0 = (int(v) for v in rng.integers(cx - r // 2, cx + r // 2, 2))
        draw.line((x0, y0, x0 + int(rng.integers(4, 14)), y0), fill=(250, 250, 250), width=1)
    return img.filter(ImageFilter.SMOOTH_MORE) if rng.random() < 0.2 else img


def _jpeg(img: "object", side: int, quality: int) -> bytes:
    from PIL import Image

    if side != img.size[0]:
        img = img.resize((side, side), Image.BILINEAR)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _images(rng: np.random.Generator, target: Path) -> None:
    for side_name, side, quality in (("reference", SIDE, QUALITY), ("current", NEW_SIDE, NEW_QUALITY)):
        folder = target / "images" / side_name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(IMAGES_PER_SIDE):
            label = int(rng.integers(0, len(CLASSES)))
            data = _jpeg(_photo(rng, label), side, quality)
            if side_name == "current" and i < TRUNCATED:
                data = data[: len(data) // 3]  # cut off in transit
            (folder / f"{CLASSES[label]}-{i:04d}.jpg").write_bytes(data)


def _metrics(rng: np.random.Generator, idx: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    bad = ramp(idx, ONSET, 6)
    traffic = daily_cycle(idx, 0.5, 14.0)
    acc = 0.912 * (1 - bad) + 0.741 * bad + rng.normal(0, 0.012, len(idx))
    low_conf = 0.06 * (1 - bad) + 0.19 * bad + rng.normal(0, 0.008, len(idx))
    kb = 7.6 * (1 - bad) + 1.5 * bad + rng.normal(0, 0.2, len(idx))
    latency = rng.gamma(9, 4.0, len(idx)) * (1 - 0.15 * bad)
    return {
        "top1_accuracy": series(idx, np.clip(acc, 0, 1)),
        "low_confidence_rate": series(idx, np.clip(low_conf, 0, 1)),
        "image_kb_mean": series(idx, np.clip(kb, 0.2, None)),
        "classify_latency_p95_ms": series(idx, latency),
        "requests_per_min": series(idx, rng.poisson(160 * traffic)),
    }


def _predictions(rng: np.random.Generator) -> pd.DataFrame:
    n = 6000
    ts = random_times(rng, DATA_START, DATA_END, n)
    after = np.asarray(ts >= pd.Timestamp(ONSET))
    label = rng.integers(0, len(CLASSES), n)
    p_right = np.where(after, 0.74, 0.91)
    right = rng.random(n) < p_right
    pred = np.where(right, label, (label + rng.integers(1, len(CLASSES), n)) % len(CLASSES))
    conf = np.where(after, rng.beta(4, 3, n), rng.beta(9, 1.6, n))
    side = np.where(after, NEW_SIDE, SIDE)
    kb = np.round(np.where(after, rng.normal(1.5, 0.15, n), rng.normal(7.6, 0.6, n)), 2)
    return pd.DataFrame({
        "timestamp": ts,
        "request_id": [f"req-{i:07d}" for i in range(n)],
        "image_width": side,
        "image_height": side,
        "image_kb": kb,
        "predicted_class": [CLASSES[i] for i in pred],
        "confidence": np.round(conf, 4),
        "label": [CLASSES[i] for i in label],
    })


def _logs(rng: np.random.Generator) -> dict[str, list[dict]]:
    def serving(when, r):
        req = f"req-{int(r.integers(0, 9_999_999)):07d}"
        if when >= ONSET and r.random() < 0.2:
            return log(when, "WARN", "product-classifier",
                       f"low confidence {r.uniform(0.3, 0.55):.2f} for request {req}, top-2 returned", r)
        return log(when, "INFO", "product-classifier",
                   f"classified request {req} as {CLASSES[int(r.integers(0, len(CLASSES)))]} in {int(r.gamma(4, 3))} ms", r)

    def gateway(when, r):
        req = f"req-{int(r.integers(0, 9_999_999)):07d}"
        if when >= DEPLOY:
            if r.random() < 0.003:
                return log(when, "ERROR", "image-gateway", f"upstream closed connection while streaming {req}", r)
            return log(when, "INFO", "image-gateway",
                       f"resized upload {req} {SIDE}x{SIDE} -> {NEW_SIDE}x{NEW_SIDE} quality={NEW_QUALITY}", r)
        return log(when, "INFO", "image-gateway", f"passed upload {req} through unchanged ({SIDE}x{SIDE})", r)

    return {
        "product-classifier.jsonl": log_stream(rng, DATA_START, DATA_END, 40.0, serving),
        "image-gateway.jsonl": log_stream(rng, DATA_START, DATA_END, 60.0, gateway),
    }


def _events() -> list[dict]:
    evs = [
        event(t("2026-03-09T15:10"), "deploy", "product-classifier 1.8.0 deployed (model v1 from W&B)", "argo",
              service="product-classifier", version="1.8.0", commit="5d1e0c7"),
        event(t("2026-03-10T11:00"), "config_change", "catalog-search: result page size 24 → 36", "config-repo",
              service="catalog-search", key="page_size", old=24, new=36),
        event(DEPLOY, "deploy", "image-gateway 3.2.0 deployed: resize and recompress uploads to save bandwidth",
              "argo", service="image-gateway", version="3.2.0", commit="e41b9a2"),
        event(t("2026-03-11T10:05"), "alert", "product-classifier low-confidence rate > 15%", "prometheus-alertmanager",
              rule="ClassifierLowConfidence", severity="warning"),
        event(ONSET, "milestone", "started", "incident", milestone="started"),
        event(t("2026-03-11T10:05"), "milestone", "detected", "incident", milestone="detected"),
        event(t("2026-03-11T10:20"), "milestone", "acknowledged", "incident", milestone="acknowledged"),
        event(t("2026-03-11T12:40"), "milestone", "mitigated", "incident", milestone="mitigated"),
    ]
    return sorted(evs, key=lambda e: e["timestamp"])


def build(target: Path) -> Path:
    rng = np.random.default_rng(SEED)
    idx = minutes(DATA_START, DATA_END)
    manifest = {
        "id": ID,
        "title": "Product classifier accuracy falls after images arrive downscaled and recompressed",
        "summary": "Top-1 accuracy fell from 0.91 to 0.74: image-gateway 3.2.0 resized uploads to 64×64 and "
                   "re-encoded them at JPEG quality 55 before they reached the model trained on 128×128 photos.",
        "service": "product-classifier",
        "severity": "SEV2",
        "status": "mitigated",
        "root_cause": "schema_change",
        "kpi": {"metric": "top1_accuracy", "direction": "higher_is_better"},
        "baseline": {"start": z(BASELINE[0]), "end": z(BASELINE[1])},
        "window": {"start": z(WINDOW[0]), "end": z(WINDOW[1])},
        "datasets": {"predictions": {"file": "datasets/predictions.parquet", "timestamp": "timestamp",
                                     "prediction": "predicted_class", "label": "label"}},
        "model": {"name": "product-classifier"},
    }
    truth = {"root_cause": "schema_change", "onset": z(ONSET),
             "planted_event": {"kind": "deploy", "title": "image-gateway 3.2.0 deployed"},
             "images": {"reference": f"{SIDE}x{SIDE} q{QUALITY}", "current": f"{NEW_SIDE}x{NEW_SIDE} q{NEW_QUALITY}"}}
    bundle = Path(write_bundle(target, manifest, metrics=_metrics(rng, idx), logs=_logs(rng), events=_events(),
                               datasets={"predictions.parquet": _predictions(rng)}, ground_truth=truth))
    _images(np.random.default_rng(SEED + 1), bundle)
    if WANDB_RUNS.is_dir():
        shutil.copytree(WANDB_RUNS, bundle / "wandb")
    return bundle


def timing() -> dict[str, object]:
    """The demo's key times (for tests and docs)."""
    return {"deploy": DEPLOY, "onset": ONSET, "window": WINDOW, "lead": ONSET - DEPLOY,
            "baseline": BASELINE, "grace": timedelta(minutes=5)}


#: The demo's pre-drawn fishbone (registered in core/demo/fishbones.py).
FISHBONE = {
    "problem": "Product classifier top-1 accuracy fell from 0.91 to 0.74 after uploads were resized",
    "causes": [
        {"category": "Data", "text": "Images reach the model at 64×64, JPEG quality 55, instead of 128×128, quality 92",
         "status": "confirmed", "events": ["image-gateway 3.2.0"],
         "notes": "The Images panel shows the resolution halved and the quality estimate 92 → 55.",
         "children": [{"text": "image-gateway 3.2.0 resizes and recompresses uploads to save bandwidth",
                       "status": "confirmed"}]},
        {"category": "Features & pipeline", "text": "No contract on image size and encoding between gateway and model",
         "status": "confirmed"},
        {"category": "Model", "text": "Model trained only on 128×128 photos (W&B run train-v2, model v1)", "status": "suspected",
         "notes": "No augmentation with downscaled or recompressed images."},
        {"category": "Code & config", "text": "catalog-search result page size 24 → 36", "status": "ruled_out",
         "events": ["page size"], "notes": "A day earlier; it does not touch the images."},
        {"category": "Process & people", "text": "Gateway change not reviewed by the ML team", "status": "suspected"},
    ],
    "whys": [
        {"chain": "main", "question": "Why did accuracy fall?",
         "answer": "The model received smaller, blockier images than it was trained on.",
         "cause": "Images reach the model at 64×64, JPEG quality 55, instead of 128×128, quality 92",
         "then": [{"question": "Why were the images smaller?",
                   "answer": "image-gateway 3.2.0 started resizing and recompressing every upload.",
                   "cause": "image-gateway 3.2.0 resizes and recompresses uploads to save bandwidth",
                   "then": [{"question": "Why did nothing stop it?",
                             "answer": "Nothing checks the size and encoding of images reaching the model.",
                             "cause": "No contract on image size and encoding between gateway and model"}]}]},
    ],
    "actions": [
        {"text": "Serve the model the original upload; resize only the copy shown to users", "owner": "media-team",
         "status": "done", "cause": "image-gateway 3.2.0 resizes and recompresses uploads to save bandwidth"},
        {"text": "Alert when the median input resolution or JPEG quality moves", "owner": "ml-platform",
         "cause": "No contract on image size and encoding between gateway and model"},
    ],
}
