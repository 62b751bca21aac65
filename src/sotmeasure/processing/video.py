"""Video -> MeasurementResult: the orchestration of capture, geometry, pose and measure.

Steps: (1) read a spread of frames and estimate one table pose from the target's markers;
(2) derive the image direction of table +x (toward the feet) at the layout's centre, which
orients the pose pipeline; (3) run the pose pipeline on every frame; (4) map heel pixels to
the heel plane and hip pixels to the hip plane (table mm) and compute the frame values;
(5) gate motion and choose the stillest window; (6) window statistics, error budget and
provenance. Every failure a user can act on is a MeasurementError (exit code 2).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sotmeasure import __version__
from sotmeasure.capture import CaptureError
from sotmeasure.capture.open import open_source
from sotmeasure.geometry.errors import GeometryError
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.profile import CameraProfile
from sotmeasure.geometry.table_pose import TablePose, estimate_table_pose
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.frame_values import frame_values
from sotmeasure.measure.result import FrameRecord, MeasurementResult, assemble_result
from sotmeasure.measure.window import REASON_MOVING, choose_still_window, frame_motion_mm
from sotmeasure.pose.pipeline import PosePipeline
from sotmeasure.processing.budget import error_components, map_points
from sotmeasure.processing.params import MeasureParams
from sotmeasure.provenance import sha256_file

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: progress(done, total, what): called once per processed frame (total may be 0 if unknown).
Progress = Callable[[int, int, str], None]

POINT_NAMES = ("heel_left", "heel_right", "hip_left", "hip_right")


@dataclass(frozen=True, slots=True)
class _Track:
    """Per-frame outcome of the pose pipeline, in pixels and table mm."""

    index: int
    t_s: float
    px: FloatArray | None  # (4, 2)
    mm: FloatArray | None  # (4, 3)
    rejection: str | None
    heel_refined: tuple[bool, bool] | None


def _table_pose(
    video: Path, layout: TargetLayout, profile: CameraProfile | None, n_frames: int
) -> tuple[TablePose, tuple[int, int], int | None]:
    """One table pose from up to `n_frames` frames spread over the video."""
    with open_source(video) as src:
        info = src.info
        total = info.frame_count
        step = max(1, (total or n_frames) // n_frames)
        images = [f.image for f in src if f.index % step == 0][:n_frames]
    if not images:
        raise MeasurementError(f"{video.name}: the video has no frames")
    try:
        pose = estimate_table_pose(images, layout, profile)
    except GeometryError as exc:
        raise MeasurementError(str(exc)) from None
    return pose, (info.width, info.height), total


def _caudal_direction(pose: TablePose, layout: TargetLayout) -> FloatArray:
    """Image direction of table +x (head -> feet) at the centre of the layout's markers."""
    centre = np.mean(np.concatenate(list(layout.markers.values())), axis=0)
    centre_px = pose.table_to_pixel(np.array([[centre[0], centre[1], 0.0]]))[0]
    return np.asarray(pose.table_direction_px(centre_px, (1.0, 0.0)), dtype=np.float64)


def _camera_beyond_feet(pose: TablePose, layout: TargetLayout) -> bool:
    """An oblique camera placed beyond the foot end (past the layout's most caudal marker):
    the pose pipeline then keeps heels as raw landmarks (it cannot see their caudal edge)."""
    if not pose.supports_height:
        return False
    max_x = max(float(np.max(c[:, 0])) for c in layout.markers.values())
    return bool(pose.camera_position_mm[0] > max_x)


