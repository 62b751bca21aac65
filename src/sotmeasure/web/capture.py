"""'Measure pre' / 'Measure post': record a window from the live source, store, queue.

Flow of one capture (in a thread, so the page can poll it):
1. record `capture_seconds` into a new recording folder (capture.Recorder) under the data
   folder's tmp/: from the live camera's frame queue, or, for the demo source, the phase's
   demo clip from its start in real time;
2. zip the folder and hand it to the service's content-addressed file store (the same
   checks as an upload: it is opened, never trusted);
3. one transaction: the `recordings` row (source "capture") and its measurement: `done`
   with the result measured while it recorded (web/live_capture.py), else `pending`, and
   the service's worker is woken to measure it like any upload.
A camera that stops mid-capture fails the capture with a message and stores nothing.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import FrameReadError
from sotmeasure.capture.frame import Frame
from sotmeasure.capture.recorder import record_from_source
from sotmeasure.errors import SotmeasureError
from sotmeasure.services.context import AppContext
from sotmeasure.services.measurements import queue_capture
from sotmeasure.store.models import Mode, Phase, Status
from sotmeasure.store.queueing import BlockingNotes
from sotmeasure.web.live import LiveCamera, LiveHub, SinkItem
from sotmeasure.web.live_capture import LiveCapture, planned_frames
from sotmeasure.web.sources import LiveSpec, open_live

log = logging.getLogger(__name__)

_FRAME_TIMEOUT_S = 3.0
_MIN_CAPTURE_FRACTION = 0.5  # fewer frames than half the window: the capture failed
#: A capture measured while it records takes up to this much longer to get its planned
#: frames from a camera that drops some.
_LIVE_SECONDS_MARGIN = 1.25


class CaptureBusyError(SotmeasureError):
    """Another capture is running (the server has one camera)."""


class CaptureState(StrEnum):
    """capturing -> storing -> measured (measured while it recorded) | queued | failed"""

    CAPTURING = "capturing"
    STORING = "storing"
    MEASURED = "measured"
    QUEUED = "queued"
    FAILED = "failed"


@dataclass
class CaptureJob:
    """One capture as the page polls it."""

    id: str
    visit_id: int
    phase: Phase
    user_id: int
    clinic_id: int  # the visit's clinic: the camera is that clinic's while it records
    source_label: str
    seconds: float
    state: CaptureState = CaptureState.CAPTURING
    message: str = ""
    recorded_s: float = 0.0
    measurement_id: int | None = None
    started_at: float = field(default_factory=time.time)
    blocking: dict[str, str | None] = field(default_factory=dict)
    mode: Mode = Mode.MARKERLESS
    # Measured while it records (web/live_capture.py): how long the stored capture waits
    # for that result before the worker gets it; None: the worker measures it.
    live_wait_s: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (CaptureState.CAPTURING, CaptureState.STORING)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "visit_id": self.visit_id,
            "phase": self.phase.value,
            "state": self.state.value,
            "message": self.message,
            "recorded_s": round(self.recorded_s, 1),
            "seconds": self.seconds,
            "measurement_id": self.measurement_id,
            "source": self.source_label,
            "mode": self.mode.value,
        }


class QueueSource(FrameSource):
    """The live camera's frames for one capture, from its queue (ends on error or timeout)."""

    def __init__(self, camera: LiveCamera, sink: queue.Queue[SinkItem], first: Frame, fps: float):
        self._camera = camera
        self._sink = sink
        self._first: Frame | None = first
        h, w = first.image.shape[:2]
        self._info = SourceInfo("live", camera.spec.label, w, h, fps, None)

    @property
    def info(self) -> SourceInfo:
        return self._info

    def __iter__(self) -> Iterator[Frame]:
        if self._first is not None:
            yield self._first
            self._first = None
        while True:
            try:
                item = self._sink.get(timeout=_FRAME_TIMEOUT_S)
            except queue.Empty:
                raise FrameReadError(
                    f"{self._camera.spec.label} delivered no frame for {_FRAME_TIMEOUT_S:.0f} s"
                ) from None
            if item.frame is None:
                raise FrameReadError(item.error or "the camera stopped")
            yield item.frame

    def close(self) -> None:
        self._camera.remove_sink(self._sink)


