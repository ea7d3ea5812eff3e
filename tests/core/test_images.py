"""Image inputs: per-image statistics, two sets compared, bad images, bombs, the CLI and the triage step."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.analysis.images import compare_images
from core.errors import InvalidInputError
from core.sources.images import ImageLimits, estimate_jpeg_quality, profile_images, thumbnail_png

ROOT = Path(__file__).resolve().parents[2]


def _photo(rng: np.random.Generator, side: int, dim: float = 1.0) -> Image.Image:
    a = rng.integers(40, 220, (16, 16, 3)).astype(np.float64) * dim
    return Image.fromarray(a.astype(np.uint8)).resize((side, side), Image.BICUBIC)


def _write_set(folder: Path, n: int, *, side: int, quality: int, dim: float = 1.0, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        _photo(rng, 96, dim).resize((side, side)).save(folder / f"img-{i:03d}.jpg", quality=quality)
    return folder


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    ref = _write_set(root / "ref", 40, side=96, quality=95, seed=1)
    cur = _write_set(root / "cur", 40, side=48, quality=60, dim=0.6, seed=2)
    same = _write_set(root / "same", 40, side=96, quality=95, seed=3)
    return root, ref, cur, same


def test_one_image_statistics(tmp_path):
    img = Image.new("RGB", (80, 40), (200, 100, 50))
    img.save(tmp_path / "flat.jpg", quality=75)
    Image.new("L", (10, 10), 0).save(tmp_path / "gray.png")
    prof = profile_images(tmp_path, workers=1)
    flat = prof.frame.set_index("name").loc["flat.jpg"]
    assert (flat["width"], flat["height"], flat["aspect_ratio"]) == (80, 40, 2.0)
    assert flat["format"] == "JPEG" and flat["jpeg_quality"] == pytest.approx(75, abs=2)
    assert flat["mean_r"] == pytest.approx(200, abs=3) and flat["mean_b"] == pytest.approx(50, abs=3)
    assert flat["sharpness"] == pytest.approx(0, abs=1.0)  # a flat image has no edges
    assert flat["file_size"] == (tmp_path / "flat.jpg").stat().st_size
    gray = prof.frame.set_index("name").loc["gray.png"]
    assert gray["format"] == "PNG" and np.isnan(gray["jpeg_quality"]) and gray["brightness"] == 0


def test_jpeg_quality_estimates_follow_the_encoder():
    for q in (30, 60, 90, 95):
        out = io.BytesIO()
        Image.new("RGB", (16, 16)).save(out, format="JPEG", quality=q)
        assert estimate_jpeg_quality(Image.open(out).quantization) == pytest.approx(q, abs=1)


def test_two_sets_give_plain_findings(sets):
    _root, ref, cur, same = sets
    result = compare_images(profile_images(ref, workers=1), profile_images(cur, workers=1))
    messages = [f.message for f in result.findings]
    assert any(m.startswith("resolution halved (median 96×96 → 48×48") for m in messages), messages
    assert any(m.startswith("JPEG quality 95 → 60") for m in messages), messages
    darker = next(f for f in result.findings if f.kind == "brightness")
    assert "40% darker" in darker.message
    assert result.drifted and result.report.column("width").drifted
    assert len(result.extremes["reference"]["lowest"]) == 4
    quiet = compare_images(profile_images(ref, workers=1), profile_images(same, workers=1))
    assert not quiet.findings and not quiet.drifted


def test_both_cores_give_the_same_rows_as_one(sets, monkeypatch):
    import core.sources.images as images

    _root, ref, _cur, _same = sets
    monkeypatch.setattr(images, "PARALLEL_FROM", 10)
    monkeypatch.setattr(images, "CHUNK", 7)
    one = profile_images(ref, workers=1).frame
    two = profile_images(ref, workers=2).frame
    pd.testing.assert_frame_equal(one, two)
    packed = ref.parent / "ref-packed.zip"
    with zipfile.ZipFile(packed, "w") as zf:
        for p in sorted(ref.glob("*.jpg")):
            zf.write(p, p.name)
    first = profile_images(packed, workers=1).frame  # opens the zip in this process first
    pd.testing.assert_frame_equal(first, profile_images(packed, workers=2).frame)
    pd.testing.assert_frame_equal(first.drop(columns="name"), one.drop(columns="name"))


def test_zip_and_column_of_paths_or_bytes(sets, tmp_path):
    _root, ref, _cur, _same = sets
    with zipfile.ZipFile(tmp_path / "ref.zip", "w") as zf:
        for p in sorted(ref.glob("*.jpg"))[:5]:
            zf.write(p, f"nested/{p.name}")
        zf.writestr("notes.txt", "not an image")
    assert len(profile_images(tmp_path / "ref.zip", workers=1).frame) == 5
    files = sorted(ref.glob("*.jpg"))[:4]
    pd.DataFrame({"path": [str(p) for p in files], "raw": [p.read_bytes() for p in files]}).to_parquet(tmp_path / "t.parquet")
    by_path = profile_images(f"{tmp_path / 't.parquet'}#path", workers=1)
    by_bytes = profile_images(tmp_path / "t.parquet", column="raw", workers=1)
    assert list(by_path.frame["width"]) == list(by_bytes.frame["width"]) == [96.0] * 4
    with pytest.raises(InvalidInputError, match="has no column 'nope'"):
        profile_images(tmp_path / "t.parquet", column="nope")
    with pytest.raises(InvalidInputError, match="name the column"):
        profile_images(tmp_path / "t.parquet")


def test_corrupt_truncated_and_bombs_are_listed_never_fatal(sets, tmp_path):
    _root, ref, _cur, _same = sets
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = sorted(ref.glob("*.jpg"))[0].read_bytes()
    (folder / "good.jpg").write_bytes(good)
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "garbage.png").write_bytes(b"\x89PNG not really")
    Image.new("L", (300, 300)).save(folder / "big.png")  # over the pixel limit below
    exif = Image.Exif()
    exif[305] = "x" * 5000  # Software: a 5 kB EXIF block
    Image.new("RGB", (8, 8)).save(folder / "exif.jpg", exif=exif)
    prof = profile_images(folder, workers=1, limits=ImageLimits(max_pixels=50_000, max_bytes=10**6, max_exif_bytes=1024))
    assert list(prof.frame["name"]) == ["good.jpg"]
    bad = dict(prof.bad)
    assert set(bad) == {"truncated.jpg", "garbage.png", "big.png", "exif.jpg"}
    assert "decompression bomb" in bad["big.png"] and "WORKBENCH_IMAGE_MAX_PIXELS" in bad["big.png"]
    assert "EXIF block" in bad["exif.jpg"] and "WORKBENCH_IMAGE_MAX_EXIF_BYTES" in bad["exif.jpg"]
    small = profile_images(folder, workers=1, limits=ImageLimits(max_bytes=100))
    assert "over the 100-byte cap" in dict(small.bad)["good.jpg"]
    assert thumbnail_png(prof.ref("truncated.jpg")) is None
    png = thumbnail_png(prof.ref("good.jpg"), side=32)
    assert Image.open(io.BytesIO(png)).size == (32, 32)


def test_exif_fields_become_columns(tmp_path):
    for i, software in enumerate(("camera-fw 1.0", "camera-fw 1.0", "resizer 3.2")):
        exif = Image.Exif()
        exif[271], exif[305] = "Acme", software
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / f"{i}.jpg", exif=exif)
    frame = profile_images(tmp_path, workers=1).frame
    assert list(frame["exif_make"]) == ["Acme"] * 3 and frame["exif_software"].iloc[2] == "resizer 3.2"


def test_bad_sets_are_clear_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="not found"):
        profile_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="holds no image files"):
        profile_images(tmp_path / "empty")
    (tmp_path / "broken.zip").write_bytes(b"PK not a zip")
    with pytest.raises(InvalidInputError, match="not a readable zip"):
        profile_images(tmp_path / "broken.zip")


def test_cli_exit_codes_and_json(sets):
    _root, ref, cur, same = sets

    def run(*args):
        return subprocess.run([sys.executable, "-m", "core", "images", *map(str, args)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    drift = run(ref, cur, "--json", "--workers", "1")
    assert drift.returncode == 1, drift.stderr
    data = json.loads(drift.stdout)
    assert data["drifted"] and any(f["kind"] == "resolution" for f in data["findings"])
    assert run(ref, same, "--workers", "1").returncode == 0
    bad = run(ref / "missing", cur)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_the_demo_triage_ranks_the_encoding_change_first(demo_bundles):
    from core.triage import triage_bundle

    result = triage_bundle(demo_bundles["demo-image-downscale"])
    assert result.top.root_cause.value == "schema_change"
    rules = {s.rule for s in result.top.signals}
    assert "image_format_change" in rules
    drift = next(h for h in result.hypotheses if h.root_cause.value == "data_drift")
    assert any(f.rule == "drift_explained_by_image_encoding" for f in drift.factors)
    step = next(s for s in result.steps if s.name == "images")
    assert step.details["unreadable_current"] == 3


def test_the_images_step_is_not_used_without_images(demo_bundles):
    from core.triage import triage_bundle

    result = triage_bundle(demo_bundles["demo-fraud-stale"])
    assert "images" in {s.name for s in result.not_configured}


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "CMYK", "1"])
def test_statistics_equal_pillows_imagestat_to_the_last_bit(tmp_path, mode):
    from PIL import ImageStat

    rng = np.random.default_rng(11)
    img = _photo(rng, 77).convert(mode)
    img.save(tmp_path / ("x.png" if mode != "CMYK" else "x.jpg"))
    row = profile_images(tmp_path, workers=1).frame.iloc[0]
    rgb = Image.open(next(tmp_path.iterdir())).convert("RGB")
    gray, colour = ImageStat.Stat(rgb.convert("L")), ImageStat.Stat(rgb)
    assert row["brightness"] == gray.mean[0] / 255 and row["contrast"] == gray.stddev[0] / 255
    assert [row["mean_r"], row["mean_g"], row["mean_b"]] == colour.mean
    g = np.asarray(rgb.convert("L"), dtype=np.float64)
    lap = (g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]).ravel()
    assert row["sharpness"] == np.dot(lap, lap) / lap.size - (lap.sum() / lap.size) ** 2
