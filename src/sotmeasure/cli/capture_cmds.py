"""CLI commands for the capture area: record, replay, info."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from sotmeasure.capture.base import FrameSource
from sotmeasure.capture.describe import describe_path
from sotmeasure.capture.errors import CaptureError
from sotmeasure.capture.images import ImageFolderSource
from sotmeasure.capture.open import open_source, source_kind
from sotmeasure.capture.recorder import record_from_source
from sotmeasure.capture.recording import Recording, RecordingSource
from sotmeasure.capture.webcam import WebcamSource
from sotmeasure.cli.common import console, fail, progress_bar
from sotmeasure.errors import SotmeasureError


def _print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2))


def _print_table(rows: list[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        console.print(f"{name.ljust(width)}  {value}", markup=False, highlight=False)


def _recording_summary(rec: Recording) -> dict[str, Any]:
    span = rec.timestamps[-1] - rec.timestamps[0]
    return {
        "path": str(rec.path),
        "frames": rec.frame_count,
        "fps": rec.meta.fps,
        "measured_fps": (rec.frame_count - 1) / span if span > 0 else None,
        "duration_s": rec.duration_s,
        "complete": rec.complete,
        "codec": rec.meta.codec,
        "width": rec.meta.width,
        "height": rec.meta.height,
        "uuid": rec.meta.uuid,
    }


def _fmt(value: object, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _open_for_recording(
    camera: str | None,
    source: Path | None,
    width: int | None,
    height: int | None,
    fps: float | None,
) -> FrameSource:
    if (camera is None) == (source is None):
        raise CaptureError("give exactly one of --camera INDEX_OR_DEVICE or --source PATH")
    if camera is not None:
        return WebcamSource(camera, width=width, height=height, fps=fps)
    assert source is not None
    if width is not None or height is not None:
        raise CaptureError("--width/--height apply to cameras; a file is recorded at its size")
    if source_kind(source) == "images":
        return ImageFolderSource(source, fps=fps)
    return open_source(source)


def record(
    out_dir: Path = typer.Argument(..., help="New (or empty) folder for the recording."),
    camera: str | None = typer.Option(
        None, "--camera", help="Camera index (0) or device path (/dev/video0)."
    ),
    source: Path | None = typer.Option(
        None, "--source", help="Record from a video file, image folder or recording instead."
    ),
    seconds: float | None = typer.Option(
        None, "--seconds", help="Stop after this many seconds (default: source end or Ctrl+C)."
    ),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Stop after N frames."),
    lossless: bool = typer.Option(
        False, "--lossless", help="PNG frames: pixel-exact, larger files (default Motion-JPEG)."
    ),
    width: int | None = typer.Option(None, "--width", help="Requested camera width (px)."),
    height: int | None = typer.Option(None, "--height", help="Requested camera height (px)."),
    fps: float | None = typer.Option(
        None, "--fps", help="Requested camera fps; for an image folder, its frame rate."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Record a camera (or a file) into a recording folder: video, timestamps, meta.json."""
    try:
        with _open_for_recording(camera, source, width, height, fps) as src:
            info = src.info
            rate = info.fps or fps
            total: int | None = info.frame_count
            if seconds is not None and rate:
                by_time = int(seconds * rate + 0.5)
                total = by_time if total is None else min(total, by_time)
            if max_frames is not None:
                total = max_frames if total is None else min(total, max_frames)
            with progress_bar(disable=as_json) as bar:
                task = bar.add_task("recording", total=total)
                rec = record_from_source(
                    src,
                    out_dir,
                    seconds=seconds,
                    max_frames=max_frames,
                    lossless=lossless,
                    fps=fps if info.kind == "images" else None,
                    progress=lambda n: bar.update(task, completed=n),
                )
            negotiated = getattr(src, "negotiated", None)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    summary = _recording_summary(rec)
    if negotiated is not None:
        summary["camera"] = rec.meta.raw.get("source_details", {}).get("negotiated")
    if as_json:
        _print_json(summary)
        return
    _print_table(
        [
            ("recording", summary["path"]),
            ("frames", summary["frames"]),
            ("size", f"{summary['width']}x{summary['height']}"),
            (
                "fps",
                f"{_fmt(summary['fps'], digits=2)} nominal, "
                f"{_fmt(summary['measured_fps'], digits=2)} measured",
            ),
            ("duration", _fmt(summary["duration_s"], " s")),
            ("codec", summary["codec"]),
        ]
        + ([("camera", summary["camera"])] if "camera" in summary else [])
    )


def replay(
    recording: Path = typer.Argument(..., help="A recording folder (made by `record`)."),
    realtime: bool = typer.Option(
        False, "--realtime", help="Pace frames by their recorded timestamps."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay a recording and report its frames, fps and duration."""
    try:
        with RecordingSource(recording, timing="realtime" if realtime else "fast") as src:
            rec = src.recording
            start = time.monotonic()
            with progress_bar(disable=as_json) as bar:
                task = bar.add_task("replaying", total=rec.frame_count)
                for frame in src:
                    bar.update(task, completed=frame.index + 1)
            elapsed = time.monotonic() - start
            replayed = src.frames_read
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    summary = _recording_summary(rec)
    summary.update(
        replayed_frames=replayed,
        timing="realtime" if realtime else "fast",
        elapsed_s=elapsed,
    )
    if as_json:
        _print_json(summary)
        return
    state = (
        "complete" if rec.complete else "INCOMPLETE (recorder was cut off; replayed what survived)"
    )
    _print_table(
        [
            ("recording", summary["path"]),
            ("status", state),
            ("frames", f"{replayed} replayed of {rec.frame_count}"),
            (
                "fps",
                f"{_fmt(summary['fps'], digits=2)} nominal, "
                f"{_fmt(summary['measured_fps'], digits=2)} measured",
            ),
            ("duration", _fmt(summary["duration_s"], " s")),
            ("elapsed", f"{elapsed:.3f} s ({summary['timing']})"),
        ]
    )


def info(
    path: Path = typer.Argument(..., help="A video file, a recording folder or an image folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Describe a video, recording or image folder: kind, size, fps, frames, duration."""
    try:
        data = describe_path(path)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    if as_json:
        _print_json(data)
        return
    rows: list[tuple[str, object]] = [
        ("kind", data["kind"]),
        ("path", data["path"]),
        ("size", f"{data['width']}x{data['height']}"),
        ("fps", _fmt(data["fps"], digits=2)),
        ("frames", _fmt(data["frames"])),
        ("duration", _fmt(data["duration_s"], " s")),
    ]
    if data["kind"] == "video":
        rows.append(("codec", _fmt(data["codec"])))
    if data["kind"] == "recording":
        meta = data["meta"]
        rows += [
            (
                "complete",
                "yes" if data["complete"] else "NO (cut off; frames up to the last written)",
            ),
            ("measured fps", _fmt(data["measured_fps"], digits=2)),
            ("codec", meta.get("codec")),
            ("started", meta.get("started_utc")),
            ("source", meta.get("source")),
            ("format", meta.get("format_version")),
            ("uuid", meta.get("uuid")),
            ("video sha256", meta.get("video_sha256") or "not yet written"),
        ]
    if data["kind"] == "images":
        rows.append(("files", f"{data['first']} .. {data['last']}"))
    _print_table(rows)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("record")(record)
    app.command("replay")(replay)
    app.command("info")(info)
