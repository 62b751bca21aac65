"""Server memory while it measures one long upload without a frame count (issue 13 row 4).

The fixture clip (4 s, 1280x720, 30 fps) is looped by ffmpeg into a `--minutes` long
MPEG-4 video in Matroska written to a pipe, so the container carries no frame count and
no duration (the case that once kept every decoded frame in memory). Then, on SQLite,
loopback only:

1. the configured limits (`SOTMEASURE_MAX_RECORDING_S`, default 600 s): a server that
   processes nothing gets the upload and answers as it would (202 accepted, or the
   refusal): the refusal, if any, is reported;
2. the limits raised above the video's length (and the per-measurement time limit, so a
   slow machine cannot cut the run short): one server with one worker thread receives
   the upload and measures it; its resident memory is read from /proc every second
   (VmRSS) and its high-water mark (VmHWM) at the end, so no spike is missed. Figures
   in MiB as /proc gives them; the peak also in MB (10^6 bytes), which the target uses.

ffmpeg: the one on PATH, else the one of the `imageio-ffmpeg` package
(`pip install imageio-ffmpeg`). Takes about as long as measuring the video (~12 min for
10 minutes on one free core; longer on a shared machine).

    python bench/long_upload.py [--minutes 10] [--max-seconds 3600]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench_server import patient_visits, peak_rss_mb, rss_mb, server_process

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "tests" / "fixtures" / "sessions" / "pre_block" / "video.mp4"
CLIP_S = 4.0  # 120 frames at 30 fps
TARGET_MB = 600  # issue 13: server memory while processing a 10-minute upload (10^6 bytes)
MIB_TO_MB = 2**20 / 1e6  # /proc gives KiB: bench_server's figures are MiB


def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        sys.exit("ffmpeg not found: install it, or `pip install imageio-ffmpeg`")
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def long_video(path: Path, minutes: float) -> None:
    """`minutes` of the fixture clip as MPEG-4 in Matroska, written through a pipe (no
    frame count, no duration in the container)."""
    loops = max(1, round(minutes * 60 / CLIP_S))
    with path.open("wb") as out:
        subprocess.run(
            [ffmpeg(), "-v", "error", "-stream_loop", str(loops - 1), "-i", str(CLIP),
             "-an", "-c:v", "mpeg4", "-q:v", "5", "-f", "matroska", "-"],
            stdout=out, check=True,
        )  # fmt: skip


def container_frame_count(path: Path) -> float:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        return float(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def upload(base: str, headers: dict[str, str], visit_id: int, video: Path) -> httpx.Response:
    with video.open("rb") as body:
        return httpx.post(
            f"{base}/visits/{visit_id}/recordings",
            files={"file": ("long.mkv", body, "video/x-matroska")},
            data={"phase": "pre"},
            headers=headers,
            timeout=600,
        )


def with_configured_limits(root: Path, video: Path) -> str:
    """The answer of a server with the default limits (processing nothing)."""
    data_dir = root / "limits"
    env = {"SOTMEASURE_PROCESSING_WORKERS": "0"}
    with server_process(f"sqlite:///{data_dir / 'bench.db'}", data_dir, extra_env=env) as (
        base,
        _proc,
    ):
        headers, visits = patient_visits(base, 1, "L")
        answer = upload(base, headers, visits[0], video)
    detail = answer.json().get("detail", "") if answer.status_code >= 400 else "accepted"
    return f"{answer.status_code} {detail}"


class MemoryWatch:
    """VmRSS of a process every second, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append((time.monotonic() - self._t0, rss_mb(self.pid)))

    def at(self, fraction: float) -> float:
        """RSS at a fraction of the run (0 = start, 1 = end), MiB."""
        if not self.samples:
            return float("nan")
        return self.samples[min(len(self.samples) - 1, int(fraction * len(self.samples)))][1]


def measured(root: Path, video: Path, seconds: float, cap_s: float) -> list[str]:
    data_dir = root / "raised"
    env = {
        "SOTMEASURE_PROCESSING_WORKERS": "1",
        "SOTMEASURE_POLL_INTERVAL_S": "0.5",
        "SOTMEASURE_MAX_RECORDING_S": str(seconds + 60),
        "SOTMEASURE_MAX_RECORDING_FRAMES": str(int((seconds + 60) * 60)),
        "SOTMEASURE_MEASUREMENT_TIME_LIMIT_S": str(cap_s),
    }
    url = f"sqlite:///{data_dir / 'bench.db'}"
    with server_process(url, data_dir, extra_env=env, startup_timeout_s=90) as (base, proc):
        headers, visits = patient_visits(base, 1, "M")
        idle_mb = rss_mb(proc.pid)
        load_before = os.getloadavg()
        t0 = time.monotonic()
        with MemoryWatch(proc.pid) as watch:
            answer = upload(base, headers, visits[0], video)
            upload_s = time.monotonic() - t0
            if answer.status_code != 202:
                return [f"upload answered {answer.status_code}: {answer.text[:200]}"]
            mid = int(answer.json()["id"])
            row: dict[str, object] = {}
            while time.monotonic() - t0 < cap_s + 120:
                row = httpx.get(f"{base}/measurements/{mid}", headers=headers, timeout=60).json()
                if row["status"] in ("done", "failed"):
                    break
                time.sleep(2.0)
        wall_s = time.monotonic() - t0
        peak = peak_rss_mb(proc.pid)
        load_after = os.getloadavg()
    samples = watch.samples
    busiest = max((mb for _, mb in samples), default=float("nan"))
    peak_mb = peak * MIB_TO_MB
    return [
        f"upload: {answer.status_code} after {upload_s:.1f} s; measurement {row.get('status')}"
        f" ({row.get('failure_reason') or 'LLD ' + str(row.get('lld_mm'))} mm) after "
        f"{wall_s:.0f} s, {len(samples)} memory samples",
        f"server RSS idle {idle_mb:.0f} MiB; during the run: at 10 % {watch.at(0.1):.0f}, "
        f"50 % {watch.at(0.5):.0f}, 90 % {watch.at(0.9):.0f}, highest sample {busiest:.0f} MiB;"
        f" peak (VmHWM, whole server life) {peak:.0f} MiB = {peak_mb:.0f} MB; "
        f"target < {TARGET_MB} MB (10^6 bytes): {'met' if peak_mb < TARGET_MB else 'NOT met'}",
        "load average (1/5/15 min) before "
        + "/".join(f"{x:.1f}" for x in load_before)
        + ", after "
        + "/".join(f"{x:.1f}" for x in load_after)
        + f" on {os.cpu_count()} cores",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the video")
    parser.add_argument(
        "--max-seconds", type=float, default=3600.0, help="time limit of the measurement"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sotm-long-") as tmp:
        root = Path(tmp)
        video = root / "long.mkv"
        long_video(video, args.minutes)
        seconds = args.minutes * 60
        count = container_frame_count(video)
        told = f"{count:.0f}" if 0 < count < 1e7 else f"none ({count:g})"
        print(
            f"video: {args.minutes:g} min, {video.stat().st_size / 2**20:.0f} MB, Matroska "
            f"through a pipe; frame count in the container (OpenCV): {told}",
            flush=True,
        )
        print(f"with the configured limits: {with_configured_limits(root, video)}", flush=True)
        for line in measured(root, video, seconds, args.max_seconds):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
