"""Pose speed: raw model vs the whole per-frame pose pipeline, on the same decoded frames.

Usage: python bench/pose_speed.py [--frames 60]

Rows: pre_block (1280x720), pre_block resized to 1920x1080, stickers (1920x1080, markerless
and sticker mode). "raw model" = MediaPipePoseEstimator.estimate on the unrotated frame,
VIDEO mode, no segmentation (the cheapest useful call). "pipeline" = PosePipeline.process
(head-up rotation, model with segmentation, mapping back, heel refinement, gates).
"decode" = cv2.VideoCapture.read of the same frames, added for the "incl. decode" columns.
Target: pipeline frame rate >= 0.8 x the raw model's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from sotmeasure.capture.frame import Frame
from sotmeasure.pose.mediapipe_backend import MediaPipePoseEstimator
from sotmeasure.pose.pipeline import PosePipeline

SESSIONS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "sessions"


def caudal_dir(clip: str) -> np.ndarray:
    cam = json.loads((SESSIONS / clip / "camera.json").read_text())
    truth = json.loads((SESSIONS / clip / "truth.json").read_text())
    heel = np.array(truth["frame0"]["points_mm"]["heel_L"], dtype=np.float64)
    px, _ = cv2.projectPoints(
        np.stack([heel, heel + np.array([10.0, 0, 0])]),
        np.array(cam["rvec"], float),
        np.array(cam["t_table_to_cam_mm"], float),
        np.array(cam["K"], float),
        np.array(cam["dist"], float),
    )
    v = px.reshape(2, 2)[1] - px.reshape(2, 2)[0]
    return v / np.linalg.norm(v)


def decode(clip: str, n: int, size: tuple[int, int] | None) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(SESSIONS / clip / "video.mp4"))
    frames = []
    t0 = time.perf_counter()
    for _ in range(n):
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    ms = (time.perf_counter() - t0) * 1000 / max(1, len(frames))
    cap.release()
    if size is not None:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames]
    return frames, ms


def time_raw(frames: list[np.ndarray]) -> float:
    with MediaPipePoseEstimator(running_mode="video") as est:
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            est.estimate(f, i * 33 + 1)
        return (time.perf_counter() - t0) * 1000 / len(frames)


def time_pipeline(frames: list[np.ndarray], clip: str, mode: str) -> tuple[float, int]:
    """mode: "markerless" (default: with the model's mask), "markerless-nomask", "stickers"."""
    est = None
    if mode == "markerless-nomask":
        est = MediaPipePoseEstimator(running_mode="video", output_segmentation=False)
    kind = "stickers" if mode == "stickers" else "markerless"
    with PosePipeline(mode=kind, caudal_dir_px=caudal_dir(clip), estimator=est) as pipe:
        ok = 0
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            ok += pipe.process(Frame(f, i, i / 30.0)).points is not None
        ms = (time.perf_counter() - t0) * 1000 / len(frames)
    if est is not None:
        est.close()
    return ms, ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    rows = [
        ("pre_block", None, "markerless"),
        ("pre_block", None, "markerless-nomask"),
        ("pre_block", (1920, 1080), "markerless"),
        ("stickers", None, "markerless"),
        ("stickers", None, "markerless-nomask"),
        ("stickers", None, "stickers"),
    ]
    print(
        "| clip | size | pipeline | frames | decode ms | raw model ms | pipeline ms | "
        "fps ratio pipeline/raw excl. decode | incl. decode | frames with points |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for clip, size, mode in rows:
        frames, dec_ms = decode(clip, args.frames, size)
        if size is not None:  # resize is not part of decoding a real 1080p stream
            _, dec_ms = decode("stickers", args.frames, None)
        raw_ms = time_raw(frames)
        pipe_ms, ok = time_pipeline(frames, clip, mode)
        h, w = frames[0].shape[:2]
        print(
            f"| {clip} | {w}x{h} | {mode} | {len(frames)} | {dec_ms:.1f} | {raw_ms:.1f} | "
            f"{pipe_ms:.1f} | {raw_ms / pipe_ms:.2f} | "
            f"{(raw_ms + dec_ms) / (pipe_ms + dec_ms):.2f} | {ok} |"
        )


if __name__ == "__main__":
    main()
