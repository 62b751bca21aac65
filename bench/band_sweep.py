"""Things beyond the heels that bench/robustness.py does not use: is the result right or refused?

bench/robustness.py's `dark_band` is one band (5-10 mm beyond the left heel, 60% darker) and
its `person_feet` one person standing 40 mm beyond the heels. This sweep varies what the code
was not written against: which heel, the band's distance and width, how dark it is; how far
beyond the heels the person stands. On every measurable markerless fixture clip (true
intrinsics from the clip's camera.json, the rendered rig's setup, as bench/accuracy.py).
Each run is right (|LLD error| <= 3 mm, CI covers), honest-wide (error larger, CI covers),
confident-wrong (truth outside the 95% CI by more than 0.5 mm) or refused (with the first
words of why).

    python bench/band_sweep.py            # 4 clips x (2 heels x 6 bands + 4 gaps) = 64 runs
    python bench/band_sweep.py --clips pre_block --bands 5,10,0.6 --person-gaps 20
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import perturb
from accuracy import SESSIONS, SETUP, profile_from_camera_json
from robustness import CI_TOLERANCE, LIMITS, classify
from sotmeasure.errors import SotmeasureError
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.processing import load_setup, measure_video, resolve_params

CLIPS = ("pre_block", "post_block", "rotated_body", "stickers")
#: near edge mm, far edge mm, darkening (0-1): lighter, nearer, farther, darker, wider.
BANDS = ((5, 10, 0.4), (3, 8, 0.6), (8, 14, 0.6), (5, 10, 0.8), (12, 20, 0.6), (2, 6, 0.5))
#: mm of floor between the heels and a person standing at the foot end (the suite: 40).
PERSON_GAPS = (10, 20, 80, 150)


def write_changed_video(clip_dir: Path, change: perturb.FrameFn, out: Path) -> None:
    """The clip's video with `change(image, frame_index)` applied to every frame."""
    truth = json.loads((clip_dir / "truth.json").read_text())
    src = cv2.VideoCapture(str(clip_dir / "video.mp4"))
    fps = src.get(cv2.CAP_PROP_FPS) or 30.0
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, tuple(truth["size"]))
    try:
        for k in range(len(truth["frames"])):
            ok, image = src.read()
            if not ok:
                break
            writer.write(change(image, k))
    finally:
        writer.release()
        src.release()


def band_change(clip_dir: Path, side: str, band: tuple[float, ...]) -> perturb.FrameFn:
    """A soft dark band `band` (near mm, far mm, darkening) beyond heel `side` (L/R)."""
    frames = json.loads((clip_dir / "truth.json").read_text())["frames"]
    camera = perturb.Camera.from_json(json.loads((clip_dir / "camera.json").read_text()))
    near, far, depth = band

    def apply(image: perturb.Image, k: int) -> perturb.Image:
        frame = frames[min(k, len(frames) - 1)]
        heel = np.array(frame["points_mm"][f"heel_{side}"])
        mask = perturb.band_mask(camera, heel, frame["body_axis_deg"], near, far)
        return perturb.darken(image, mask, depth)

    return apply


def person_change(clip_dir: Path, gap_mm: float) -> perturb.FrameFn:
    """A real person pasted `gap_mm` beyond the heels (bench/perturb.py's person_feet)."""
    truth = json.loads((clip_dir / "truth.json").read_text())
    cam = json.loads((clip_dir / "camera.json").read_text())
    saved = perturb.PERSON_GAP_MM
    perturb.PERSON_GAP_MM = gap_mm
    try:
        ctx = perturb.ClipContext(clip_dir.name, truth, cam, 30.0, len(truth["frames"]))
        return perturb.CHANGES["person_feet"].build(ctx)
    finally:
        perturb.PERSON_GAP_MM = saved


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clips", nargs="+", default=list(CLIPS))
    p.add_argument("--bands", nargs="*", default=[",".join(map(str, b)) for b in BANDS])
    p.add_argument("--person-gaps", nargs="*", type=float, default=list(PERSON_GAPS))
    args = p.parse_args(argv)
    bands = [tuple(float(v) for v in b.split(",")) for b in args.bands]
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    counts: Counter[str] = Counter()
    start = time.perf_counter()
    print(f"{'clip':14s} {'what':22s} {'LLD err':>8s} {'CI95':>16s} class / why")
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "changed.mp4"
        for clip in args.clips:
            clip_dir = SESSIONS / clip
            true = float(json.loads((clip_dir / "truth.json").read_text())["lld_mm"])
            profile = load_profile(profile_from_camera_json(clip_dir, Path(tmp)))
            layout = load_layout(clip_dir / "layout.json")
            runs: list[tuple[str, Callable[[], perturb.FrameFn]]] = [
                (
                    f"band {side} {b[0]:g}-{b[1]:g} mm x{b[2]:g}",
                    partial(band_change, clip_dir, side, b),
                )
                for side in ("L", "R")
                for b in bands
            ]
            runs += [
                (f"person {g:g} mm beyond", partial(person_change, clip_dir, g))
                for g in args.person_gaps
            ]
            for what, change in runs:
                write_changed_video(clip_dir, change(), video)
                tag = f"{clip:14s} {what:22s}"
                try:
                    r = measure_video(str(video), layout, profile, params)
                except SotmeasureError as exc:
                    counts["refused"] += 1
                    print(f"{tag} {'':>8s} {'':>16s} refused: {str(exc)[:90]}", flush=True)
                    continue
                lo, hi = r.lld_ci95_mm
                err = r.lld_mm - true
                cls = classify(err, lo, hi, true, LIMITS["lld"], CI_TOLERANCE["lld"])
                counts[cls] += 1
                print(f"{tag} {err:+8.2f} {f'[{lo:+.1f},{hi:+.1f}]':>16s} {cls}", flush=True)
    total = sum(counts.values())
    print(
        f"\n{total} runs in {(time.perf_counter() - start) / 60:.1f} min: "
        + ", ".join(
            f"{k} {counts[k]}" for k in ("right", "honest-wide", "confident-wrong", "refused")
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
