"""Measure a capture while it records, so its result is ready when the recording is stored.

The recorder hands every frame's encoded bytes, once they are on disk, to two AVI streams
(capture/avi_stream.py): two copies of the recording, decoded exactly as a measurement of
the stored file decodes it. A thread runs the live pass over them (processing/live.py:
`measure_video`'s per-frame steps, as frames arrive). When the recording is stored,
`outcome` turns the pass into the stored video's result with the same checks and statistics
as the worker (jobs/measure_adapter.py `live_record`), and the measurement is committed
`done` (or `failed`, with the worker's words) without a worker run.

Whenever the live result could differ from the worker's, or is late, there is none: the
setup version changed during the capture, the pass raised (another frame count than planned,
the table not found in the first frame, ...), or it was not through `wait_s` after the
recording was stored (`wait_s`: WebSettings.live_wait_s). The measurement is then queued as
before: nothing is lost but time.
"""

from __future__ import annotations

import logging
import math
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sotmeasure.capture.avi import FrameTap
from sotmeasure.capture.avi_stream import AviStream
from sotmeasure.capture.frame import Frame
from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.measure_adapter import live_pass, live_record, measurement_setup
from sotmeasure.services.context import AppContext, stored_setup
from sotmeasure.services.measurements import CaptureOutcome, capture_setup_version
from sotmeasure.store.models import Mode

log = logging.getLogger(__name__)


def planned_frames(seconds: float, fps: float, frame_count: int | None) -> int:
    """How many frames a capture of `seconds` at `fps` records (a clip ends sooner)."""
    planned = max(1, math.ceil(seconds * fps - 1e-6))
    return min(planned, frame_count) if frame_count else planned


class LiveCapture:
    """The live measurement of one capture (see the module docstring); close it.

    `scratch`: a new folder for its two pipes, removed by `close`."""

    def __init__(
        self, ctx: AppContext, visit_id: int, mode: Mode, scratch: Path, *, wait_s: float
    ) -> None:
        self._ctx = ctx
        self._wait_s = wait_s
        self._version_id = capture_setup_version(ctx, visit_id)
        self._setup = measurement_setup(
            ctx.settings, stored_setup(ctx, self._version_id), mode.value
        )
        scratch.mkdir(parents=True, exist_ok=False)
        self._scratch = scratch
        self._streams: list[AviStream] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._pass: Any = None
        self._error: BaseException | None = None
        self._done_at = 0.0

    def begin(self, width: int, height: int, fps: float, planned: int) -> FrameTap | None:
        """Start the pass for a recording of `planned` frames; the recorder's tap (None
        when the pass cannot start: the capture then records as before)."""
        try:
            for k in (1, 2):
                self._streams.append(
                    AviStream(self._scratch / f"live-{k}.avi", width=width, height=height, fps=fps)
                )
        except Exception as exc:
            log.warning("live capture: no live measurement (%s)", exc)
            self._error = exc
            self._done.set()
            return None
        first, second = self._streams
        self._thread = threading.Thread(
            target=self._run,
            args=(first, second, planned, (width, height)),
            name="sotmeasure-live-capture",
            daemon=True,
        )
        self._thread.start()
        return self._tap

    def _tap(self, encoded: bytes) -> None:
        """The recorder's tap: a failure here ends the live pass, never the recording."""
        try:
            for stream in self._streams:
                stream.push(encoded)
        except Exception:
            log.exception("live capture: a frame could not be handed over; queued instead")
            self._stop.set()

    def recorded(self) -> None:
        """The recording ended (complete or not): the copies end with it."""
        for stream in self._streams:
            stream.end()

    def _run(
        self, first: AviStream, second: AviStream, planned: int, size: tuple[int, int]
    ) -> None:
        try:
            self._pass = live_pass(
                self._setup,
                _frames(first),
                _frames(second),
                planned_frames=planned,
                size=size,
                should_stop=self._stop.is_set,
            )
        except BaseException as exc:  # any failure only means: no live result
            self._error = exc
        finally:
            self._done_at = time.monotonic()
            self._done.set()

    def outcome(self, video: Path, version_id: int | None) -> CaptureOutcome | None:
        """The stored `video`'s result, or None: leave it to the worker."""
        if version_id != self._version_id:
            log.info("live capture: the setup changed while recording; queued")
            return None
        t0 = time.monotonic()
        if not self._done.wait(self._wait_s):
            self._stop.set()
            log.info("live capture: not through %.1f s after storing; queued", self._wait_s)
            return None
        if self._pass is None:
            log.info("live capture: no live result (%s); queued", self._error)
            return None
        try:
            record = live_record(
                self._ctx.settings,
                video,
                self._setup,
                self._pass,
                stored_version=self._version_id is not None,
            )
        except SotmeasureError as exc:  # the measurement's own refusal, as the worker says it
            return CaptureOutcome(failure=str(exc) or type(exc).__name__)
        except Exception:
            log.exception("live capture: the result could not be made; queued")
            return None
        log.info(
            "live capture: the pass ended %.2f s after the recording was stored; result in "
            "%.2f s more",
            max(0.0, self._done_at - t0),
            time.monotonic() - max(t0, self._done_at),
        )
        return CaptureOutcome(record=record)

    def close(self) -> None:
        """Stop the pass and remove its pipes (the readers get their end of file)."""
        self._stop.set()
        for stream in self._streams:
            stream.close()
        if self._thread is not None:
            self._thread.join()
        shutil.rmtree(self._scratch, ignore_errors=True)


def _frames(stream: AviStream) -> Iterator[Frame]:
    with stream.source() as source:
        yield from source
