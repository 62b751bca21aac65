"""Pose speed: raw model vs the whole per-frame pipeline, on the same decoded frames; and
end to end: `sotmeasure measure` on each fixture clip vs the clip's duration vs the raw model.

Usage: python bench/pose_speed.py [--frames 60] [--repeats 3] [--skip-per-frame]
                                  [--skip-end-to-end]

Per-frame rows: pre_block (1280x720), pre_block resized to 1920x1080, stickers (1920x1080,
markerless and sticker mode). "raw model" = MediaPipePoseEstimator.estimate on the unrotated
frame, VIDEO mode, no segmentation (the cheapest useful call). "pipeline" =
PosePipeline.process (head-up rotation, model with segmentation, mapping back, heel and hip
refinement, gates), serially; "markerless-overlap" = the same through the code `measure`
runs (processing/pose_pass.overlapped: the frames handed over and the model's input made in
threads ahead of the model, the refinement in a worker thread behind it); "model-only" =
the pipeline's model call alone (head-up input made beforehand, with the person mask the
refinement needs): the most the markerless rows can reach.
"decode" = cv2.VideoCapture.read of the same frames, added for the "incl. decode" columns.
The CPU columns (process time, all threads) are what a busy machine cannot distort much:
with other jobs on the cores, the wall-clock ratios say more about the load than the code.
The end-to-end rows run `measure` --repeats times per clip (medians, the wall's range).
Each per-frame row runs the raw model and the pipeline --repeats times, alternately, and prints
medians, with the range of the ratio over the repeats: one pair of runs moves by +-0.05 on a
shared 2-core machine. Target (issue 15): pipeline frame rate >= 0.9 x the raw model's, on
the rows that run as `measure` runs ("as measure runs": yes); the serial markerless rows,
the no-mask and the model-only ones say where the time goes.

End-to-end rows (all in one run): wall and CPU time of the `sotmeasure measure --json`
command (a fresh process: imports, model load, decoding, everything), the clip's duration,
and the raw model alone over all the clip's frames (decoded beforehand, not timed). Target:
wall <= 1.0 x the clip's duration at 720p, <= 1.5 x at 1080p. The per-stage breakdown is one
in-process `measure_video` with a StageClock: seconds each stage was busy, summed over the
threads (the stages overlap, so they can add up to more than the wall time). The load
average is printed: on a shared 2-core machine, compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from sotmeasure.capture.frame import Frame
from sotmeasure.pose.mediapipe_backend import MediaPipePoseEstimator
from sotmeasure.pose.pipeline import Mode, PosePipeline

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = ROOT / "tests" / "fixtures" / "sessions"
LAYOUT = ROOT / "calibration" / "targets" / "table_8_markers.json"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"
PROFILES = ROOT / "calibration" / "profiles"
#: End-to-end clips: (clip, camera profile).
END_TO_END = (
    ("pre_block", "rendered_overhead_1280x720.toml"),
    ("post_block", "rendered_overhead_1280x720.toml"),
    ("stickers", "rendered_overhead_1920x1080.toml"),
)
STAGE_ORDER = ("decode", "table_pose", "model_input", "model", "refinement", "statistics")


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
    return time_raw_cpu(frames)[0]


def time_raw_cpu(frames: list[np.ndarray]) -> tuple[float, float]:
    """Wall and CPU (whole process) ms per frame of the raw model."""
    with MediaPipePoseEstimator(running_mode="video") as est:
        t0, c0 = time.perf_counter(), time.process_time()
        for i, f in enumerate(frames):
            est.estimate(f, i * 33 + 1)
        n = len(frames)
        return (time.perf_counter() - t0) * 1000 / n, (time.process_time() - c0) * 1000 / n


def time_pipeline(frames: list[np.ndarray], clip: str, mode: str) -> tuple[float, float, int]:
    """mode: "markerless" (default: with the model's mask), "markerless-nomask",
    "markerless-overlap" (refinement in a worker thread), "model-only" (the pipeline's
    model call alone, with the mask, on model inputs made beforehand: the ceiling of the
    markerless rows), "stickers"."""
    est = None
    if mode == "markerless-nomask":
        est = MediaPipePoseEstimator(running_mode="video", output_segmentation=False)
    kind: Mode = "stickers" if mode == "stickers" else "markerless"
    with PosePipeline(mode=kind, caudal_dir_px=caudal_dir(clip), estimator=est) as pipe:
        ok = 0
        prepared = [pipe.model_input(f) for f in frames] if mode == "model-only" else []
        t0, c0 = time.perf_counter(), time.process_time()
        if mode == "model-only":
            for i, (f, inp) in enumerate(zip(frames, prepared, strict=True)):
                ok += bool(pipe.track(Frame(f, i, i / 30.0), inp))
        elif mode == "markerless-overlap":
            from sotmeasure.processing.pose_pass import overlapped

            items = (Frame(f, i, i / 30.0) for i, f in enumerate(frames))
            for fp in overlapped(items, pipe, lambda item: pipe.finish(*item)):
                ok += fp.points is not None
        else:
            for i, f in enumerate(frames):
                ok += pipe.process(Frame(f, i, i / 30.0)).points is not None
        ms = (time.perf_counter() - t0) * 1000 / len(frames)
        cpu_ms = (time.process_time() - c0) * 1000 / len(frames)
    if est is not None:
        est.close()
    return ms, cpu_ms, ok


#: Per-frame rows: (clip, resize to, pipeline). The rows `measure` runs (the target's rows)
#: are the overlapped markerless ones and sticker mode; the serial, no-mask and model-only
#: markerless rows say where the time goes ("frames with points" there: frames the model
#: found someone in, nothing refined).
PER_FRAME_ROWS: tuple[tuple[str, tuple[int, int] | None, str], ...] = (
    ("pre_block", None, "markerless"),
    ("pre_block", None, "markerless-overlap"),
    ("pre_block", None, "markerless-nomask"),
    ("pre_block", None, "model-only"),
    ("pre_block", (1920, 1080), "markerless"),
    ("pre_block", (1920, 1080), "markerless-overlap"),
    ("stickers", None, "markerless"),
    ("stickers", None, "markerless-overlap"),
    ("stickers", None, "markerless-nomask"),
    ("stickers", None, "model-only"),
    ("stickers", None, "stickers"),
)
AS_MEASURE_RUNS = ("markerless-overlap", "stickers")


def per_frame(n_frames: int, repeats: int) -> None:
    """Each row: the raw model and the pipeline `repeats` times, alternately, on the same
    frames; medians (the ratio's range over the repeats beside it)."""
    print(
        "| clip | size | pipeline | as measure runs | frames | decode ms | raw model ms | "
        "pipeline ms | fps ratio pipeline/raw excl. decode (range) | incl. decode | "
        "raw model CPU ms | pipeline CPU ms | CPU ratio raw/pipeline | frames with points |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for clip, size, mode in PER_FRAME_ROWS:
        frames, dec_ms = decode(clip, n_frames, size)
        if size is not None:  # resize is not part of decoding a real 1080p stream
            _, dec_ms = decode("stickers", n_frames, None)
        raws, pipes = [], []
        for _ in range(repeats):
            raws.append(time_raw_cpu(frames))
            pipes.append(time_pipeline(frames, clip, mode))
        raw_ms, raw_cpu = (float(np.median([r[k] for r in raws])) for k in (0, 1))
        pipe_ms, pipe_cpu = (float(np.median([p[k] for p in pipes])) for k in (0, 1))
        ratios = [r[0] / p[0] for r, p in zip(raws, pipes, strict=True)]
        ok = pipes[-1][2]
        h, w = frames[0].shape[:2]
        print(
            f"| {clip} | {w}x{h} | {mode} | {'yes' if mode in AS_MEASURE_RUNS else 'no'} | "
            f"{len(frames)} | {dec_ms:.1f} | {raw_ms:.1f} | {pipe_ms:.1f} | "
            f"{float(np.median(ratios)):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
            f"{(raw_ms + dec_ms) / (pipe_ms + dec_ms):.2f} | {raw_cpu:.1f} | {pipe_cpu:.1f} | "
            f"{raw_cpu / pipe_cpu:.2f} | {ok} |",
            flush=True,
        )


def measure_cli(clip: str, profile: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys) of one `sotmeasure measure --json` process."""
    cmd = [
        str(Path(sys.executable).with_name("sotmeasure")),
        "measure",
        str(SESSIONS / clip / "video.mp4"),
        "--target",
        str(LAYOUT),
        "--camera",
        str(PROFILES / profile),
        "--setup",
        str(SETUP),
        "--json",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def stage_breakdown(clip: str, profile: str) -> tuple[float, dict[str, float]]:
    """Wall seconds of one in-process measure_video, and seconds busy per stage."""
    from sotmeasure.geometry.layout import load_layout
    from sotmeasure.geometry.profile import load_profile
    from sotmeasure.processing import load_setup, measure_video, resolve_params

    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    video = SESSIONS / clip / "video.mp4"
    layout, prof = load_layout(LAYOUT), load_profile(PROFILES / profile)
    try:
        from sotmeasure.processing.stream import StageClock
    except ImportError:  # a version without the stage clock: wall time only
        t0 = time.perf_counter()
        measure_video(video, layout, prof, params)
        return time.perf_counter() - t0, {}
    clock = StageClock()
    t0 = time.perf_counter()
    measure_video(video, layout, prof, params, clock=clock)
    return time.perf_counter() - t0, dict(clock.seconds)


def end_to_end(repeats: int) -> None:
    """`sotmeasure measure` `repeats` times on each clip (medians; the wall's range)."""
    print(
        "\n| clip | size | frames | clip s | measure wall s (range) | measure CPU s | "
        "wall / clip | raw model s | wall / raw model |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    stages: list[tuple[str, float, dict[str, float]]] = []
    for clip, profile in END_TO_END:
        cap = cv2.VideoCapture(str(SESSIONS / clip / "video.mp4"))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        cap.release()
        frames, _ = decode(clip, 10**6, None)
        n, (h, w) = len(frames), frames[0].shape[:2]
        raw_s = time_raw(frames) * n / 1000
        del frames
        runs = [measure_cli(clip, profile) for _ in range(repeats)]
        walls = [r[0] for r in runs]
        wall, cpu = float(np.median(walls)), float(np.median([r[1] for r in runs]))
        print(
            f"| {clip} | {w}x{h} | {n} | {n / fps:.1f} | {wall:.2f} ({min(walls):.2f}-"
            f"{max(walls):.2f}) | {cpu:.1f} | {wall / (n / fps):.2f} | {raw_s:.1f} | "
            f"{wall / raw_s:.2f} |",
            flush=True,
        )
        stages.append((clip, *stage_breakdown(clip, profile)))
    names = [k for k in STAGE_ORDER if any(k in st for _, _, st in stages)]
    print(
        "\nPer stage (in-process measure_video; seconds busy, summed over threads):\n\n"
        f"| clip | wall s | {' | '.join(names)} |"
    )
    print("|---|---|" + "---|" * len(names))
    for clip, wall, st in stages:
        cells = " | ".join(f"{st.get(k, 0.0):.2f}" for k in names)
        print(f"| {clip} | {wall:.1f} | {cells} |")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument(
        "--repeats", type=int, default=3, help="runs of each per-frame row and of each clip"
    )
    ap.add_argument("--skip-per-frame", action="store_true")
    ap.add_argument("--skip-end-to-end", action="store_true")
    args = ap.parse_args()
    print(f"load average (1/5/15 min) at start: {_load()}; cores: {os.cpu_count()}\n")
    if not args.skip_per_frame:
        per_frame(args.frames, args.repeats)
    if not args.skip_end_to_end:
        end_to_end(args.repeats)
    print(f"\nload average at end: {_load()}")


if __name__ == "__main__":
    main()
