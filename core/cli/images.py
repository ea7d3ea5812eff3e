"""``python -m core images A B [--json]``: compare two sets of images by their derived statistics.

A and B are folders of images, ``.zip`` files of images, or table files with a column of image paths
or image bytes (``data.parquet#column``, or ``--column``); or one incident bundle, whose
``images/reference`` and ``images/current`` folders are compared. Prints the plain findings
("resolution halved", "JPEG quality 95 → 60", "images 40% darker"), the most drifted derived columns and
the unreadable images. Exit codes, as ``quality``: 0 no drift, 1 drift, 2 unusable input (one line on
stderr).
"""

from __future__ import annotations

import argparse
import json

HELP = "compare two sets of images (folders, zips, a column of paths or bytes): resolution, JPEG quality, brightness, sharpness"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "images", help=HELP,
        description="Profile every image of two sets (width, height, aspect ratio, file size, format, JPEG quality, "
                    "brightness, contrast, colourfulness, sharpness, channel means, EXIF) and compare them with the "
                    "drift tests. A and B: folders, .zip files, or FILE#COLUMN of image paths or bytes; or one "
                    "bundle with images/reference and images/current. Exit 0: no drift; 1: drift; 2: unusable input.",
    )
    p.add_argument("reference", help="the baseline images (folder, .zip, FILE#COLUMN) or a bundle")
    p.add_argument("current", nargs="?", help="the images under suspicion (omit when the first is a bundle)")
    p.add_argument("--column", help="the column of image paths or bytes when A and B are table files")
    p.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def sides(reference: str, current: str | None) -> tuple[str, str]:
    """The two image sets named on the command line (a bundle gives both)."""
    from pathlib import Path

    from core.errors import InvalidInputError
    from core.sources.images import bundle_image_sets

    if current:
        return reference, current
    path = Path(reference)
    if path.suffix.lower() == ".zip" and path.is_file():
        from core.bundle import read_bundle

        path = read_bundle(path).path
    found = bundle_image_sets(path) if path.is_dir() else {}
    if len(found) < 2:
        raise InvalidInputError(f"give two image sets, or a bundle with images/reference and images/current "
                                f"('{reference}' has {', '.join(found) or 'neither'})")
    return str(found["reference"]), str(found["current"])


def run(args: argparse.Namespace) -> int:
    from core.analysis.images import compare_images
    from core.errors import InvalidInputError
    from core.jsonsafe import jsonable
    from core.sources.images import profile_images

    if args.workers is not None and args.workers < 1:
        raise InvalidInputError(f"--workers must be at least 1, got {args.workers}")
    a, b = sides(args.reference, args.current)
    ref = profile_images(a, column=args.column, workers=args.workers)
    cur = profile_images(b, column=args.column, workers=args.workers)
    result = compare_images(ref, cur)
    if args.json:
        print(json.dumps(jsonable(result.to_dict()), indent=2, default=str))
        return 1 if result.drifted else 0
    print(f"reference: {ref.label} ({ref.n_images:,} images, {ref.n_bad:,} unreadable)")
    print(f"current:   {cur.label} ({cur.n_images:,} images, {cur.n_bad:,} unreadable)")
    if result.findings:
        print("findings:")
        for f in result.findings:
            print(f"  {f.message}")
    else:
        print("findings: none (same resolution, quality, format, brightness, contrast, sharpness)")
    if result.report is not None:
        drifted = [c for c in result.report.ranked_columns() if c.drifted]
        print(f"drifted derived columns: {len(drifted)} of {len(result.report.columns)}")
        for c in drifted[:10]:
            print(f"  {c.column}  score {c.score:.2f}")
        for s in result.report.schema[:5]:
            print(f"  schema: {s.message}")
    for side, bad in (("reference", ref.bad), ("current", cur.bad)):
        for name, reason in bad[:20]:
            print(f"  unreadable ({side}): {name}: {reason}")
        if len(bad) > 20:
            print(f"  … and {len(bad) - 20:,} more unreadable in the {side} set")
    return 1 if result.drifted else 0
