"""The server's camera as the pages see it: one reader thread, one analysis thread.

Why threads: the camera must be read at its own pace whether or not anyone is looking,
and the pose model must never slow the picture down. The reader keeps only the newest
frame (and hands every frame to an active capture through a queue); the analyser looks
at the newest frame at most `live_pose_hz` times a second and can be paused while a
capture or a measurement needs the CPU. Viewers and captures hold the camera; it is
released `live_idle_stop_s` after the last one lets go.

One camera runs at a time (a device can be opened once): asking for another source
(the demo's post clip after its pre clip) stops the first.

The live numbers use the setup of the visit being watched (`LiveSetupChoice`: the visit's
setup version, else the installation setup), as its measurement will: a viewer of another
visit with another setup switches the running camera's analysis to that setup without
reopening the camera (so a capture in progress keeps its frames).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.frame import Frame
from sotmeasure.errors import SotmeasureError
from sotmeasure.web.live_reading import SETUP_MISSING, LiveReading
from sotmeasure.web.sources import LiveSpec, open_live

if TYPE_CHECKING:
    from sotmeasure.web.live_analysis import LiveAnalyser

log = logging.getLogger(__name__)

AnalyserFactory = Callable[[], "LiveAnalyser"]
#: The key of the installation setup (Settings paths), the analysis used without a visit.
INSTALLATION_SETUP = "installation"
INSTALLATION_LABEL = "installation setup (settings file)"


@dataclass(frozen=True, slots=True)
class LiveSetupChoice:
    """Which setup the live analysis uses: `key` tells setups apart ("installation" or
    "version-<setup_versions.id>"), `label` is what the page shows, `factory` builds the
    analyser (loading the setup's files when the analysis thread first needs it)."""

    key: str
    label: str
    factory: AnalyserFactory


#: Opens a live spec as a frame source (`sources.open_live`; tests pass a source that fails).
Opener = Callable[..., FrameSource]


@dataclass(frozen=True, slots=True)
class SinkItem:
    """What a capture queue receives: a frame, or the reason no more frames will come."""

    frame: Frame | None
    error: str | None = None


class LiveCamera:
    """One open source, its newest frame and newest analysis."""

    def __init__(
        self,
        spec: LiveSpec,
        analyser_factory: AnalyserFactory,
        *,
        pose_hz: float,
        idle_stop_s: float,
        opener: Opener = open_live,
        clinic_id: int | None = None,
        setup_key: str = INSTALLATION_SETUP,
        setup_label: str = INSTALLATION_LABEL,
    ) -> None:
        self.spec = spec
        self._setup_key = setup_key
        self._setup_label = setup_label
        #: The clinic whose user started the camera (None: an admin); only its users
        #: (and admins) may watch it or record from it while it runs.
        self.clinic_id = clinic_id
        self._opener = opener
        self._analyser_factory = analyser_factory
        self._pose_period_s = 1.0 / pose_hz
        self._idle_stop_s = idle_stop_s
        self._lock = threading.Lock()
        self._new_frame = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._analysis_paused = threading.Event()
        self._frame: Frame | None = None
        self._reading: LiveReading | None = None
        self._error: str | None = None
        self._holders = 0
        self._last_release = time.monotonic()
        self._sinks: list[queue.Queue[SinkItem]] = []
        self._info: SourceInfo | None = None
        self._threads: list[threading.Thread] = []

    # -- state seen by the pages ------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def busy(self) -> bool:
        """Running or held: a clinic is using it (a stopped, idle camera is free)."""
        with self._lock:
            holders = self._holders
        return not self.stopped and (self.running or holders > 0)

    def watchable_by(self, clinic_id: int | None) -> bool:
        """May a user of `clinic_id` (None: an admin) see this camera's frames?"""
        return clinic_id is None or clinic_id == self.clinic_id

    @property
    def stopped(self) -> bool:
        """True once the camera was stopped or its source ended or failed."""
        return self._stop.is_set()

    @property
    def info(self) -> SourceInfo | None:
        """What the open source reports about itself (None until it is open)."""
        return self._info

    @property
    def setup_label(self) -> str:
        """The setup the live numbers are computed with."""
        with self._lock:
            return self._setup_label

    @property
    def setup_key(self) -> str:
        with self._lock:
            return self._setup_key

    def use_setup(self, choice: LiveSetupChoice) -> None:
        """Analyse with another setup from the next frame on (the reader keeps running); the
        reading of the previous setup is dropped, so no number of one setup is shown under
        the other's name."""
        with self._lock:
            if choice.key == self._setup_key:
                return
            self._setup_key, self._setup_label = choice.key, choice.label
            self._analyser_factory = choice.factory
            self._reading = None

    def snapshot(self) -> tuple[Frame | None, LiveReading | None, str | None]:
        with self._lock:
            return self._frame, self._reading, self._error

    def wait_frame(self, after_index: int | None, timeout_s: float) -> Frame | None:
        """The newest frame once it differs from `after_index` (or None on timeout)."""
        deadline = time.monotonic() + timeout_s
        with self._new_frame:
            while not self._stop.is_set():
                if self._frame is not None and self._frame.index != after_index:
                    return self._frame
                if self._error is not None:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._new_frame.wait(remaining)
        return None

    def pause_analysis(self, paused: bool) -> None:
        if paused:
            self._analysis_paused.set()
        else:
            self._analysis_paused.clear()

    @property
    def analysis_paused(self) -> bool:
        return self._analysis_paused.is_set()

    # -- holders (viewers and captures) ---------------------------------------------
    def start(self) -> None:
        """Start the threads unless they run (a stopped or failed camera starts afresh)."""
        with self._lock:
            if self.running:
                return
            self._stop.clear()
            self._error = None
            self._frame = None
            self._reading = None
            self._threads = [
                threading.Thread(target=self._read_loop, name="sotmeasure-live-read", daemon=True),
                threading.Thread(
                    target=self._analyse_loop, name="sotmeasure-live-pose", daemon=True
                ),
            ]
            for t in self._threads:
                t.start()

    @contextmanager
    def held(self) -> Iterator[LiveCamera]:
        """Keep the camera open while the block runs (a viewer or a capture)."""
        with self._lock:
            self._holders += 1
        self.start()
        try:
            yield self
        finally:
            with self._lock:
                self._holders -= 1
                self._last_release = time.monotonic()

    def add_sink(self, sink: queue.Queue[SinkItem]) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: queue.Queue[SinkItem]) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        for t in list(self._threads):
            if t is not threading.current_thread():
                t.join(timeout_s)

    # -- threads ---------------------------------------------------------------------
    def _idle(self) -> bool:
        with self._lock:
            return (
                self._holders == 0
                and not self._sinks
                and time.monotonic() - self._last_release > self._idle_stop_s
            )

    def _fail(self, message: str) -> None:
        log.warning("live source %s: %s", self.spec.label, message)
        with self._new_frame:
            self._error = message
            sinks = list(self._sinks)
            self._new_frame.notify_all()
        for sink in sinks:
            sink.put(SinkItem(None, message))

    def _read_loop(self) -> None:
        try:
            with self._opener(self.spec, loop=self.spec.loops) as source:
                self._info = source.info
                for frame in source:
                    if self._stop.is_set():
                        return
                    with self._new_frame:
                        self._frame = frame
                        sinks = list(self._sinks)
                        self._new_frame.notify_all()
                    for sink in sinks:
                        try:
                            sink.put_nowait(SinkItem(frame))
                        except queue.Full:
                            log.warning("capture queue full: frame %d dropped", frame.index)
                    if self._idle():
                        log.info("live source %s idle: released", self.spec.label)
                        return
            self._fail("the source ended: no more frames")
        except SotmeasureError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a thread must not die silently: the page shows why
            log.exception("live source %s failed", self.spec.label)
            self._fail(f"the camera failed unexpectedly ({type(exc).__name__}); see the log")
        finally:
            self._stop.set()
            with self._new_frame:
                self._new_frame.notify_all()

    def _analyse_loop(self) -> None:
        analyser: LiveAnalyser | None = None
        analyser_key: str | None = None
        try:
            last_index: int | None = None
            while not self._stop.is_set():
                started = time.monotonic()
                if self._analysis_paused.is_set():
                    self._stop.wait(0.2)
                    continue
                frame = self.wait_frame(last_index, 1.0)
                if frame is None:
                    continue
                last_index = frame.index
                with self._lock:
                    key, factory = self._setup_key, self._analyser_factory
                try:
                    if analyser is None or analyser_key != key:
                        if analyser is not None:
                            analyser.close()
                            analyser = None
                        analyser, analyser_key = factory(), key
                    reading = analyser.analyse(frame)
                except SotmeasureError as exc:
                    reading = LiveReading(frame.index, frame.t_s, SETUP_MISSING, str(exc))
                with self._lock:
                    if key == self._setup_key:  # not switched meanwhile
                        self._reading = reading
                rest = self._pose_period_s - (time.monotonic() - started)
                if rest > 0:
                    self._stop.wait(rest)
        except SotmeasureError as exc:
            with self._lock:
                self._reading = LiveReading(-1, 0.0, SETUP_MISSING, str(exc))
        except Exception:
            log.exception("live analysis of %s failed", self.spec.label)
        finally:
            if analyser is not None:
                analyser.close()


