"""Refinement speed: the per-frame work after the pose model, alone, on fixed model output.

Usage: python bench/refine_speed.py [--reps 3] [--clips pre_block stickers]

Why a bench of its own: on this shared 2-core machine a whole `sotmeasure measure` varies
by +-10% in CPU seconds with the load, more than a change of a millisecond a frame in the
refinement; and the model call (most of the CPU) is not what a refinement change touches.
Here the model runs once over every frame (not timed), then the steps after it run `--reps`
times over the same model output, serially, each timed in CPU seconds (process time):
`finish` (patient choice, heel and hip refinement, gates: PosePipeline.finish), `map`
(points on the table planes), `patches` and `image_motion` (processing/image_motion.py),
`quality` (image quality, every 5th frame). The digest covers every frame's points,
statuses, rejections and image motion and the quality report: run the bench on two code
trees (e.g. PYTHONPATH=/path/to/other/src) and equal digests mean identical results.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sotmeasure.capture.frame import Frame
from sotmeasure.capture.open import open_source
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.pose.pipeline import tracking_estimator
from sotmeasure.processing import load_setup, resolve_params
from sotmeasure.processing import video as v
from sotmeasure.processing.frame_step import FrameMeasurement, TableView, map_frame
from sotmeasure.processing.image_motion import ImageMotion, point_patches

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "tests" / "fixtures" / "sessions"
LAYOUT = ROOT / "calibration" / "targets" / "table_8_markers.json"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"
PROFILES = {
    "pre_block": "rendered_overhead_1280x720.toml",
    "post_block": "rendered_overhead_1280x720.toml",
    "stickers": "rendered_overhead_1920x1080.toml",
}
STAGES = ("finish", "map", "patches", "quality", "image_motion")


class _Laps:
    """CPU seconds since the last lap, added to `seconds[name]` on each call."""

    def __init__(self, seconds: Counter[str]) -> None:
        self.seconds, self.t = seconds, time.process_time()

    def __call__(self, name: str) -> None:
        now = time.process_time()
        self.seconds[name] += now - self.t
        self.t = now


def _digest(steps: list[FrameMeasurement], quality: v.QualitySamples) -> str:
    h = hashlib.sha256()
    for s in steps:
        h.update(repr((s.index, s.rejection, s.heel_refined, s.hip_refined)).encode())
        for a in (s.px, s.mm, s.image_motion_mm):
            h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
        b = s.points.points
        if b is not None:
            h.update(repr((b.heel_status, b.hip_status)).encode())
    h.update(repr(quality.report()).encode())
    return h.hexdigest()[:16]


def bench_clip(clip: str, reps: int) -> tuple[int, Counter[str], set[str]]:
    """Frames, CPU seconds per stage over all reps, and the result digests (one if stable)."""
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    layout, profile = (
        load_layout(LAYOUT),
        load_profile(ROOT / "calibration/profiles" / PROFILES[clip]),
    )
    video = SESSIONS / clip / "video.mp4"
    pose = v.table_pose_of_video(video, layout, profile, params.pose_frames_for_table)
    with open_source(video) as src:
        frames: list[Frame] = list(src)
    clock: Counter[str] = Counter()
    digests = set()
    with TableView.of(pose, layout).pipeline(params, tracking_estimator()) as pipe:
        people: list[list[Any]] = [pipe.track(f, pipe.model_input(f.image)) for f in frames]
        for _ in range(reps):
            quality, motion, out = v.QualitySamples(), ImageMotion(pose, params), []
            for frame, found in zip(frames, people, strict=True):
                lap = _Laps(clock)
                fp = pipe.finish(frame, found)
                lap("finish")
                step = map_frame(fp, pose, params)
                lap("map")
                if step.px is not None:
                    step = replace(step, patches=point_patches(frame.image, step.px))
                lap("patches")
                if frame.index % v._QUALITY_EVERY == 0:
                    quality.add(frame, step, pose, params)
                lap("quality")
                out.append(motion.feed(step))
                lap("image_motion")
            digests.add(_digest(out, quality))
    return len(frames), clock, digests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clips", nargs="+", default=["pre_block", "stickers"], choices=PROFILES)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}\n")
    print(f"| clip | {' | '.join(STAGES)} | total CPU ms a frame | digest |")
    print("|---|" + "---|" * (len(STAGES) + 2))
    for clip in args.clips:
        n, clock, digests = bench_clip(clip, args.reps)
        per = {k: clock[k] * 1000 / (n * args.reps) for k in STAGES}
        cells = " | ".join(f"{per[k]:.2f}" for k in STAGES)
        print(f"| {clip} | {cells} | {sum(per.values()):.2f} | {', '.join(sorted(digests))} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
