"""A clinic's setups (per room): create, read, edit as new versions, calibrate the camera,
choose one per visit; the cameras this server sees. Admins, or practitioners of the clinic.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import (
    CalibrationJobOut,
    CameraOut,
    SetupOut,
    SetupVersionOut,
    VisitOut,
)
from sotmeasure.services import setups
from sotmeasure.services.calibration_jobs import start_uploaded_calibration
from sotmeasure.services.cameras import camera_choices, default_board
from sotmeasure.services.errors import NotFoundError
from sotmeasure.services.setup_inputs import (
    SetupCreate,
    SetupUpdate,
    SetupVersionCreate,
    VisitSetupChoice,
)
from sotmeasure.services.table_check import check_table_pose, frames_of_clip
from sotmeasure.store.models import ClinicSetup, SetupVersion

router = APIRouter(tags=["setups"])


def _saved(upload: UploadFile, path: Path) -> Path:
    """An uploaded file copied to `path` (a scratch folder the caller removes)."""
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    return path


def _version_out(row: SetupVersion, *, full: bool = False) -> SetupVersionOut:
    out = SetupVersionOut.model_validate(row)
    if not full:
        out.layout_json = None
        out.profile_toml = None
    return out


def _setup_out(session: DbSession, row: ClinicSetup) -> SetupOut:
    out = SetupOut.model_validate(row)
    out.current = _version_out(setups.current_version(session, row))
    return out


@router.get("/setups", response_model=list[SetupOut])
def list_setups(
    user: ClinicalUser, session: DbSession, clinic_id: Annotated[int | None, Query()] = None
) -> list[SetupOut]:
    """The setups of the user's clinic (an admin: all, or `clinic_id`'s)."""
    return [_setup_out(session, s) for s in setups.list_setups(session, user, clinic_id)]


@router.post("/setups", response_model=SetupOut, status_code=status.HTTP_201_CREATED)
def create_setup(body: SetupCreate, ctx: Ctx, user: ClinicalUser, session: DbSession) -> SetupOut:
    """A new setup and its version 1 (layout required; numbers not sent: generic defaults)."""
    return _setup_out(session, setups.create_setup(ctx.settings, session, user, body))


@router.get("/setups/{setup_id}", response_model=SetupOut)
def read_setup(setup_id: int, user: ClinicalUser, session: DbSession) -> SetupOut:
    return _setup_out(session, setups.get_setup(session, user, setup_id))


@router.patch("/setups/{setup_id}", response_model=SetupOut)
def update_setup(
    setup_id: int, body: SetupUpdate, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> SetupOut:
    """Name, room, camera, default: no new version (no number changes)."""
    return _setup_out(session, setups.update_setup(ctx.settings, session, user, setup_id, body))


@router.get("/setups/{setup_id}/versions", response_model=list[SetupVersionOut])
def list_versions(setup_id: int, user: ClinicalUser, session: DbSession) -> list[SetupVersionOut]:
    """Every version, newest first."""
    return [_version_out(v) for v in setups.list_versions(session, user, setup_id)]


@router.post(
    "/setups/{setup_id}/versions",
    response_model=SetupVersionOut,
    status_code=status.HTTP_201_CREATED,
)
def add_version(
    setup_id: int, body: SetupVersionCreate, user: ClinicalUser, session: DbSession
) -> SetupVersionOut:
    """An edit: version n+1 with the sent changes; older versions stay as they were."""
    return _version_out(setups.add_version(session, user, setup_id, body))


@router.get("/setups/{setup_id}/versions/{version}", response_model=SetupVersionOut)
def read_version(
    setup_id: int, version: int, user: ClinicalUser, session: DbSession
) -> SetupVersionOut:
    """One version with its layout and profile texts."""
    return _version_out(setups.get_version(session, user, setup_id, version), full=True)


@router.post(
    "/setups/{setup_id}/calibration",
    response_model=CalibrationJobOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def calibrate(
    setup_id: int,
    ctx: Ctx,
    user: ClinicalUser,
    session: DbSession,
    clip: Annotated[UploadFile, File(description="A video of the ChArUco board.")],
    board: Annotated[
        UploadFile | None, File(description="Board JSON (default: the bundled 7x5 board).")
    ] = None,
    source_label: Annotated[str, Form(max_length=200)] = "an uploaded clip",
) -> CalibrationJobOut:
    """Start calibrating the camera from a ChArUco clip in the background (202); poll
    `GET /setups/{id}/calibration` until `state` is done (the profile is version n+1, with
    its quality report) or failed (`error`; nothing stored). A file that is not a readable
    video is refused at once (422); a second calibration while one runs is a 409."""
    setups.get_setup(session, user, setup_id)
    session.commit()  # no transaction held while the clip is saved
    job = start_uploaded_calibration(
        ctx.calibrations,
        ctx.settings,
        user,
        setup_id,
        clip.file,
        clip.filename,
        board.file if board is not None else None,
        default_board(),
        source_label=source_label,
    )
    return CalibrationJobOut.model_validate(job.to_dict())


@router.get("/setups/{setup_id}/calibration", response_model=CalibrationJobOut)
def calibration_job(
    setup_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> CalibrationJobOut:
    """The setup's latest calibration job in this server process (404 when none ran)."""
    setups.get_setup(session, user, setup_id)
    job = ctx.calibrations.latest(setup_id)
    if job is None:
        raise NotFoundError("calibration job")
    return CalibrationJobOut.model_validate(job.to_dict())


@router.post("/setups/{setup_id}/table-check")
def table_check(
    setup_id: int,
    ctx: Ctx,
    user: ClinicalUser,
    session: DbSession,
    clip: Annotated[UploadFile, File(description="A few seconds of the table with its markers.")],
) -> dict[str, Any]:
    """The table pose with the setup's current version: markers found, reprojection (mm),
    camera height, tilt from vertical and the oblique-view warning (nothing is stored)."""
    setups.get_setup(session, user, setup_id)
    ctx.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="table-check-", dir=ctx.settings.tmp_dir) as tmp:
        images = frames_of_clip(_saved(clip, Path(tmp) / "clip.mp4"))
    return check_table_pose(ctx.settings, session, user, setup_id, images)


@router.put("/visits/{visit_id}/setup", response_model=VisitOut)
def choose_visit_setup(
    visit_id: int, body: VisitSetupChoice, user: ClinicalUser, session: DbSession
) -> VisitOut:
    """The setup this visit's next measurements use (null: the clinic's default)."""
    return VisitOut.model_validate(setups.choose_for_visit(session, user, visit_id, body.setup_id))


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(ctx: Ctx, user: ClinicalUser) -> list[CameraOut]:
    """The cameras this server sees (with their default resolution), and the configured
    recorded stand-in if there is one."""
    return [CameraOut.model_validate(c, from_attributes=True) for c in camera_choices(ctx.settings)]
