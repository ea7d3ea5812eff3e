"""Benchmark: profile two windows of 10,000 images of 512×512 each and compare them (target: under 60 s).

Generates the images into a temporary folder first (not timed): smooth synthetic photos, JPEG quality 92
in the reference window and 60, 30% darker, in the current one. Then times ``profile_images`` per window on
every core and on one, and ``compare_images``, and prints the figures side by side.

    python tests/bench/bench_images.py [--n 10000] [--side 512] [--single] [--dir DIR]

``--dir`` keeps the generated images in DIR and reuses them on the next run (generate while the machine
is busy, time when it is quiet).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _write(args: tuple[str, int, int, int, float, int]) -> None:
    from PIL import Image

    folder, start, stop, side, dim, quality = args
    rng = np.random.default_rng(start)
    for i in range(start, stop):
        small = (rng.integers(30, 225, (24, 24, 3)) * dim).astype(np.uint8)
        Image.fromarray(small).resize((side, side), Image.BICUBIC).save(f"{folder}/img-{i:06d}.jpg", quality=quality)


def generate(folder: Path, n: int, side: int, dim: float, quality: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    step = 500
    jobs = [(str(folder), i, min(i + step, n), side, dim, quality) for i in range(0, n, step)]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_write, jobs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="images per window")
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--single", action="store_true", help="also time one core (doubles the run)")
    parser.add_argument("--dir", help="keep the generated images here and reuse them (default: a temporary folder)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each figure as soon as it is measured, also into a file
    from core.analysis.images import compare_images
    from core.sources.images import profile_images

    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        root = Path(args.dir) / f"{args.n}x{args.side}" if args.dir else Path(tmp)
        ref, cur = root / "reference", root / "current"
        t0 = time.perf_counter()
        for folder, dim, quality in ((ref, 1.0, 92), (cur, 0.7, 60)):
            if not (folder.is_dir() and len(list(folder.glob("*.jpg"))) == args.n):
                generate(folder, args.n, args.side, dim, quality)
        size = sum(p.stat().st_size for p in ref.iterdir()) / 1e6
        print(f"generated 2 × {args.n:,} images of {args.side}×{args.side} ({size:,.0f} MB per window) "
              f"in {time.perf_counter() - t0:.1f} s (not counted; {root})")
        cores = os.cpu_count() or 1
        before = os.times()
        t1 = time.perf_counter()
        a = profile_images(ref)
        t2 = time.perf_counter()
        b = profile_images(cur)
        t3 = time.perf_counter()
        result = compare_images(a, b)
        t4 = time.perf_counter()
        total = t4 - t1
        print(f"profile reference window ({cores} cores): {t2 - t1:6.1f} s  ({args.n / (t2 - t1):,.0f} images/s)")
        print(f"profile current window   ({cores} cores): {t3 - t2:6.1f} s  ({args.n / (t3 - t2):,.0f} images/s)")
        print(f"compare (drift tests, findings):        {t4 - t3:6.1f} s")
        print(f"total for 2 × {args.n:,} images:            {total:6.1f} s  (target < 60 s: {'met' if total < 60 else 'NOT met'})")
        now = os.times()
        spent = (now.children_user + now.children_system) - (before.children_user + before.children_system)
        print(f"CPU time of the workers: {spent:.1f} s ({spent / (2 * args.n) * 1000:.1f} ms per image; "
              f"load average now {os.getloadavg()[0]:.1f} on {cores} cores)")
        print("findings: " + "; ".join(f.message for f in result.findings))
        if args.single:
            t5 = time.perf_counter()
            profile_images(ref, workers=1)
            one = time.perf_counter() - t5
            print(f"one core, reference window: {one:.1f} s; all cores / one core = {(t2 - t1) / one:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
