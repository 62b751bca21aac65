"""Edges beyond a heel that bench/robustness.py does not use: is the result right or refused?

bench/robustness.py's `dark_band` is one band (5-10 mm beyond the left heel, 60% darker).
This sweep varies what the code was not written against: which heel, the band's distance
and width, how dark it is, on every measurable markerless fixture clip (true intrinsics from
the clip's camera.json, the rendered rig's setup, as bench/accuracy.py). Each run is right
(|LLD error| <= 3 mm, CI covers), honest-wide (error larger, CI covers), confident-wrong
(truth outside the 95% CI by more than 0.5 mm) or refused (with the first words of why).

    python bench/band_sweep.py            # 4 clips x 2 heels x 6 bands = 48 runs, ~6 min
    python bench/band_sweep.py --clips pre_block --bands 5,10,0.6
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import perturb
from accuracy import SESSIONS, SETUP, profile_from_camera_json
from sotmeasure.errors import SotmeasureError
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.processing import load_setup, measure_video, resolve_params

CLIPS = ("pre_block", "post_block", "rotated_body", "stickers")
#: near edge mm, far edge mm, darkening (0-1): lighter, nearer, farther, darker, wider.
BANDS = ((5, 10, 0.4), (3, 8, 0.6), (8, 14, 0.6), (5, 10, 0.8), (12, 20, 0.6), (2, 6, 0.5))
LLD_LIMIT_MM = 3.0
CI_TOLERANCE_MM = 0.5


def banded_video(clip_dir: Path, side: str, band: tuple[float, float, float], out: Path) -> None:
    """The clip with a soft dark band `band` beyond heel `side` (L/R) in every frame."""
    truth = json.loads((clip_dir / "truth.json").read_text())
    camera = perturb.Camera.from_json(json.loads((clip_dir / "camera.json").read_text()))
    near, far, depth = band
    src = cv2.VideoCapture(str(clip_dir / "video.mp4"))
    fps = src.get(cv2.CAP_PROP_FPS) or 30.0
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, tuple(truth["size"]))
    try:
        for frame in truth["frames"]:
            ok, image = src.read()
            if not ok:
                break
            heel = np.array(frame["points_mm"][f"heel_{side}"])
            mask = perturb.band_mask(camera, heel, frame["body_axis_deg"], near, far)
            writer.write(perturb.darken(image, mask, depth))
    finally:
        writer.release()
        src.release()


def classify(err: float, miss: float) -> str:
    if miss > CI_TOLERANCE_MM:
        return "confident-wrong"
    return "right" if abs(err) <= LLD_LIMIT_MM else "honest-wide"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--clips", nargs="+", default=list(CLIPS))
    p.add_argument("--bands", nargs="+", default=[",".join(map(str, b)) for b in BANDS])
    args = p.parse_args(argv)
    bands = [tuple(float(v) for v in b.split(",")) for b in args.bands]
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    counts: Counter[str] = Counter()
    start = time.perf_counter()
    print(f"{'clip':14s} heel {'band mm, depth':>16s} {'LLD err':>8s} {'CI95':>16s} class / why")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips:
            clip_dir = SESSIONS / clip
            truth = json.loads((clip_dir / "truth.json").read_text())
            profile = load_profile(profile_from_camera_json(clip_dir, Path(tmp)))
            layout = load_layout(clip_dir / "layout.json")
            for side in ("L", "R"):
                for band in bands:
                    video = Path(tmp) / "band.mp4"
                    banded_video(clip_dir, side, band, video)
                    tag = f"{clip:14s} {side:4s} {band[0]:>4g}-{band[1]:<4g} x{band[2]:<4g}"
                    try:
                        r = measure_video(str(video), layout, profile, params)
                    except SotmeasureError as exc:
                        counts["refused"] += 1
                        print(f"{tag} {'':>8s} {'':>16s} refused: {str(exc)[:90]}", flush=True)
                        continue
                    true = float(truth["lld_mm"])
                    lo, hi = r.lld_ci95_mm
                    err, miss = r.lld_mm - true, max(lo - true, true - hi, 0.0)
                    cls = classify(err, miss)
                    counts[cls] += 1
                    ci = f"[{lo:+.1f},{hi:+.1f}]"
                    print(f"{tag} {err:+8.2f} {ci:>16s} {cls}", flush=True)
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
