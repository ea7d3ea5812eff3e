"""Image inputs: read a set of images and profile each one (see docs/images.md).

A *set* is a folder of image files (searched recursively), a ``.zip`` of them, a table file with a
column of image paths or image bytes (``data.parquet#column``), or one side of an incident bundle's
``images/`` folder (``images/reference/`` and ``images/current/``). :func:`profile_images` reads every
image with Pillow and returns one row per image with the derived columns the drift engine compares:

=================  ==========================================================================
column             meaning
=================  ==========================================================================
width, height      pixels
aspect_ratio       width / height
megapixels         width × height / 10⁶
file_size          bytes of the encoded file
format, mode       Pillow's format (JPEG, PNG, …) and colour mode (RGB, L, …)
jpeg_quality       estimated from the JPEG quantisation tables (IJG scale 1–100); empty otherwise
brightness         mean luma, 0–1
contrast           standard deviation of luma (RMS contrast), 0–1
colourfulness      Hasler & Süsstrunk's metric on the RGB values
sharpness          variance of the 4-neighbour Laplacian of the luma (full resolution)
mean_r/g/b         channel means, 0–255
exif_*             EXIF make, model, software and orientation, where any image carries them
=================  ==========================================================================

Unreadable, truncated or refused images never stop a profile: they are counted and listed in
:attr:`ImageProfile.bad` with the reason. Refused: a file larger than ``max_file_bytes``, an image of
more than ``max_pixels`` pixels (a decompression bomb; ``Image.MAX_IMAGE_PIXELS`` is set to the same
limit), an EXIF block larger than ``max_exif_bytes``. The limits come from ``WORKBENCH_IMAGE_MAX_PIXELS``,
``WORKBENCH_IMAGE_MAX_BYTES`` and ``WORKBENCH_IMAGE_MAX_EXIF_BYTES`` (or ``[images]`` in secrets.toml).

Large sets are profiled on every core (a process pool, chunks of images per task).
"""

from __future__ import annotations

import io
import math
import os
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from core.errors import InvalidInputError

__all__ = [
    "IMAGE_SUFFIXES", "ImageLimits", "ImageProfile", "ImageRef", "bundle_image_sets", "estimate_jpeg_quality",
    "image_refs", "load_image_bytes", "profile_images", "thumbnail_png",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 64_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_EXIF_BYTES = 64 * 1024
MAX_IMAGES = 200_000
PARALLEL_FROM = 400  # fewer images are read in this process (a pool costs more than it saves)
CHUNK = 250
COLOUR_SIDE = 256  # colourfulness on the image reduced to at most this many pixels on its long side
BUNDLE_SIDES = ("reference", "current")
EXIF_FIELDS = {271: "exif_make", 272: "exif_model", 305: "exif_software", 274: "exif_orientation"}
NUMERIC = ("width", "height", "aspect_ratio", "megapixels", "file_size", "jpeg_quality", "brightness", "contrast",
           "colourfulness", "sharpness", "mean_r", "mean_g", "mean_b")

ProgressFn = Callable[[float, str], None]

# The IJG standard luminance quantisation table (JPEG spec Annex K, in natural order), for quality estimates.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)


def _ijg_table(quality: int) -> np.ndarray:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)


_IJG_TABLES = np.stack([_ijg_table(q) for q in range(1, 101)])
_IJG_LOG = np.log(_IJG_TABLES)  # once, not per image


def estimate_jpeg_quality(quantization: dict[int, Sequence[int]] | None) -> float | None:
    """The IJG quality (1–100) whose luminance table is closest to the image's first table, or None.

    Pillow keeps the tables in natural order (``Image.quantization``); an encoder that does not use the
    IJG tables scaled by quality still gets the nearest IJG quality, an estimate of its compression.
    """
    if not quantization:
        return None
    table = np.asarray(list(quantization.get(0) or next(iter(quantization.values()))), dtype=np.float64)
    if table.size != 64:
        return None
    err = np.abs(_IJG_LOG - np.log(np.maximum(table, 1))).sum(axis=1)
    return float(int(np.argmin(err)) + 1)


