"""Upload a video or a zipped recording to a visit and phase; read recording metadata.

The upload is checked by opening it, stored content-addressed (see store.recording_files),
and a `pending` measurement is committed in the same transaction as the recording row;
the background worker picks it up. Answer: 202 with the measurement to poll.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import FileResponse

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import MeasurementOut, RecordingOut
from sotmeasure.services.access import clinic_scope, get_recording
from sotmeasure.services.errors import NotFoundError
from sotmeasure.services.measurements import default_mode, queue_upload
from sotmeasure.store.models import Mode, Phase
from sotmeasure.store.queueing import BlockingNotes

router = APIRouter(tags=["recordings"])


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
    mode: Annotated[
        Mode | None,
        Form(description="markerless or stickers; default: this installation's setting."),
    ] = None,
    blocks: Annotated[str | None, Form(max_length=200)] = None,
    placement: Annotated[str | None, Form(max_length=200)] = None,
    category: Annotated[str | None, Form(max_length=50)] = None,
) -> MeasurementOut:
    """Store a recording for the visit's `pre` or `post` phase and queue its measurement."""
    row = queue_upload(
        ctx,
        session,
        user,
        visit_id,
        file.file,
        filename=file.filename,
        phase=phase,
        mode=mode or default_mode(ctx.settings),
        blocking=BlockingNotes(blocks, placement, category),
    )
    return MeasurementOut.from_row(row)


@router.get("/recordings/{recording_id}", response_model=RecordingOut)
def read_recording(recording_id: int, user: ClinicalUser, session: DbSession) -> RecordingOut:
    """The recording as the user's clinic sees it (its own file name and upload time)."""
    return RecordingOut.seen_by(get_recording(session, user, recording_id), clinic_scope(user))


@router.get("/recordings/{recording_id}/file", response_class=FileResponse)
def download_recording(
    recording_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> FileResponse:
    """The stored bytes (video or zip), named by their sha256."""
    recording = get_recording(session, user, recording_id)
    path = ctx.files.file_path(recording.stored_name)
    if not path.is_file():
        raise NotFoundError("recording file")
    return FileResponse(path, filename=recording.stored_name)
