"""A recording measured while it is recorded, to the same result as measuring the file later.

`live_pass` gets the recording's frames twice, as they are written (two decoded copies of
the stored bytes: capture/avi_stream.py), and runs the per-frame steps of `measure_video`
(processing/video.py) on them: the model's input (in a thread ahead of the model, as in
measure_video) and the tracking model on the first copy as frames arrive, then
`finish_frame` (refinement, gates, table-plane points, image-quality samples) on the second
copy. The caller turns the pass into a result with `result_of_pass` once the recording is
stored: the same statistics as `measure_video`. Nothing here re-implements a step; what
differs is only when each runs.

Why the finishing waits: the table pose of a measurement is estimated from frames spread
over the whole video (`table_pose_indices`: for 120 frames, frames 0, 10, ... 110), and the
refinement and the table-plane points depend on it. The tracking model depends on the pose
only through the head-up quarter turn of its input, so it starts at once with the turn of
the first frame's own pose. As soon as the last of the pose's frames is decoded, the pose
is estimated from exactly the frames a measurement of the stored file takes; the tracking
thread checks that the turn is the same, and the frames tracked so far are finished by two
threads while the model goes on (the model's outputs of up to `MAX_HELD_FRAMES` frames wait
meanwhile: ~2 MB each, the person mask). The image-quality figures are medians, so the
order in which two threads add their samples does not change them.

Every way the pass could differ from a measurement of the stored file raises
`LiveMismatchError` (another frame count than planned, hence other pose frames; another
quarter turn; copies that disagree); the caller then leaves the recording to the queued
measurement, which loses nothing but time.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sotmeasure.capture.frame import Frame
from sotmeasure.errors import SotmeasureError
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.photometry import marker_photometry
from sotmeasure.geometry.profile import CameraProfile
from sotmeasure.geometry.table_pose import TablePose
from sotmeasure.pose.photometry import Photometry
from sotmeasure.pose.pipeline import ModelInput, PosePipeline
from sotmeasure.processing.frame_step import FrameMeasurement, TableView
from sotmeasure.processing.image_motion import ImageMotion
from sotmeasure.processing.params import MeasureParams
from sotmeasure.processing.pose_pass import PREPARED_AHEAD
from sotmeasure.processing.stream import ReadAhead, StageClock, timed, yield_to_model
from sotmeasure.processing.video import (
    PosePass,
    QualitySamples,
    finish_frame,
    model_identity,
    pose_from_images,
    table_pose_indices,
)

#: Threads finishing frames (refinement, gates) once the table pose is known: the frames
#: tracked meanwhile wait for them, and after the capture only finishing is left to do.
FINISH_THREADS = 2
#: Frames tracked before the table pose is known that may wait to be finished (each holds
#: the model's person mask, ~2 MB): 5.3 s at 30 fps. A longer wait ends the live pass.
MAX_HELD_FRAMES = 160


class LiveMismatchError(SotmeasureError):
    """The live pass cannot give the stored recording's result; measure the file instead."""


@dataclass(frozen=True, slots=True)
class LivePass:
    """A finished live pass: the table pose and every frame's step, as `measure_video`
    has them just before its statistics."""

    pose: TablePose
    run: PosePass


def live_pass(
    frames: Iterable[Frame],
    again: Iterable[Frame],
    layout: TargetLayout,
    profile: CameraProfile | None,
    params: MeasureParams,
    *,
    planned_frames: int,
    size: tuple[int, int],
    should_stop: Callable[[], bool] = lambda: False,
    clock: StageClock | None = None,
) -> LivePass:
    """Measure frames as they arrive (see the module docstring).

    `frames` and `again`: the recording's frames, twice, in order (each iterated once, in
    its own reading thread here). `planned_frames`: how many frames the recording will
    hold, which fixes the table pose's frames; another count raises `LiveMismatchError` at the
    end. `should_stop()` true ends the pass with `LiveMismatchError`.
    """
    indices = table_pose_indices(planned_frames, params.pose_frames_for_table)
    if not indices:
        raise LiveMismatchError("no frames planned")
    # The helper threads yield to the model (processing/stream.py: `yield_to_model`); the
    # recorder's own thread, which made none of them, keeps its priority.
    with (
        ReadAhead(frames, clock=clock, background=True) as first_copy,
        ReadAhead(again, background=True) as second_copy,
    ):
        arriving = iter(first_copy)
        first = next(arriving, None)
        if first is None:
            raise LiveMismatchError("the recording holds no frames")
        # The first frame's own pose orients the model until the measurement's pose is known.
        guess = TableView.of(pose_from_images([first.image], layout, profile), layout)
        with guess.pipeline(params) as pipeline:
            box = _PoseBox()
            prepared = _prepared(
                pipeline, itertools.chain([first], arriving), indices, box, layout, profile, clock
            )
            with ReadAhead(prepared, ahead=PREPARED_AHEAD, background=True) as ready:
                return _run(
                    pipeline,
                    iter(ready),
                    iter(second_copy),
                    box,
                    layout,
                    params,
                    indices,
                    size,
                    should_stop,
                    clock,
                )


