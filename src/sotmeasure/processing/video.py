"""Video -> MeasurementResult: the orchestration of capture, geometry, pose and measure.

Steps: (1) read a spread of frames and estimate one table pose from the target's markers;
(2) derive the image direction of table +x (toward the feet) at the layout's centre, which
orients the pose pipeline; (3) run the pose pipeline on every frame; (4) map heel pixels to
the heel plane and hip pixels to the hip plane (table mm) and compute the frame values;
(5) gate motion and choose the stillest window; (6) window statistics, error budget and
provenance. Every failure a user can act on is a MeasurementError (exit code 2).

Step 1 is a short pass of its own (it decodes up to the last frame it uses, ArUco on 8 of
them; the frames between are decoded but never converted to images), while the tracking
model loads in a thread (`_EstimatorAhead`); step 3 streams the video once more through
overlapping stages (`_track`). Orienting
step 3 by the first frames' pose instead, to decode only once, moved LLD by up to 0.19 mm on
bench/robustness.py's changed images: more than the 0.1 mm the numbers may move (issue 15).
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import closing, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sotmeasure import __version__
from sotmeasure.capture import CaptureError
from sotmeasure.capture.frame import Frame
from sotmeasure.capture.open import open_source
from sotmeasure.geometry.errors import GeometryError
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.photometry import marker_photometry
from sotmeasure.geometry.profile import CameraProfile
from sotmeasure.geometry.table_pose import TablePose, estimate_table_pose
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.frame_values import named_points
from sotmeasure.measure.result import FrameRecord, MeasurementResult, assemble_result
from sotmeasure.measure.window import (
    REASON_MOVING,
    StillWindow,
    body_motion_mm,
    choose_still_window,
    frame_motion_mm,
    longest_found_stretch_s,
    nth_largest,
    smoothed_image_motion,
    with_steady_hip_width,
)
from sotmeasure.pose.estimator import PoseEstimator
from sotmeasure.pose.photometry import Photometry
from sotmeasure.pose.pipeline import PosePipeline, tracking_estimator
from sotmeasure.pose.quality import RejectionKind
from sotmeasure.pose.types import Landmark
from sotmeasure.processing import pose_pass
from sotmeasure.processing.budget import error_components
from sotmeasure.processing.covered_hips import hand_during_window, with_hand_named
from sotmeasure.processing.feet_placement import FeetPlacement, with_feet_advice
from sotmeasure.processing.frame_step import (
    FrameMeasurement,
    TableView,
    map_frame,
)
from sotmeasure.processing.heel_refusal import larger_other_rejection, unreliable_heels
from sotmeasure.processing.image_motion import ImageMotion, point_patches
from sotmeasure.processing.image_quality import (
    QualityLimits,
    RegionQuality,
    median_quality,
    quality_report,
    region_quality,
)
from sotmeasure.processing.kept_frames import KeptFrames
from sotmeasure.processing.opencv_threads import opencv_on_one_thread
from sotmeasure.processing.params import MeasureParams
from sotmeasure.processing.pose_pass import Tracked
from sotmeasure.processing.stream import StageClock, timed
from sotmeasure.provenance import sha256_file

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: progress(done, total, what): called once per processed frame (total may be 0 if unknown).
Progress = Callable[[int, int, str], None]

#: Image quality is sampled on every this-many-th frame (a window median needs no more).
_QUALITY_EVERY = 5
_QUALITY_LANDMARKS = (
    Landmark.LEFT_HEEL,
    Landmark.RIGHT_HEEL,
    Landmark.LEFT_HIP,
    Landmark.RIGHT_HIP,
)
#: Without a frame count, the table pose uses the first frames this many apart.
_UNKNOWN_LENGTH_STEP = 5


@dataclass(frozen=True, slots=True)
class _TableFindings:
    """What the table pose pass finds (see `_table_pose`)."""

    pose: TablePose
    #: The first frame's own pose: it places the table zone (TableView.of), as in the live
    #: measurement of a capture, which knows only that frame when the model starts.
    first_frame_pose: TablePose
    size: tuple[int, int]
    total: int | None
    photometry: Photometry | None


def _table_pose(
    video: Path, layout: TargetLayout, profile: CameraProfile | None, n_frames: int
) -> _TableFindings:
    """One table pose from up to `n_frames` frames spread over the video, and the markers'
    white and black levels in a few of the same frames (exposure, white balance).

    Only the chosen frames are kept: with a known frame count they are spread over the
    whole clip; without one (some containers), the first `n_frames` frames a few apart are
    used, so memory never grows with the video's length.
    """
    with open_source(video) as src:
        info = src.info
        total = info.frame_count
        step = table_pose_step(total, n_frames)
        # The frames between are decoded (the decoder needs them) but never converted.
        chosen = (f.image for f in src.frames_where(lambda i: i % step == 0))
        images = list(itertools.islice(chosen, n_frames))
    if not images:
        raise MeasurementError(f"{video.name}: the video has no frames")
    pose = pose_from_images(images, layout, profile)
    try:
        first = pose_from_images(images[:1], layout, profile)
    except MeasurementError:  # too few markers in frame 0 (the live path would not run)
        first = pose
    return _TableFindings(
        pose, first, (info.width, info.height), total, marker_photometry(images, pose, layout)
    )


def table_pose_step(total: int | None, n_frames: int) -> int:
    """Every how many frames the table pose takes one (the first `n_frames` such)."""
    return max(1, total // n_frames) if total else _UNKNOWN_LENGTH_STEP


def table_pose_indices(total: int, n_frames: int) -> list[int]:
    """The frames of a `total`-frame video the table pose is estimated from."""
    step = table_pose_step(total, n_frames)
    return [i for i in range(0, total, step)][:n_frames]


def pose_from_images(
    images: list[npt.NDArray[np.uint8]], layout: TargetLayout, profile: CameraProfile | None
) -> TablePose:
    """The table pose of the chosen frames; a failure is a MeasurementError."""
    try:
        return estimate_table_pose(images, layout, profile)
    except GeometryError as exc:
        raise MeasurementError(str(exc)) from None


@dataclass
class QualitySamples:
    """Image quality at the heels and hips, sampled every few frames (rejected ones too:
    a refusal must be able to say that the image, not the patient, was the problem), and
    where the heels lay on the table (a heel refusal's advice: processing/feet_placement.py)."""

    heels: list[RegionQuality] = field(default_factory=list)
    hips: list[RegionQuality] = field(default_factory=list)
    feet: FeetPlacement = field(default_factory=FeetPlacement)

    def add(
        self, frame: Frame, step: FrameMeasurement, pose: TablePose, params: MeasureParams
    ) -> None:
        pts = step.px
        if pts is None:
            lm = step.points.landmarks
            if lm is None:
                return
            pts = np.array([lm.px(k) for k in _QUALITY_LANDMARKS], dtype=np.float64)
        z_heel = params.heel_plane_mm if pose.supports_height else 0.0
        z_hip = params.hip_plane_mm if pose.supports_height else 0.0
        self.feet.add_heels_px(pose, pts[:2], params.heel_plane_mm)
        for sink, sel, z in ((self.heels, slice(0, 2), z_heel), (self.hips, slice(2, 4), z_hip)):
            scale = float(np.mean(pose.mm_per_px(pts[sel], z)))
            q = region_quality(frame.image, pts[sel], scale) if np.isfinite(scale) else None
            if q is not None:
                sink.append(q)

    def report(self) -> dict[str, Any]:
        return quality_report(
            median_quality(self.heels), median_quality(self.hips), QualityLimits()
        )


@dataclass
class PosePass:
    """The pose pass: every frame measured, the model's identity, image-quality samples."""

    tracks: Sequence[FrameMeasurement]  # KeptFrames: memory does not grow with the video
    model: dict[str, str | None]
    quality: QualitySamples
    size: tuple[int, int]
    #: The table markers' white and black levels (None: no marker cell could be read).
    photometry: Photometry | None = None


def model_identity(pipeline: PosePipeline) -> dict[str, str | None]:
    """The model a pose pass ran, as its provenance names it."""
    est = pipeline.estimator
    if est is None:
        return {"name": "sticker colour detection (no pose model)", "sha256": None}
    return {"name": est.model_name, "sha256": est.model_sha256}


def _track(
    video: Path,
    layout: TargetLayout,
    profile: CameraProfile | None,
    params: MeasureParams,
    progress: Progress | None,
    clock: StageClock | None,
    overlap: bool = True,
) -> tuple[TablePose, PosePass]:
    """The table pose (its own short pass), then the pose pass over every frame.

    The pose pass streams: decoding, the model's input, the model (in frame order) and the
    refinement overlap in threads joined by short queues (processing/stream.py), so at
    most a few frames are held at any time; results are those of a serial run. With
    `overlap=False` every stage runs in the caller's thread, one frame after the other
    (and the model loads after the table pose, not beside it): the same steps in the same
    order, so the same numbers, on one core (bench/batch_scale.py --overlap off).
    """
    with _EstimatorAhead(params, in_thread=overlap) as loading:
        with timed(clock, "table_pose"):
            found = _table_pose(video, layout, profile, params.pose_frames_for_table)
        estimator = loading.take()
    pose, size, total, photometry = found.pose, found.size, found.total, found.photometry
    view = TableView.of(pose, layout, zone_pose=found.first_frame_pose)
    tracks = KeptFrames()
    quality = QualitySamples()
    with view.pipeline(params, estimator, photometry) as pipeline, open_source(video) as src:
        model = model_identity(pipeline)
        image_motion = ImageMotion(pose, params)

        def finish(item: Tracked) -> FrameMeasurement:
            """Everything after the model, the image motion included: it runs behind the
            model, in frame order, so the model's thread does only the model (~1.8 ms a
            frame less on it at 720p)."""
            step = finish_frame(pipeline, pose, params, quality, *item, clock=clock)
            return image_motion.feed(step)

        # closing(): on an error (or a progress callback raising), the worker and the
        # decoding threads are stopped here, before the pipeline and the source close.
        run = pose_pass.overlapped if overlap else pose_pass.in_turn
        with closing(run(src, pipeline, finish, clock)) as results:
            for step in results:
                tracks.append(step)
                if progress is not None:
                    progress(len(tracks), total or 0, "pose")
    return pose, PosePass(tracks, model, quality, size, photometry)


class _EstimatorAhead:
    """The tracking model loaded in a thread while the table pose is estimated.

    Loading it (the mediapipe import, the model) is ~1 s of a 4 s measurement and needs
    nothing from the table pose; the table pose's pass (decoding, ArUco: native code that
    releases the GIL) runs meanwhile. `take()` hands the estimator over (the pipeline then
    owns it); leaving the block without taking it (the table pose failed) closes it. The
    thread then imports what the statistics will need (scipy.special, ~0.2 s), while the
    pose pass runs, instead of after it.
    """

    def __init__(self, params: MeasureParams, in_thread: bool = True) -> None:
        self._future: Future[PoseEstimator] | None = None
        self._in_thread = in_thread
        if params.mode == "markerless":
            self._future = Future()
            if in_thread:
                threading.Thread(
                    target=_load_estimator, args=(self._future,), name="sotmeasure-model-load"
                ).start()

    def take(self) -> PoseEstimator | None:
        future, self._future = self._future, None
        if future is None:
            return None
        if not self._in_thread:  # loaded now, in the caller's thread
            _load_estimator(future)
        return future.result()

    def __enter__(self) -> _EstimatorAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        future, self._future = self._future, None
        if future is None or not (self._in_thread or future.done()):
            return  # nothing was loaded
        if future.exception() is None:  # waits for a load still running in its thread
            future.result().close()


def _load_estimator(future: Future[PoseEstimator]) -> None:
    try:
        future.set_result(tracking_estimator())
    except BaseException as exc:  # raised in the measurement's thread by take()
        future.set_exception(exc)
        return
    importlib.import_module("scipy.special")  # measure/statistics.py imports it when used


def finish_frame(
    pipeline: PosePipeline,
    pose: TablePose,
    params: MeasureParams,
    quality: QualitySamples,
    frame: Frame,
    people: list[Any],
    *,
    clock: StageClock | None = None,
) -> FrameMeasurement:
    """The per-frame step after the model (`pipeline.track`): refinement and gates, the
    points on the table planes, an image-quality sample every few frames. measure_video
    finishes frames in order, one at a time; the live measurement of a capture two at a
    time (a frame's step depends on no other frame; the quality figures are medians)."""
    with timed(clock, "refinement"):
        step = map_frame(pipeline.finish(frame, people), pose, params)
        if step.px is not None:
            step = replace(step, patches=point_patches(frame.image, step.px))
        if frame.index % _QUALITY_EVERY == 0:
            quality.add(frame, step, pose, params)
    return step


def _frame_rejection(track: FrameMeasurement, moving: bool) -> str | None:
    """The sentence stored with a frame: the pipeline's rejection, else the motion gate's."""
    if track.rejection is not None:
        return track.rejection.text
    return REASON_MOVING if moving else None


def _too_few_frames(
    tracks: Sequence[FrameMeasurement], params: MeasureParams
) -> tuple[MeasurementError, tuple[str, ...]]:
    """The refusal for too few usable frames, with the regions whose image quality could
    explain its most common rejection (see `_with_image_problems`): none for a hand on the
    pelvis, which no blur explains."""
    rejections = [t.rejection for t in tracks if t.rejection is not None]
    usable = sum(t.mm is not None for t in tracks)
    regions: tuple[str, ...] = ("heels", "hips")
    top, count = "no frames", 0
    if rejections:
        top, count = Counter(r.text for r in rejections).most_common(1)[0]
        regions = _regions_behind(next(r.kind for r in rejections if r.text == top))
    error = MeasurementError(
        f"too few usable frames ({usable} of {len(tracks)}): {count} rejected because {top}; "
        f"a measurement needs {params.window_s:.1f} s of still frames with the patient's hips "
        "and heels in view"
    )
    return error, regions


def _gaps_break_every_window(
    tracks: Sequence[FrameMeasurement],
    t: FloatArray,
    found: npt.NDArray[np.bool_],
    params: MeasureParams,
) -> tuple[MeasurementError, tuple[str, ...]] | None:
    """A refusal when rejected frames cut every stretch shorter than the window, with the
    regions whose image quality could explain the rejection (see `_with_image_problems`).

    Then no window exists whatever the motion, and "no still stretch" would blame a patient
    who may have lain still (a person beside the table taken by the model for half the
    clip): the refusal names why the frames in the gaps were rejected.
    """
    longest = longest_found_stretch_s(t, found, params.motion().max_gap_s)
    if longest >= params.window_s - 1e-6:
        return None
    rejections = [tr.rejection for tr in tracks if tr.rejection is not None]
    if not rejections:
        return None
    top, count = Counter(r.text for r in rejections).most_common(1)[0]
    kind = next(r.kind for r in rejections if r.text == top)
    error = MeasurementError(
        f"no {params.window_s:.1f} s stretch in which the patient was found in every frame "
        f"(the longest is {longest:.1f} s): {count} of {len(tracks)} frames were rejected "
        f"because {top}; a measurement needs {params.window_s:.1f} s of consecutive frames "
        "with the patient's hips and heels found"
    )
    return error, _regions_behind(kind)


def _regions_behind(kind: RejectionKind) -> tuple[str, ...]:
    """The regions whose image quality can cause a frame rejection of this kind: none when
    the rejection is about who is in view (a second person, nobody lying on the table, a
    hand on the pelvis), which no image figure explains."""
    if kind in (
        RejectionKind.NO_PATIENT_ON_TABLE,
        RejectionKind.TWO_ON_TABLE,
        RejectionKind.HAND_ON_PELVIS,
    ):
        return ()
    if kind.is_heel_failure or kind in (
        RejectionKind.HEELS_HIDDEN,
        RejectionKind.HEELS_OUT_OF_FRAME,
        RejectionKind.HEEL_STICKERS,
    ):
        return ("heels",)
    if kind in (RejectionKind.HIPS_NOT_VISIBLE, RejectionKind.PSIS_STICKERS):
        return ("hips",)
    return ("heels", "hips")


def measure_video(
    video: str | Path,
    layout: TargetLayout,
    profile: CameraProfile | None,
    params: MeasureParams,
    progress: Progress | None = None,
    demo_calibration: bool = False,
    clock: StageClock | None = None,
    overlap: bool = True,
) -> MeasurementResult:
    """Measure LLD and pelvic tilt on the stillest window of a video (see module docstring).

    `clock`, if given, adds up the time spent per stage (bench/pose_speed.py).
    `overlap=False` runs the stages one after the other in this thread instead of
    overlapping them in threads, and OpenCV's own thread pool is off meanwhile: the same
    numbers, on one core (see `_track` and processing/opencv_threads.py)."""
    path = Path(video)
    with nullcontext() if overlap else opencv_on_one_thread():
        try:
            pose, run = _track(path, layout, profile, params, progress, clock, overlap)
        except CaptureError as exc:
            raise MeasurementError(f"cannot read {path.name}: {exc}") from None
        return result_of_pass(path, layout, profile, params, demo_calibration, pose, run, clock)


def result_of_pass(
    path: Path,
    layout: TargetLayout,
    profile: CameraProfile | None,
    params: MeasureParams,
    demo_calibration: bool,
    pose: TablePose,
    run: PosePass,
    clock: StageClock | None = None,
) -> MeasurementResult:
    """The result of a pose pass over the video at `path` (window, statistics, error
    budget, provenance); the live measurement of a capture ends here too."""
    with timed(clock, "statistics"):
        return _result(path, layout, profile, params, demo_calibration, pose, run)


def _result(
    path: Path,
    layout: TargetLayout,
    profile: CameraProfile | None,
    params: MeasureParams,
    demo_calibration: bool,
    pose: TablePose,
    run: PosePass,
) -> MeasurementResult:
    tracks, size, model, quality = run.tracks, run.size, run.model, run.quality

    t = np.array([tr.t_s for tr in tracks], dtype=np.float64)
    pts = np.full((len(tracks), 4, 2), np.nan)
    for k, tr in enumerate(tracks):
        if tr.mm is not None:
            pts[k] = tr.mm[:, :2]
    unreliable = unreliable_heels(tracks)
    if unreliable is not None:
        regions: tuple[str, ...] = ("heels",)
        other = larger_other_rejection(tracks)
        if other is not None:
            rejection, count = other
            unreliable = MeasurementError(
                f"{count} of {len(tracks)} frames were rejected because {rejection}; "
                f"and {unreliable}"
            )
            regions = _regions_behind(rejection.kind)
        unreliable = with_feet_advice(unreliable, quality.feet, layout)
        raise _with_image_problems(unreliable, quality, cause_at=regions)
    min_frames = max(2, round(params.window_s / 2 * _fps(t)))
    if int(np.sum(np.all(np.isfinite(pts), axis=(1, 2)))) < min_frames:
        too_few, regions = _too_few_frames(tracks, params)
        too_few = with_feet_advice(too_few, quality.feet, layout)
        raise _with_image_problems(too_few, quality, cause_at=regions)
    gaps = _gaps_break_every_window(tracks, t, np.all(np.isfinite(pts), axis=(1, 2)), params)
    if gaps is not None:
        error, regions = gaps
        raise _with_image_problems(error, quality, cause_at=regions)
    steady = with_steady_hip_width(pts)  # motion of the body, not of the model's hip width
    landmark_motion = frame_motion_mm(t, steady, params.motion())
    image_motion = np.array(
        [np.full(4, np.nan) if tr.image_motion_mm is None else tr.image_motion_mm for tr in tracks],
        dtype=np.float64,
    ).reshape(len(tracks), 4)
    motion = body_motion_mm(t, steady, image_motion, params.motion(), landmark_motion)
    try:
        window = _still_window(
            t, steady, motion, params, rank=landmark_motion, image_motion=image_motion
        )
    except MeasurementError as exc:
        raise _with_image_problems(with_hand_named(exc, tracks), quality) from None
    covered = hand_during_window(tracks, window)
    if covered is not None:
        raise _with_image_problems(covered, quality)

    records: list[FrameRecord] = []
    for k, tr in enumerate(tracks):
        moving = bool(np.isfinite(motion[k]) and motion[k] > window.threshold_mm)
        records.append(
            FrameRecord(
                index=tr.index,
                t_s=tr.t_s,
                values=tr.values,
                rejection=tr.rejection.text
                if tr.rejection
                else (REASON_MOVING if moving else None),
                motion_mm=None if not np.isfinite(motion[k]) else float(motion[k]),
            )
        )
    in_window = [
        k
        for k in range(window.first, window.last + 1)
        if tracks[k].px is not None and records[k].rejection is None
    ]
    window_px = np.median(np.stack([tracks[k].px for k in in_window]), axis=0)  # type: ignore[misc]
    refined_flags = [f for k in in_window for f in (tracks[k].heel_refined or ())]
    refined_share = float(np.mean(refined_flags)) if refined_flags else 0.0
    hip_flags = [tracks[k].hip_refined for k in in_window]
    hip_refined_share = float(np.mean([bool(f) for f in hip_flags])) if hip_flags else 0.0
    lld_window = float(np.median([records[k].values.lld_mm for k in in_window]))  # type: ignore[union-attr]
    components = error_components(
        pose,
        window_px,
        mode=params.mode,
        heel_plane_mm=params.heel_plane_mm,
        hip_plane_mm=params.hip_plane_mm,
        plane_uncertainty_mm=params.plane_uncertainty_mm,
        lld_mm=lld_window,
        refined_share=refined_share,
        image_size=size,
        hip_landmark_u_mm=params.hip_landmark_u_mm,
        hip_refined_share=hip_refined_share,
        unseen_obliquity_deg=params.unseen_pelvic_obliquity_deg,
    )
    provenance = _provenance(path, layout, profile, pose, params, model)
    provenance["image_quality"] = quality.report()
    if run.photometry is not None:
        provenance["image_quality"]["marker_reference"] = run.photometry.to_dict()
    if demo_calibration:
        provenance["demo_calibration"] = (
            "measured with the bundled demo calibration (the rendered test rig's camera "
            "and plane heights), valid only for the bundled demo recordings"
        )
    return assemble_result(
        frames=records,
        window=window,
        components=components,
        calibration=pose.calibration,
        mode=params.mode,
        provenance=provenance,
        window_points_px=named_points(window_px),
    )


def _with_image_problems(
    exc: MeasurementError, quality: QualitySamples, *, cause_at: tuple[str, ...] = ()
) -> MeasurementError:
    """The refusal, with what the image-quality figures say is wrong, if anything.

    `cause_at`: the regions ("heels", "hips") whose points the image could not show. A
    measured problem in one of them (blur, low contrast, exposure, noise) is the cause and
    the failed points its symptom, so the sentence leads with it; problems elsewhere (low
    contrast at the hips does not hide a heel) follow, as for a refusal for motion (a blurred
    image does not make a patient move).
    """
    problems = quality.report()["problems"]
    if not problems:
        return exc
    causes = [p for p in problems if any(f" at the {region} " in p for region in cause_at)]
    others = [p for p in problems if p not in causes]
    text = str(exc)
    if causes:
        text = f"the image is not good enough: {'; '.join(causes)}; so {text}"
    if others:
        text = f"{text}; the image: {'; '.join(others)}"
    return MeasurementError(text)


#: Named cause when the hips lay still but the heel points would not settle.
REFUSE_HEELS_UNSTEADY = (
    "the heels could not be located steadily while the hips lay still (the heel points "
    "jumped by more than the motion threshold): something may cover or touch the feet, "
    "another person may be at the feet, or the image is not sharp at the heels; nobody "
    "needs to have moved"
)


#: Named cause when the image shows a still patient but neither pair of points settled.
REFUSE_POINTS_UNSTEADY = (
    "the image shows the patient lying still, but the heel and hip points could not be "
    "located steadily (they jumped by more than the motion threshold): another person near "
    "the patient, something covering the feet or hips, or a dark, flat or blurred image may "
    "confuse the pose model; nobody needs to have moved"
)


#: Named cause when the heels lay still but the hip points would not settle.
REFUSE_HIPS_UNSTEADY = (
    "the hips could not be located steadily while the heels lay still (the hip points "
    "jumped by more than the motion threshold): another person may be beside the hips or "
    "something may cover them, the image may be too dark or flat at the hips, or the patient "
    "shifted the pelvis; record again with the hips uncovered and nobody beside them"
)


def _still_window(
    t: FloatArray,
    pts: FloatArray,
    motion: FloatArray,
    params: MeasureParams,
    rank: FloatArray | None = None,
    image_motion: FloatArray | None = None,
) -> StillWindow:
    """The stillest window; a refusal names the real cause.

    The motion gate watches all four points, so unsteady heel points (covered or touched
    feet, blur at the heels) or unsteady hip points (a person beside the hips, a dark or
    flat image there) look like a moving patient. When one pair alone was still long
    enough, the refusal names the other pair as the one that would not settle; only when
    neither pair was still did the patient move.
    """
    try:
        return choose_still_window(t, motion, params.motion(), rank_mm=rank)
    except MeasurementError as moving:
        one_pair = replace(params.motion(), points_moving=1)
        hips, heels = slice(2, 4), slice(0, 2)
        for pair, named in ((hips, REFUSE_HEELS_UNSTEADY), (heels, REFUSE_HIPS_UNSTEADY)):
            try:
                pair_motion = (
                    frame_motion_mm(t, pts[:, pair], one_pair)
                    if image_motion is None
                    else body_motion_mm(t, pts[:, pair], image_motion[:, pair], one_pair)
                )
                choose_still_window(t, pair_motion, one_pair)
            except MeasurementError:
                continue  # this pair moved too
            raise MeasurementError(named) from None
        if image_motion is not None and _image_was_still(t, image_motion, params):
            raise MeasurementError(REFUSE_POINTS_UNSTEADY) from None
        raise moving from None  # neither pair lay still: the patient really moved


def _image_was_still(t: FloatArray, image_motion: FloatArray, params: MeasureParams) -> bool:
    """Whether the image alone (where it could tell at three points or more) shows a
    still stretch as long as the window: then the points, not the patient, moved."""
    seen = smoothed_image_motion(image_motion)
    enough = np.sum(np.isfinite(seen), axis=1) >= 3
    per_frame = np.where(enough, nth_largest(seen, params.motion().points_moving), np.nan)
    try:
        choose_still_window(t, per_frame, params.motion())
    except MeasurementError:
        return False
    return True


def _fps(t: FloatArray) -> float:
    if t.size < 2:
        return 30.0
    dt_s = float(np.median(np.diff(t)))
    return 1.0 / dt_s if dt_s > 0 else 30.0


def _provenance(
    video: Path,
    layout: TargetLayout,
    profile: CameraProfile | None,
    pose: TablePose,
    params: MeasureParams,
    model: dict[str, str | None],
) -> dict[str, Any]:
    """Everything needed to trace and reproduce the numbers (MEASUREMENT.md: Provenance)."""
    return {
        "software_version": __version__,
        "measured_at_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": model,
        "video": {"name": video.name, "sha256": sha256_file(video)},
        "layout": {"name": layout.name, "sha256": layout.sha256},
        "profile": None if profile is None else {"name": profile.name, "sha256": profile.sha256},
        "table_pose": {
            "calibration": pose.calibration,
            "reprojection_px": round(pose.reprojection_px, 4),
            "reprojection_mm": round(pose.reprojection_mm, 4),
            "markers_used": list(pose.markers_used),
        },
        "parameters": params.to_dict(),
    }


def table_pose_of_video(
    video: Path, layout: TargetLayout, profile: CameraProfile | None, n_frames: int
) -> TablePose:
    """The table pose a measurement of `video` uses (the same frames, the same estimate):
    assisted landmarks are mapped through it."""
    return _table_pose(video, layout, profile, n_frames).pose