@dataclass(frozen=True)
class ImageLimits:
    """What an image may cost before it is refused (see the module docstring)."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_exif_bytes: int = DEFAULT_MAX_EXIF_BYTES

    @classmethod
    def from_settings(cls) -> "ImageLimits":
        from core.config import settings

        s = settings().section("images", "WORKBENCH_IMAGE_")
        values = {}
        for key, default in (("max_pixels", DEFAULT_MAX_PIXELS), ("max_bytes", DEFAULT_MAX_BYTES),
                             ("max_exif_bytes", DEFAULT_MAX_EXIF_BYTES)):
            value = s.number(key, default, message="{var} must be a positive whole number, not '{raw}'")
            if not value > 0:
                raise InvalidInputError(f"WORKBENCH_IMAGE_{key.upper()} must be a positive whole number, not {value}")
            values[key] = int(value)
        return cls(**values)


@dataclass(frozen=True)
class ImageRef:
    """Where one image is: a file (``path``), a zip member (``path`` + ``member``) or bytes (``data``)."""

    name: str
    path: str = ""
    member: str = ""
    data: bytes | None = field(default=None, repr=False)

    def read(self, limits: ImageLimits) -> bytes:
        """The encoded bytes. Raises ValueError naming the cap when the file is too large."""
        if self.data is not None:
            size = len(self.data)
        elif self.member:
            size = _zip(self.path, os.path.getmtime(self.path)).getinfo(self.member).file_size
        else:
            size = os.path.getsize(self.path)
        if size > limits.max_bytes:
            raise ValueError(f"refused: {size:,} bytes is over the {limits.max_bytes:,}-byte cap "
                             "(WORKBENCH_IMAGE_MAX_BYTES)")
        if self.data is not None:
            return self.data
        if self.member:
            return _zip(self.path, os.path.getmtime(self.path)).read(self.member)
        return Path(self.path).read_bytes()


_zip_owner: dict[str, int] = {}  # the process whose open zips the cache holds


@lru_cache(maxsize=4)
def _zip(path: str, _mtime: float) -> zipfile.ZipFile:
    """An open zip, kept per process: reading 10,000 members must not parse its directory 10,000 times."""
    return zipfile.ZipFile(path)


@dataclass(frozen=True)
class ImageProfile:
    """One row per readable image (``frame``), the unreadable ones with the reason (``bad``)."""

    label: str
    frame: pd.DataFrame
    bad: tuple[tuple[str, str], ...]
    refs: tuple[ImageRef, ...] = field(repr=False, default=())

    @property
    def n_images(self) -> int:
        return len(self.frame) + len(self.bad)

    @property
    def n_bad(self) -> int:
        return len(self.bad)

    def ref(self, name: str) -> ImageRef:
        for r in self.refs:
            if r.name == name:
                return r
        raise InvalidInputError(f"{self.label} has no image named '{name}'")

    def columns(self) -> list[str]:
        """The derived columns the drift engine compares (not the name)."""
        return [c for c in self.frame.columns if c != "name"]


# ------------------------------------------------------------------ finding the images

def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not Path(name).name.startswith(".")


def image_refs(spec: Any, *, column: str | None = None, base: Path | None = None) -> tuple[str, list[ImageRef]]:
    """(label, refs) for a folder, a ``.zip``, a table file with ``column`` (or ``file#column``), or a
    sequence of paths or bytes.

    Raises:
        InvalidInputError: the path does not exist, holds no image, the zip is damaged, or the column
            is missing or holds neither paths nor bytes.
    """
    if isinstance(spec, (list, tuple, pd.Series)):
        return "images", _column_refs(list(spec), base or Path.cwd(), "the list")
    text = str(spec)
    if column is None and "#" in text and not Path(text).exists():
        text, column = text.rsplit("#", 1)
    path = Path(text).expanduser()
    if not path.exists():
        raise InvalidInputError(f"image set '{text}' not found; give a folder of images, a .zip of images, "
                                "or a table file with a column of image paths or bytes (FILE#COLUMN)")
    if path.is_dir():
        refs = [ImageRef(str(p.relative_to(path)), path=str(p)) for p in sorted(path.rglob("*"))
                if p.is_file() and _is_image_name(p.name)]
        if not refs:
            raise InvalidInputError(f"folder '{path}' holds no image files ({', '.join(IMAGE_SUFFIXES)})")
        return str(path), refs[:MAX_IMAGES]
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir() and _is_image_name(i.filename)]
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidInputError(f"'{path}' is not a readable zip file ({exc}); give a folder or a .zip of images") from None
        if not names:
            raise InvalidInputError(f"zip '{path}' holds no image files ({', '.join(IMAGE_SUFFIXES)})")
        return str(path), [ImageRef(n, path=str(path), member=n) for n in sorted(names)][:MAX_IMAGES]
    from core.sources.tables import TABLE_SUFFIXES, read_table

    if path.suffix.lower() in TABLE_SUFFIXES:
        if not column:
            raise InvalidInputError(f"'{path}' is a table: name the column of image paths or bytes as "
                                    f"{path.name}#COLUMN (or --column)")
        frame = read_table(path)
        if column not in frame.columns:
            raise InvalidInputError(f"'{path}' has no column '{column}'; its columns: {', '.join(map(str, frame.columns))}")
        return f"{path}#{column}", _column_refs(frame[column].tolist(), path.parent, f"column '{column}'")
    if _is_image_name(path.name):
        return str(path), [ImageRef(path.name, path=str(path))]
    raise InvalidInputError(f"'{path}' is neither a folder, a .zip, a table file ({', '.join(TABLE_SUFFIXES)}) "
                            "nor an image")


def _column_refs(values: list[Any], base: Path, what: str) -> list[ImageRef]:
    refs = []
    for i, v in enumerate(values[:MAX_IMAGES]):
        if isinstance(v, (bytes, bytearray, memoryview)):
            refs.append(ImageRef(f"row {i}", data=bytes(v)))
        elif isinstance(v, dict) and isinstance(v.get("bytes"), (bytes, bytearray)):  # Hugging Face image struct
            refs.append(ImageRef(str(v.get("path") or f"row {i}"), data=bytes(v["bytes"])))
        elif isinstance(v, str) and v.strip():
            p = Path(v).expanduser()
            p = p if p.is_absolute() else base / p
            refs.append(ImageRef(v, path=str(p)))
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            refs.append(ImageRef(f"row {i}", data=b""))  # counted as unreadable: an empty cell
        else:
            raise InvalidInputError(f"{what} holds {type(v).__name__} values; give image paths or image bytes")
    if not refs:
        raise InvalidInputError(f"{what} is empty: no images to profile")
    return refs


def bundle_image_sets(bundle_path: Path | str) -> dict[str, Path]:
    """The bundle's ``images/reference`` and ``images/current`` folders that exist (side → folder)."""
    root = Path(bundle_path) / "images"
    return {side: root / side for side in BUNDLE_SIDES if (root / side).is_dir()}


# ------------------------------------------------------------------ one image

_LEVELS = np.arange(256, dtype=np.int64)
_LEVELS2 = _LEVELS * _LEVELS


def _band_stats(histogram: list[int], bands: int) -> list[tuple[float, float]]:
    """(mean, standard deviation) per band from Pillow's histogram: the integer sums and the formulas of
    ``PIL.ImageStat.Stat``, so the figures are the same to the last bit, without its Python loops."""
    h = np.asarray(histogram, dtype=np.int64).reshape(bands, 256)
    out = []
    for band in h:
        count = int(band.sum())
        total, total2 = int(band @ _LEVELS), int(band @ _LEVELS2)
        if not count:
            out.append((0.0, 0.0))
            continue
        out.append((total / count, math.sqrt((total2 - total ** 2 / count) / count)))
    return out


def _stats(img: Any) -> dict[str, Any]:
    rgb = img.convert("RGB") if img.mode != "RGB" else img
    gray = rgb.convert("L")
    (g_mean, g_std), = _band_stats(gray.histogram(), 1)
    (r, _), (g_, _), (b, _) = _band_stats(rgb.histogram(), 3)
    g = np.asarray(gray, dtype=np.int16)
    if g.shape[0] >= 3 and g.shape[1] >= 3:
        lap = g[:-2, 1:-1] + g[2:, 1:-1]  # int16 in place: |lap| <= 1020
        lap += g[1:-1, :-2]
        lap += g[1:-1, 2:]
        lap -= g[1:-1, 1:-1] * 4
        # exact integer sums (no BLAS call, whose threads would fight the worker processes for the cores)
        total = lap.sum(dtype=np.int64)
        total2 = np.einsum("ij,ij->", lap, lap, dtype=np.int64)
        mean = np.float64(total) / lap.size
        sharp = float(np.float64(total2) / lap.size - mean * mean)
    else:
        sharp = float("nan")
    small = rgb
    if max(rgb.size) > COLOUR_SIDE:
        factor = -(-max(rgb.size) // COLOUR_SIDE)
        small = rgb.reduce(factor)
    a = np.asarray(small, dtype=np.float32)
    rg = a[..., 0] - a[..., 1]
    yb = 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    colour = float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    return {"brightness": g_mean / 255.0, "contrast": g_std / 255.0, "colourfulness": colour,
            "sharpness": sharp, "mean_r": r, "mean_g": g_, "mean_b": b}


def _profile_one(ref: ImageRef, limits: ImageLimits) -> dict[str, Any]:
    """The row of one image. Raises ValueError/OSError with the reason when it is unreadable or refused."""
    from PIL import Image

    raw = ref.read(limits)
    if not raw:
        raise ValueError("empty: no bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(raw))
        except Image.DecompressionBombError as exc:
            raise ValueError(f"refused as a decompression bomb: {exc}") from None
        except Image.DecompressionBombWarning:
            raise ValueError(f"refused as a decompression bomb: over {limits.max_pixels:,} pixels "
                             "(WORKBENCH_IMAGE_MAX_PIXELS)") from None
        width, height = img.size
        if width * height > limits.max_pixels:
            raise ValueError(f"refused as a decompression bomb: {width}×{height} = {width * height:,} pixels is over "
                             f"the {limits.max_pixels:,}-pixel limit (WORKBENCH_IMAGE_MAX_PIXELS)")
        exif_raw = img.info.get("exif") or b""
        if len(exif_raw) > limits.max_exif_bytes:
            raise ValueError(f"refused: an EXIF block of {len(exif_raw):,} bytes is over the "
                             f"{limits.max_exif_bytes:,}-byte cap (WORKBENCH_IMAGE_MAX_EXIF_BYTES)")
        fmt = img.format or ""
        quality = estimate_jpeg_quality(getattr(img, "quantization", None)) if fmt == "JPEG" else None
        exif = {}
        if exif_raw:
            tags = img.getexif()
            for tag, name in EXIF_FIELDS.items():
                if tag in tags:
                    exif[name] = str(tags[tag])[:80]
        mode = img.mode
        img.load()  # a truncated file raises OSError here
        row = {"name": ref.name, "width": width, "height": height, "aspect_ratio": width / height if height else np.nan,
               "megapixels": width * height / 1e6, "file_size": len(raw), "format": fmt, "mode": mode,
               "jpeg_quality": quality if quality is not None else np.nan}
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        row.update(_stats(img))
        row.update(exif)
        return row


def _profile_chunk(refs: Sequence[ImageRef], limits: ImageLimits,
                   worker: bool = False) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    from PIL import Image

    if worker and os.getpid() != _zip_owner.get("pid"):
        _zip.cache_clear()  # a forked worker must not share the parent's open zips (one file offset)
        _zip_owner["pid"] = os.getpid()

    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    rows, bad = [], []
    for ref in refs:
        try:
            rows.append(_profile_one(ref, limits))
        except (OSError, ValueError, SyntaxError, EOFError, zipfile.BadZipFile, KeyError, MemoryError) as exc:
            # Pillow signals unreadable data with these (UnidentifiedImageError is an OSError)
            reason = str(exc) or type(exc).__name__
            bad.append((ref.name, reason[:300]))
    return rows, bad


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork: the workers need only Pillow and numpy, already imported, and start at once
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))


def profile_images(spec: Any, *, column: str | None = None, label: str | None = None, workers: int | None = None,
                   limits: ImageLimits | None = None, progress: ProgressFn | None = None) -> ImageProfile:
    """Profile every image of a set (see the module docstring).

    Args:
        spec: a folder, a ``.zip``, a table file (with ``column`` or as ``FILE#COLUMN``), or a list of
            paths or bytes.
        column: the table column of image paths or bytes.
        label: how the set is named in findings (default: its path).
        workers: processes (default: every core; 1 reads in this process).
        limits: the refusal limits (default: :meth:`ImageLimits.from_settings`).
        progress: called with (fraction done, message).

    Returns:
        The :class:`ImageProfile`; unreadable and refused images are in ``bad``, never raised.

    Raises:
        InvalidInputError: the set cannot be found or holds no image (see :func:`image_refs`).
    """
    name, refs = image_refs(spec, column=column)
    limits = limits or ImageLimits.from_settings()
    say = progress or (lambda _f, _m: None)
    workers = workers or os.cpu_count() or 1
    rows: list[dict[str, Any]] = []
    bad: list[tuple[str, str]] = []
    if workers <= 1 or len(refs) < PARALLEL_FROM:
        for start in range(0, len(refs), CHUNK):
            r, b = _profile_chunk(refs[start:start + CHUNK], limits)
            rows += r
            bad += b
            say(min(1.0, (start + CHUNK) / len(refs)), f"Read {min(start + CHUNK, len(refs)):,} of {len(refs):,} images")
    else:
        chunks = [refs[i:i + CHUNK] for i in range(0, len(refs), CHUNK)]
        try:
            with _pool(min(workers, len(chunks))) as pool:
                done = 0
                for r, b in pool.map(_profile_chunk, chunks, [limits] * len(chunks), [True] * len(chunks)):
                    rows += r
                    bad += b
                    done += 1
                    say(done / len(chunks), f"Read {min(done * CHUNK, len(refs)):,} of {len(refs):,} images")
        except BrokenProcessPool:  # a worker was killed (out of memory): read in this process instead
            rows, bad = _profile_chunk(refs, limits)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["name", *NUMERIC, "format", "mode"])
    for col in NUMERIC:
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return ImageProfile(label or name, frame.reset_index(drop=True), tuple(bad), tuple(refs))


# ------------------------------------------------------------------ thumbnails

def load_image_bytes(ref: ImageRef, limits: ImageLimits | None = None) -> bytes:
    """The encoded bytes of one image (within the byte cap)."""
    return ref.read(limits or ImageLimits.from_settings())


def thumbnail_png(ref: ImageRef, side: int = 160, limits: ImageLimits | None = None) -> bytes | None:
    """A PNG thumbnail of at most ``side`` pixels on its long side; None when the image cannot be read."""
    from PIL import Image

    limits = limits or ImageLimits.from_settings()
    try:
        img = Image.open(io.BytesIO(ref.read(limits)))
        if img.size[0] * img.size[1] > limits.max_pixels:
            return None
        img.draft("RGB", (side, side))
        img = img.convert("RGB")
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()
    except (OSError, ValueError, SyntaxError, EOFError, zipfile.BadZipFile, KeyError, Image.DecompressionBombError):
        return None


def iter_names(profile: ImageProfile) -> Iterable[str]:
    return profile.frame["name"].tolist()