def _track(
    video: Path,
    pose: TablePose,
    caudal_dir_px: FloatArray,
    beyond_feet: bool,
    params: MeasureParams,
    progress: Progress | None,
    total: int | None,
) -> tuple[list[_Track], dict[str, str | None]]:
    """Run the pose pipeline over every frame; returns the tracks and the model identity."""
    tracks: list[_Track] = []
    pipeline = PosePipeline(params.mode, caudal_dir_px, camera_beyond_feet=beyond_feet)
    with pipeline, open_source(video) as src:
        est = pipeline.estimator
        model: dict[str, str | None] = (
            {"name": est.model_name, "sha256": est.model_sha256}
            if est is not None
            else {"name": "sticker colour detection (no pose model)", "sha256": None}
        )
        for frame in src:
            fp = pipeline.process(frame)
            if fp.points is None:
                tracks.append(_Track(fp.index, fp.t_s, None, None, fp.rejection, None))
            else:
                b = fp.points
                px = np.array(
                    [b.heel_left_px, b.heel_right_px, b.hip_left_px, b.hip_right_px],
                    dtype=np.float64,
                )
                mm = map_points(pose, px, params.heel_plane_mm, params.hip_plane_mm)
                if not np.all(np.isfinite(mm)):
                    tracks.append(
                        _Track(fp.index, fp.t_s, px, None, "point not on the table plane", None)
                    )
                    continue
                refined = tuple(
                    str(b.heel_status.get(side, "")).startswith("refined")
                    for side in ("left", "right")
                )
                tracks.append(_Track(fp.index, fp.t_s, px, mm, None, (refined[0], refined[1])))
            if progress is not None:
                progress(len(tracks), total or 0, "pose")
    return tracks, model


def _too_few_frames(tracks: list[_Track], params: MeasureParams) -> MeasurementError:
    reasons = Counter(t.rejection for t in tracks if t.rejection is not None)
    usable = sum(t.mm is not None for t in tracks)
    top, count = reasons.most_common(1)[0] if reasons else ("no frames", 0)
    return MeasurementError(
        f"too few usable frames ({usable} of {len(tracks)}): {count} rejected because {top}; "
        f"a measurement needs {params.window_s:.1f} s of still frames with the patient's hips "
        "and heels in view"
    )


def measure_video(
    video: str | Path,
    layout: TargetLayout,
    profile: CameraProfile | None,
    params: MeasureParams,
    progress: Progress | None = None,
) -> MeasurementResult:
    """Measure LLD and pelvic tilt on the stillest window of a video (see module docstring)."""
    path = Path(video)
    try:
        pose, size, total = _table_pose(path, layout, profile, params.pose_frames_for_table)
        caudal = _caudal_direction(pose, layout)
        tracks, model = _track(
            path, pose, caudal, _camera_beyond_feet(pose, layout), params, progress, total
        )
    except CaptureError as exc:
        raise MeasurementError(f"cannot read {path.name}: {exc}") from None

    t = np.array([tr.t_s for tr in tracks], dtype=np.float64)
    pts = np.full((len(tracks), 4, 2), np.nan)
    for k, tr in enumerate(tracks):
        if tr.mm is not None:
            pts[k] = tr.mm[:, :2]
    min_frames = max(2, round(params.window_s / 2 * _fps(t)))
    if int(np.sum(np.all(np.isfinite(pts), axis=(1, 2)))) < min_frames:
        raise _too_few_frames(tracks, params)
    motion = frame_motion_mm(t, pts, params.motion())
    window = choose_still_window(t, motion, params.motion())

    records: list[FrameRecord] = []
    for k, tr in enumerate(tracks):
        moving = bool(np.isfinite(motion[k]) and motion[k] > window.threshold_mm)
        rejection = tr.rejection or (REASON_MOVING if moving else None)
        values = None
        if tr.mm is not None:
            values = frame_values(tr.mm[0], tr.mm[1], tr.mm[2], tr.mm[3])
        records.append(
            FrameRecord(
                index=tr.index,
                t_s=tr.t_s,
                values=values,
                rejection=rejection,
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
    )
    provenance = _provenance(path, layout, profile, pose, params, model)
    return assemble_result(
        frames=records,
        window=window,
        components=components,
        calibration=pose.calibration,
        mode=params.mode,
        provenance=provenance,
        window_points_px={
            name: (float(window_px[i, 0]), float(window_px[i, 1]))
            for i, name in enumerate(POINT_NAMES)
        },
    )


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
