"""Upload a video or a zipped recording to a visit and phase; read recording metadata.

The upload is checked by opening it, stored content-addressed (see store.recording_files),
and a `pending` measurement is committed in the same transaction as the recording row;
the background worker picks it up. Answer: 202 with the measurement to poll.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession, clinic_scope, get_visit, not_found
from sotmeasure.api.schemas import MeasurementOut, RecordingOut
from sotmeasure.store.models import Measurement, Patient, Phase, Recording, User, Visit
from sotmeasure.store.queueing import BlockingNotes, queue_measurement, recording_row

router = APIRouter(tags=["recordings"])

_CLIENT_NAME_MAX = 255


def _display_name(filename: str | None) -> str | None:
    """The client's file name for display only: last path part, printable, bounded."""
    if not filename:
        return None
    last = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in last if ch.isprintable())
    return cleaned[:_CLIENT_NAME_MAX] or None


@router.post(
    "/visits/{visit_id}/recordings",
    response_model=MeasurementOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        413: {"description": "larger than the upload limit"},
        415: {"description": "not a video or zipped recording"},
        422: {"description": "damaged video, unsafe or oversized zip"},
    },
)
def upload_recording(
    visit_id: int,
    ctx: Ctx,
    user: ClinicalUser,
    session: DbSession,
    file: Annotated[UploadFile, File(description="A video, or a zip of a recording folder.")],
    phase: Annotated[Phase, Form()],
    blocks: Annotated[str | None, Form(max_length=200)] = None,
    placement: Annotated[str | None, Form(max_length=200)] = None,
    category: Annotated[str | None, Form(max_length=50)] = None,
) -> MeasurementOut:
    """Store a recording for the visit's `pre` or `post` phase and queue its measurement."""
    visit = get_visit(session, user, visit_id)
    session.commit()  # hold no database transaction while the file is copied and checked
    stored = ctx.files.store_stream(file.file)
    recording = recording_row(
        session,
        stored,
        source="upload",
        client_filename=_display_name(file.filename),
        user_id=user.id,
    )
    row = queue_measurement(
        session,
        visit_id=visit.id,
        recording=recording,
        phase=phase.value,
        source="upload",
        user_id=user.id,
        blocking=BlockingNotes(blocks, placement, category),
    )
    session.commit()
    ctx.wake_worker()
    return MeasurementOut.from_row(row)


def _visible_recording(session: Session, user: User, recording_id: int) -> Recording:
    """A recording is visible when one of its measurements is in the user's clinic."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise not_found("recording")
    scope = clinic_scope(user)
    if scope is None:
        return recording
    seen = session.scalar(
        select(Measurement.id)
        .join(Visit, Visit.id == Measurement.visit_id)
        .join(Patient, Patient.id == Visit.patient_id)
        .where(Measurement.recording_id == recording_id, Patient.clinic_id == scope)
        .limit(1)
    )
    if seen is None:
        raise not_found("recording")
    return recording


@router.get("/recordings/{recording_id}", response_model=RecordingOut)
def read_recording(recording_id: int, user: ClinicalUser, session: DbSession) -> RecordingOut:
    return RecordingOut.model_validate(_visible_recording(session, user, recording_id))


@router.get("/recordings/{recording_id}/file", response_class=FileResponse)
def download_recording(
    recording_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> FileResponse:
    """The stored bytes (video or zip), named by their sha256."""
    recording = _visible_recording(session, user, recording_id)
    path = ctx.files.file_path(recording.stored_name)
    if not path.is_file():
        raise not_found("recording file")
    return FileResponse(path, filename=recording.stored_name)
