"""Rig checks (run on an uploaded clip of the check sheets, list, status) and assisted
landmarks (place the heel and PSIS points on a measurement's frame, read the newest)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import AssistedOut, RigCheckOut, RigCheckStatusOut
from sotmeasure.services import assisted, rig_checks
from sotmeasure.services.errors import InvalidInputError, NotFoundError
from sotmeasure.services.setups import version_label
from sotmeasure.store.models import RigCheck

router = APIRouter(tags=["rig checks"])

BoxHeight = Annotated[float | None, Form(ge=0, le=1000, description="Box height, mm.")]
SetupChoice = Annotated[
    int | None,
    Form(
        description="The clinic setup to check (its current version); default: the "
        "clinic's default setup, else the installation setup."
    ),
]


def rig_check_out(row: RigCheck) -> RigCheckOut:
    """A stored check with the setup it checked named."""
    version = row.checked_version
    setup_id = None if version is None else version.setup_id
    return RigCheckOut.model_validate(
        {
            **{c: getattr(row, c) for c in RigCheckOut.model_fields if hasattr(row, c)},
            "setup_id": setup_id,
            "setup_label": version_label(version),
        }
    )


@router.post("/rig-checks", response_model=RigCheckOut, status_code=status.HTTP_201_CREATED)
def run_rig_check(
    ctx: Ctx,
    user: ClinicalUser,
    session: DbSession,
    file: Annotated[UploadFile, File(description="A clip of the check sheets on the table.")],
    heel_box_mm: BoxHeight = None,
    hip_box_mm: BoxHeight = None,
    setup_id: SetupChoice = None,
) -> RigCheckOut:
    """Measure the check sheets through a setup (`setup_id`'s current version; default: the
    clinic's default setup, else the installation setup) and store the result with the setup
    version it checked.

    Give the measured height of the box under each sheet in the clip (0: on the table top).
    """
    heights = {r: h for r, h in (("heel", heel_box_mm), ("hip", hip_box_mm)) if h is not None}
    if not heights:
        raise InvalidInputError("give heel_box_mm and/or hip_box_mm (the boxes' heights in mm)")
    row = rig_checks.run_uploaded_rig_check(
        ctx,
        session,
        user,
        file.file,
        filename=file.filename,
        heights_mm=heights,
        setup_id=setup_id,
    )
    return rig_check_out(row)


@router.get("/rig-checks", response_model=list[RigCheckOut])
def list_rig_checks(
    user: ClinicalUser, session: DbSession, setup_id: Annotated[int | None, Query()] = None
) -> list[RigCheckOut]:
    """Rig checks of the user's clinic (admins: all), newest first; `setup_id`: that
    clinic setup's only (every version)."""
    rows = rig_checks.list_rig_checks(session, user, setup_id=setup_id)
    return [rig_check_out(r) for r in rows]


@router.get("/rig-checks/status", response_model=RigCheckStatusOut)
def rig_check_status(
    ctx: Ctx,
    user: ClinicalUser,
    session: DbSession,
    setup_id: Annotated[int | None, Query()] = None,
) -> RigCheckStatusOut:
    """Due when the setup's current version (default: the clinic's default setup, else the
    installation setup) has no passing check of its own, or only one older than the period."""
    got = rig_checks.rig_check_status(session, ctx.settings, user, setup_id=setup_id)
    last = got.last_passing.id if got.last_passing else None
    version = got.setup.version if got.setup else None
    return RigCheckStatusOut(
        due=got.due,
        message=got.message,
        last_passing_id=last,
        setup_id=version.setup_id if version else None,
        setup_version=version.version if version else None,
        setup_label=version_label(version),
    )


@router.post(
    "/measurements/{measurement_id}/assisted-landmarks",
    response_model=AssistedOut,
    status_code=status.HTTP_201_CREATED,
)
def place_landmarks(
    measurement_id: int,
    body: assisted.AssistedInput,
    ctx: Ctx,
    user: ClinicalUser,
    session: DbSession,
) -> AssistedOut:
    """Recompute a finished measurement from four clicked points (stored as assisted)."""
    row = assisted.place_landmarks(ctx, session, user, measurement_id, body)
    return AssistedOut.model_validate(row)


@router.get("/measurements/{measurement_id}/assisted-landmarks", response_model=AssistedOut)
def read_landmarks(measurement_id: int, user: ClinicalUser, session: DbSession) -> AssistedOut:
    """The newest assisted placement of a measurement (404 when none)."""
    row = assisted.assisted_for(session, user, measurement_id)
    if row is None:
        raise NotFoundError("assisted landmarks")
    return AssistedOut.model_validate(row)
