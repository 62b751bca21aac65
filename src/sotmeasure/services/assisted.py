"""Assisted landmarks: a practitioner places the heel and PSIS points on a finished
measurement's frame; the result is recomputed from them and stored beside the automatic one.

The geometry is the measurement's own (`processing.assisted.measure_assisted`, through the
table pose the measurement used, re-estimated from the same recording and the setup version
it was measured with, or the installation setup for one without); a setup whose layout or
camera profile changed since the measurement is refused, because the
clicked pixels would be mapped through a camera that did not take the picture. Every
placement is kept; the newest is the one pages and exports show.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from sotmeasure.errors import SotmeasureError
from sotmeasure.measure.frame_values import POINT_NAMES
from sotmeasure.processing.assisted import AssistedPlanes, measure_assisted
from sotmeasure.processing.setup import demo_setup_refusal, load_files, resolve_setup
from sotmeasure.processing.video import table_pose_of_video
from sotmeasure.services.access import get_measurement
from sotmeasure.services.context import AppContext, stored_setup
from sotmeasure.services.errors import ConflictError, InvalidInputError
from sotmeasure.store.models import AssistedLandmarks, Measurement, Status, User

#: The names the page and the API use for the four clicked points, in POINT_NAMES order:
#: the hips of a measurement are, when placed by hand, the two PSIS.
ASSISTED_NAMES = ("heel_left", "heel_right", "psis_left", "psis_right")


class AssistedInput(BaseModel):
    """Four clicked points in image pixels (OpenCV: the top-left pixel's centre is 0, 0)."""

    model_config = ConfigDict(extra="forbid")

    frame_index: int = Field(ge=0)
    points_px: dict[str, tuple[float, float]]
    click_step_px: float = Field(
        gt=0, le=20, description="Image pixels per screen pixel when the points were clicked."
    )


def _check_points(body: AssistedInput, width: int, height: int) -> list[tuple[float, float]]:
    missing = [n for n in ASSISTED_NAMES if n not in body.points_px]
    unknown = sorted(set(body.points_px) - set(ASSISTED_NAMES))
    if missing or unknown:
        raise InvalidInputError(
            f"place exactly the points {', '.join(ASSISTED_NAMES)}"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    points = [body.points_px[n] for n in ASSISTED_NAMES]
    for name, (x, y) in zip(ASSISTED_NAMES, points, strict=True):
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise InvalidInputError(
                f"{name} ({x:.1f}, {y:.1f}) is outside the {width}x{height} frame"
            )
    return points


def _same_files(row: Measurement, layout_sha: str, profile_sha: str | None) -> None:
    prov: dict[str, Any] = row.provenance or {}
    used_layout = (prov.get("layout") or {}).get("sha256")
    used_profile = (prov.get("profile") or {}).get("sha256")
    if used_layout != layout_sha or used_profile != profile_sha:
        raise ConflictError(
            "the table layout or camera profile changed since this measurement: its frame "
            "cannot be mapped through today's files"
        )


def place_landmarks(
    ctx: AppContext, session: Session, user: User, measurement_id: int, body: AssistedInput
) -> AssistedLandmarks:
    """Recompute the measurement from four clicked points and store it as assisted."""
    row = get_measurement(session, user, measurement_id)
    if row.status != Status.DONE.value or row.recording is None:
        raise ConflictError("landmarks can be placed on a finished measurement with a recording")
    media = row.recording.media or {}
    width, height = int(media.get("width") or 0), int(media.get("height") or 0)
    frames = int(media.get("frame_count") or 0)
    if width <= 0 or height <= 0:
        raise ConflictError("the stored recording does not say its frame size")
    if frames and body.frame_index >= frames:
        raise InvalidInputError(f"frame {body.frame_index} is not in the recording ({frames})")
    points = _check_points(body, width, height)
    video = ctx.files.video_path(row.recording.kind, row.recording.stored_name, media)
    try:
        # the setup version the measurement used (the installation's for one without)
        files = stored_setup(ctx, row.setup_version_id) or resolve_setup(ctx.settings)
        heels = load_files(files, mode="markerless")
        psis = load_files(files, mode="stickers")
    except SotmeasureError as exc:
        raise ConflictError(str(exc)) from None
    refusal = demo_setup_refusal(video, heels)
    if refusal is not None:
        raise ConflictError(str(refusal))
    _same_files(row, heels.layout.sha256, heels.profile.sha256 if heels.profile else None)
    planes = AssistedPlanes(
        heel_plane_mm=heels.params.heel_plane_mm,
        psis_plane_mm=psis.params.hip_plane_mm,
        uncertainty_mm=psis.params.plane_uncertainty_mm,
    )
    try:
        pose = table_pose_of_video(
            video, heels.layout, heels.profile, heels.params.pose_frames_for_table
        )
        got = measure_assisted(pose, points, planes, body.click_step_px)
    except (SotmeasureError, ValueError) as exc:
        raise InvalidInputError(str(exc)) from None
    lld_low, lld_high = got.lld_ci95
    tilt_low, tilt_high = got.tilt_ci95
    placed = AssistedLandmarks(
        measurement_id=row.id,
        frame_index=body.frame_index,
        points_px={
            n: [round(x, 2), round(y, 2)] for n, (x, y) in zip(ASSISTED_NAMES, points, strict=True)
        },
        lld_mm=got.values.lld_mm,
        lld_ci95_low_mm=lld_low,
        lld_ci95_high_mm=lld_high,
        short_side=got.short_side,
        pelvic_tilt_deg=got.values.pelvic_tilt_deg,
        pelvic_tilt_ci95_low_deg=tilt_low,
        pelvic_tilt_ci95_high_deg=tilt_high,
        details={
            **got.details(),
            "point_order": list(POINT_NAMES),
            "click_step_px": body.click_step_px,
            "planes": {
                "heel_plane_mm": planes.heel_plane_mm,
                "psis_plane_mm": planes.psis_plane_mm,
                "plane_uncertainty_mm": planes.uncertainty_mm,
            },
            "automatic": {"lld_mm": row.lld_mm, "pelvic_tilt_deg": row.pelvic_tilt_deg},
        },
        placed_by_id=user.id,
    )
    session.add(placed)
    session.commit()
    return placed


def latest_assisted(session: Session, measurement_id: int) -> AssistedLandmarks | None:
    """The newest placement on a measurement, or None."""
    stmt = (
        select(AssistedLandmarks)
        .where(AssistedLandmarks.measurement_id == measurement_id)
        .order_by(AssistedLandmarks.placed_at.desc(), AssistedLandmarks.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def assisted_for(session: Session, user: User, measurement_id: int) -> AssistedLandmarks | None:
    """The newest placement on a measurement the user may see."""
    get_measurement(session, user, measurement_id)
    return latest_assisted(session, measurement_id)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_columns(m: Measurement) -> dict[str, Any]:
    """The export's assisted columns: `assisted` says whether the assisted_* numbers exist;
    the automatic numbers stay in their own columns."""
    session = object_session(m)
    a = latest_assisted(session, m.id) if session is not None else None
    return {
        "assisted": a is not None,
        "assisted_lld_mm": a.lld_mm if a else None,
        "assisted_lld_ci95_low_mm": a.lld_ci95_low_mm if a else None,
        "assisted_lld_ci95_high_mm": a.lld_ci95_high_mm if a else None,
        "assisted_pelvic_tilt_deg": a.pelvic_tilt_deg if a else None,
        "assisted_pelvic_tilt_ci95_low_deg": a.pelvic_tilt_ci95_low_deg if a else None,
        "assisted_pelvic_tilt_ci95_high_deg": a.pelvic_tilt_ci95_high_deg if a else None,
        "assisted_points_px_json": None if a is None else json.dumps(a.points_px, sort_keys=True),
        "assisted_at": _iso(a.placed_at) if a else None,
    }