class CaptureRegistry:
    """Capture jobs of this app; at most one records at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, CaptureJob] = {}

    def start(self, job: CaptureJob) -> None:
        with self._lock:
            if any(j.active for j in self._jobs.values()):
                raise CaptureBusyError(
                    "a capture is already running: wait until it has been stored"
                )
            self._jobs[job.id] = job

    def get(self, job_id: str) -> CaptureJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def latest_for_visit(self, visit_id: int) -> CaptureJob | None:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.visit_id == visit_id]
        return max(jobs, key=lambda j: j.started_at) if jobs else None

    def any_active(self) -> bool:
        with self._lock:
            return any(j.active for j in self._jobs.values())


def new_job(
    visit_id: int,
    phase: Phase,
    user_id: int,
    clinic_id: int,
    spec: LiveSpec,
    seconds: float,
    blocking: dict[str, str | None],
    mode: Mode,
    live_wait_s: float | None = None,
) -> CaptureJob:
    return CaptureJob(
        id=uuid.uuid4().hex,
        visit_id=visit_id,
        phase=phase,
        user_id=user_id,
        clinic_id=clinic_id,
        source_label=spec.label,
        seconds=seconds,
        blocking=blocking,
        mode=mode,
        live_wait_s=live_wait_s,
    )


def _record(
    job: CaptureJob, spec: LiveSpec, hub: LiveHub, folder: Path, live: LiveCapture | None
) -> int:
    """Record the window into `folder` (its frames to `live` as they are written too);
    returns the number of frames written."""

    def progress(n: int) -> None:
        job.recorded_s = min(job.seconds, n / fps)

    def recorded(source: FrameSource, fps: float) -> int:
        info = source.info
        planned = planned_frames(job.seconds, fps, None if spec.is_camera else info.frame_count)
        tap = None if live is None else live.begin(info.width, info.height, fps, planned)
        # Measured while it records: exactly the planned frames (another count would
        # change the frames the table pose is taken from, and the live result with them),
        # so a camera that drops a frame records a little longer.
        rec = record_from_source(
            source,
            folder,
            seconds=job.seconds if live is None else job.seconds * _LIVE_SECONDS_MARGIN,
            fps=fps,
            progress=progress,
            tap=tap,
            max_frames=None if live is None else planned,
        )
        return rec.frame_count

    if spec.is_demo:
        # The demo's phases are two recorded clips: record the phase's clip from its start.
        with open_live(spec, loop=False) as source:
            fps = source.info.fps or 30.0
            return recorded(source, fps)
    camera = hub.camera(spec, job.clinic_id)
    camera.pause_analysis(True)  # leave the CPU to the recorder (resumed by run_capture)
    with camera.held():
        sink: queue.Queue[SinkItem] = queue.Queue(maxsize=1000)
        camera.add_sink(sink)
        try:
            item = sink.get(timeout=_FRAME_TIMEOUT_S + 5.0)  # the first frame opens the device
        except queue.Empty:
            camera.remove_sink(sink)
            raise FrameReadError(f"{spec.label} delivered no frame") from None
        if item.frame is None:
            camera.remove_sink(sink)
            raise FrameReadError(item.error or "the camera is not available")
        fps = _nominal_fps(camera)
        with QueueSource(camera, sink, item.frame, fps) as source:
            return recorded(source, fps)


def _nominal_fps(camera: LiveCamera) -> float:
    """The recording's nominal rate: what the open source reports (webcams negotiate one)."""
    info = camera.info
    if info is not None and info.fps is not None and info.fps > 0:
        return float(info.fps)
    return 30.0


def _zip_folder(folder: Path, target: Path) -> None:
    """A stored (uncompressed: MJPEG does not compress further) zip of a recording folder."""
    with zipfile.ZipFile(target, "x", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, arcname=f"{folder.name}/{path.relative_to(folder).as_posix()}")