CAMERA_TAKEN = "the live camera is in use by another clinic: try again when it is free"


class LiveCameraTakenError(SotmeasureError):
    """The server's camera is in use by another clinic (HTTP 403)."""


class LiveHub:
    """The one running camera of this app, by source."""

    def __init__(
        self,
        analyser_factory: AnalyserFactory,
        *,
        pose_hz: float,
        idle_stop_s: float,
        opener: Opener = open_live,
    ) -> None:
        self._factory = analyser_factory
        self._opener = opener
        self._pose_hz = pose_hz
        self._idle_stop_s = idle_stop_s
        self._lock = threading.Lock()
        self._camera: LiveCamera | None = None

    def camera(
        self, spec: LiveSpec, clinic_id: int | None, setup: LiveSetupChoice | None = None
    ) -> LiveCamera:
        """The camera for `spec` as a user of `clinic_id` (None: an admin) may use it,
        analysing with `setup` (None: keep the running camera's setup, else the
        installation setup; a capture passes None, it does not analyse).

        The camera shows a patient of the clinic that started it: while it is busy, a user
        of another clinic is refused (LiveCameraTakenError). Otherwise a camera for another
        source or another clinic replaces (stops) the current one, so no frame of one
        clinic's patient is ever shown to another.
        """
        with self._lock:
            current = self._camera
            if current is not None and current.spec == spec and current.watchable_by(clinic_id):
                if setup is not None:
                    current.use_setup(setup)
                return current
            if current is not None and current.busy and not current.watchable_by(clinic_id):
                raise LiveCameraTakenError(CAMERA_TAKEN)
            self._camera = LiveCamera(
                spec,
                setup.factory if setup is not None else self._factory,
                pose_hz=self._pose_hz,
                idle_stop_s=self._idle_stop_s,
                opener=self._opener,
                clinic_id=clinic_id,
                setup_key=setup.key if setup is not None else INSTALLATION_SETUP,
                setup_label=setup.label if setup is not None else INSTALLATION_LABEL,
            )
        if current is not None:
            current.stop()
        return self._camera

    def current(self) -> LiveCamera | None:
        with self._lock:
            return self._camera

    def installation_setup(self) -> LiveSetupChoice:
        """The analysis with the installation setup (Settings paths)."""
        return LiveSetupChoice(INSTALLATION_SETUP, INSTALLATION_LABEL, self._factory)

    def stop_all(self) -> None:
        with self._lock:
            camera, self._camera = self._camera, None
        if camera is not None:
            camera.stop()
