"""Turning stored bytes into database rows: the recording (once per content) and a pending
measurement for the worker.

Both the upload endpoint and the web page's live capture end here, so the two paths cannot
drift apart: the same content is one recording row even when two requests store it at the
same moment, and every new measurement starts `pending`, at progress 0, never attempted.
On PostgreSQL its job is deferred in the same transaction (`store.job_queue`): a committed
pending row always has its job, a rolled-back one never does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sotmeasure.store.job_queue import defer_measurement
from sotmeasure.store.models import Measurement, Recording, RecordingLink, Source, Status
from sotmeasure.store.recording_files import StoredRecording


@dataclass(frozen=True, slots=True)
class BlockingNotes:
    """What the practitioner noted about the SOT blocks for this phase (all optional)."""

    blocks: str | None = None
    placement: str | None = None
    category: str | None = None


def recording_exists(session: Session, sha256: str) -> bool:
    """Whether a recording row for these bytes is committed."""
    return session.scalar(select(Recording.id).where(Recording.sha256 == sha256)) is not None


def recording_row(
    session: Session,
    stored: StoredRecording,
    *,
    source: Source,
    clinic_id: int,
    client_filename: str | None,
    user_id: int | None,
) -> Recording:
    """The row for these bytes (the existing one, same sha256, or a new one, race-safe),
    linked to the clinic with the clinic's own file name, uploader and time."""
    recording = _shared_row(session, stored, source)
    link_recording(
        session, recording, clinic_id=clinic_id, client_filename=client_filename, user_id=user_id
    )
    return recording


def _shared_row(session: Session, stored: StoredRecording, source: Source) -> Recording:
    existing = session.scalar(select(Recording).where(Recording.sha256 == stored.sha256))
    if existing is not None:
        return existing
    row = Recording(
        sha256=stored.sha256,
        kind=stored.kind,
        stored_name=stored.stored_name,
        size_bytes=stored.size_bytes,
        media=stored.media,
        source=source.value,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same bytes were just stored by a concurrent request
        existing = session.scalar(select(Recording).where(Recording.sha256 == stored.sha256))
        if existing is None:
            raise
        return existing
    return row


def link_recording(
    session: Session,
    recording: Recording,
    *,
    clinic_id: int,
    client_filename: str | None,
    user_id: int | None,
) -> RecordingLink:
    """The clinic's link to the bytes: the first upload's name and time stay (race-safe)."""
    query = select(RecordingLink).where(
        RecordingLink.recording_id == recording.id, RecordingLink.clinic_id == clinic_id
    )
    existing = session.scalar(query)
    if existing is not None:
        return existing
    link = RecordingLink(
        recording_id=recording.id,
        clinic_id=clinic_id,
        client_filename=client_filename,
        uploaded_by_id=user_id,
    )
    try:
        with session.begin_nested():
            session.add(link)
    except IntegrityError:  # the same clinic stored the same bytes at the same moment
        existing = session.scalar(query)
        if existing is None:
            raise
        return existing
    return link


def queue_measurement(
    session: Session,
    *,
    visit_id: int,
    recording: Recording,
    phase: str,
    mode: str,
    source: Source,
    user_id: int | None,
    blocking: BlockingNotes,
    setup_version_id: int | None = None,
    defer: bool = True,
) -> Measurement:
    """A new `pending` measurement of `recording` for the visit's phase, and its job
    (flushed, not committed). `defer=False`: no job, the caller finishes the row itself
    in the same transaction (a capture measured while it recorded)."""
    row = Measurement(
        visit_id=visit_id,
        recording_id=recording.id,
        phase=phase,
        mode=mode,
        source=source.value,
        status=Status.PENDING.value,
        progress=0.0,
        attempts=0,
        created_by_id=user_id,
        setup_version_id=setup_version_id,
        blocking_blocks=blocking.blocks,
        blocking_placement=blocking.placement,
        blocking_category=blocking.category,
    )
    session.add(row)
    session.flush()
    if defer:
        defer_measurement(session, row.id)
    return row