class _PoseBox:
    """The measurement's table pose, handed from the thread that collects its frames to
    the tracking thread (or why it could not be estimated)."""

    def __init__(self) -> None:
        self.pose: TablePose | None = None
        self.photometry: Photometry | None = None  # the markers' squares in the same frames
        self.error: BaseException | None = None
        self.ready = threading.Event()

    def take(self) -> TablePose | None:
        """The pose once it is known (raises its estimate's error), else None."""
        if not self.ready.is_set():
            return None
        if self.error is not None:
            raise self.error
        return self.pose


def _prepared(
    pipeline: PosePipeline,
    frames: Iterable[Frame],
    indices: list[int],
    box: _PoseBox,
    layout: TargetLayout,
    profile: CameraProfile | None,
    clock: StageClock | None,
) -> Iterator[tuple[Frame, ModelInput | None]]:
    """Every frame with its model input, made ahead of the model (in its own thread, as in
    measure_video); the table pose as soon as its last frame is decoded, so the frames
    tracked so far start to be finished even when the model is behind."""
    wanted = set(indices)
    images: dict[int, npt.NDArray[np.uint8]] = {}
    for frame in frames:
        if frame.index in wanted and not box.ready.is_set():
            images[frame.index] = frame.image
            if len(images) == len(indices):
                try:
                    with timed(clock, "table_pose"):
                        chosen = [images[i] for i in indices]
                        box.pose = pose_from_images(chosen, layout, profile)
                        box.photometry = marker_photometry(chosen, box.pose, layout)
                except BaseException as exc:  # raised in the tracking thread
                    box.error = exc
                images.clear()
                box.ready.set()
        inp = None
        if pipeline.estimator is not None:
            with timed(clock, "model_input"):
                inp = pipeline.model_input(frame.image)
        yield frame, inp


def _run(
    pipeline: PosePipeline,
    arriving: Iterator[tuple[Frame, ModelInput | None]],
    second: Iterator[Frame],
    box: _PoseBox,
    layout: TargetLayout,
    params: MeasureParams,
    indices: list[int],
    size: tuple[int, int],
    should_stop: Callable[[], bool],
    clock: StageClock | None,
) -> LivePass:
    n_pose = params.pose_frames_for_table
    quality = QualitySamples()
    held: deque[tuple[int, float, list[Any]]] = deque()
    finishing: deque[Future[None]] = deque()
    pose: TablePose | None = None
    input_size: tuple[int, int] | None = None
    seen = 0
    ready: deque[tuple[int, float, list[Any]]] = deque()  # tracked, the pose known
    taking = threading.Lock()
    steps: dict[int, FrameMeasurement] = {}
    order: list[int] = []

    def finish_next() -> None:
        """Finish the next frame: its two copies are paired in order under the lock, the
        work runs outside it (frames keep no state between them: PosePipeline.finish)."""
        if should_stop():
            raise LiveMismatchError("the live measurement was stopped")
        with taking:
            index, t_s, people = ready.popleft()
            frame = next(second, None)
        if frame is None or frame.index != index or frame.t_s != t_s:
            raise LiveMismatchError(f"the two copies of the recording disagree at frame {index}")
        assert pose is not None
        steps[index] = finish_frame(pipeline, pose, params, quality, frame, people, clock=clock)

    with ThreadPoolExecutor(
        FINISH_THREADS, thread_name_prefix="sotmeasure-live", initializer=yield_to_model
    ) as pool:
        try:
            for frame, inp in arriving:
                if should_stop():
                    raise LiveMismatchError("the live measurement was stopped")
                seen += 1
                order.append(frame.index)
                if inp is not None:
                    input_size = inp.turn.size
                with timed(clock, "model"):
                    people = pipeline.track(frame, inp)
                held.append((frame.index, frame.t_s, people))
                if pose is None:
                    pose = box.take()
                    if pose is not None:
                        _orient(pipeline, TableView.of(pose, layout), input_size)
                        pipeline.use_photometry(box.photometry)
                if pose is None:
                    if len(held) > MAX_HELD_FRAMES:
                        raise LiveMismatchError(
                            f"more than {MAX_HELD_FRAMES} frames waited for the table pose"
                        )
                    continue
                while held:
                    ready.append(held.popleft())
                    finishing.append(pool.submit(finish_next))
            if pose is None or table_pose_indices(seen, n_pose) != indices:
                raise LiveMismatchError(
                    f"{seen} frames were recorded, not the {indices[-1] + 1} or more planned "
                    "for the table pose's frames"
                )
            for f in finishing:
                f.result()
        finally:
            for f in finishing:
                f.cancel()
    image_motion = ImageMotion(pose, params)
    tracks = [image_motion.feed(steps[i]) for i in order if i in steps]
    if len(tracks) != seen:
        raise LiveMismatchError("not every frame was finished")
    return LivePass(
        pose, PosePass(tracks, model_identity(pipeline), quality, size, pipeline.photometry)
    )


def _orient(pipeline: PosePipeline, view: TableView, input_size: tuple[int, int] | None) -> None:
    """Give the pipeline the measurement's view, if the model's input turn stays the same."""
    if input_size is not None and pipeline.head_up_turn(
        view.caudal_dir_px, input_size
    ) != pipeline.head_up_turn(pipeline.caudal_dir_px, input_size):
        raise LiveMismatchError("the table pose turns the model's input another way")
    pipeline.orient(
        view.caudal_dir_px,
        camera_beyond_feet=view.camera_beyond_feet,
        patient_gate=view.gate,
    )