def run_capture(ctx: AppContext, hub: LiveHub, job: CaptureJob, spec: LiveSpec) -> None:
    """Record, store and queue one capture; every outcome ends in job.state/job.message.

    The final state is published only after the scratch folder is gone and the live
    analysis resumed, so a page that sees "measured", "queued" or "failed" sees a settled capture.
    """
    scratch = ctx.settings.tmp_dir / f"capture-{job.id}"
    folder = scratch / f"{job.phase.value}-capture"
    outcome = (CaptureState.FAILED, "the capture stopped unexpectedly; see the server log")
    paused = hub.current()
    if paused is not None:
        paused.pause_analysis(True)  # leave the CPU to the recorder and the worker
    live: LiveCapture | None = None
    try:
        scratch.mkdir(parents=True, exist_ok=False)
        live = _live_capture(ctx, job)
        try:
            frames = _record(job, spec, hub, folder, live)
        finally:
            if live is not None:
                live.recorded()
        if job.recorded_s < job.seconds * _MIN_CAPTURE_FRACTION:
            raise FrameReadError(
                f"only {job.recorded_s:.1f} s of the {job.seconds:.0f} s window were recorded"
            )
        job.state = CaptureState.STORING
        job.message = "storing the recording" + ("" if live is None else " and its measurement")
        archive = scratch / "capture.zip"
        recorded_at = time.monotonic()
        _zip_folder(folder, archive)
        with archive.open("rb") as fh:
            job.measurement_id, status = queue_capture(
                ctx,
                fh,
                visit_id=job.visit_id,
                phase=job.phase,
                mode=job.mode,
                user_id=job.user_id,
                source_label=job.source_label,
                blocking=BlockingNotes(
                    job.blocking.get("blocks"),
                    job.blocking.get("placement"),
                    job.blocking.get("category"),
                ),
                measured=None if live is None else live.outcome,
            )
        outcome = (
            (CaptureState.QUEUED, "recorded; measuring")
            if status is Status.PENDING
            else (CaptureState.MEASURED, "recorded and measured")
        )
        log.info(
            "capture %s: %d frames stored, measurement %d %s %.2f s after the recording ended",
            job.id,
            frames,
            job.measurement_id,
            status.value,
            time.monotonic() - recorded_at,
        )
    except SotmeasureError as exc:
        outcome = (
            CaptureState.FAILED,
            f"the capture failed after {job.recorded_s:.1f} s: {exc}. Nothing was stored; "
            "check the camera and press Measure again.",
        )
        log.warning("capture %s failed: %s", job.id, exc)
    except Exception as exc:
        outcome = (
            CaptureState.FAILED,
            f"the capture failed ({type(exc).__name__}); see the server log",
        )
        log.exception("capture %s failed", job.id)
    finally:
        if live is not None:
            live.close()
        # The scratch folder goes first: a page (or test) that sees the final state must
        # never find the capture's files still on disk.
        _remove_scratch(scratch)
        for camera in {id(c): c for c in (paused, hub.current()) if c is not None}.values():
            camera.pause_analysis(False)
        job.message = outcome[1]
        job.state = outcome[0]


def _live_capture(ctx: AppContext, job: CaptureJob) -> LiveCapture | None:
    """The capture's live measurement, or None (turned off, or its setup does not load:
    then the worker measures the capture, and says what is wrong with the setup).

    Its pipes live in a folder of their own, beside the capture's: an interrupted capture
    is kept for inspection (store/scratch.py), its pipes are not."""
    if job.live_wait_s is None:
        return None
    try:
        return LiveCapture(
            ctx,
            job.visit_id,
            job.mode,
            ctx.settings.tmp_dir / f"live-{job.id}",
            wait_s=job.live_wait_s,
        )
    except Exception as exc:
        log.info("capture %s: no live measurement (%s)", job.id, exc)
        return None


def _remove_scratch(scratch: Path) -> None:
    """Remove a capture's scratch folder; a failure is logged (start-up recovery retries)."""
    try:
        shutil.rmtree(scratch)
    except FileNotFoundError:
        pass
    except OSError:
        log.exception("could not remove the capture folder %s", scratch)


def start_capture(
    ctx: AppContext, hub: LiveHub, registry: CaptureRegistry, job: CaptureJob, spec: LiveSpec
) -> None:
    """Register the job (or raise CaptureBusyError) and run it in a thread."""
    registry.start(job)
    threading.Thread(
        target=run_capture, args=(ctx, hub, job, spec), name=f"capture-{job.id[:8]}", daemon=True
    ).start()
