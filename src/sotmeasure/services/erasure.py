"""Erasure: deleting a patient or a visit removes the recordings it used (deleting one
measurement is a soft delete kept for audit: services/measurements.py).

Recordings are shared by content (one stored file per sha256), so a recording is erased
only when no measurement of any clinic uses it any more; when another clinic (or another
patient of this clinic) still uses the same bytes, only this clinic's link (its file name,
uploader and time) goes once none of its own measurements uses them. Rows go in one
transaction together with an audit event (ids and counts only, never patient data); the
files (video or zip and its unpacked folder, cached report frames) are removed after the
commit, so a failed commit never leaves rows pointing at missing files. A file whose
removal fails is logged; the row that named it is already gone, so nothing of it can be
downloaded (see docs/api.md, "Erasure").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from sotmeasure.services.access import get_patient, get_visit
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import ConflictError
from sotmeasure.store.models import (
    AuditEvent,
    Measurement,
    Patient,
    Recording,
    RecordingLink,
    Status,
    User,
    Visit,
)

log = logging.getLogger(__name__)


@dataclass
class Erasure:
    """What one erasure removed (ids only): the audit event's details."""

    measurements: list[int] = field(default_factory=list)
    recordings_erased: list[int] = field(default_factory=list)
    recordings_kept: list[int] = field(default_factory=list)  # still used elsewhere
    recordings_unlinked: list[int] = field(default_factory=list)  # kept, not by this clinic

    def details(self, **extra: int) -> dict[str, int | list[int]]:
        return {
            "measurements": sorted(self.measurements),
            "recordings_erased": sorted(self.recordings_erased),
            "recordings_unlinked": sorted(self.recordings_unlinked),
            "recordings_kept": sorted(self.recordings_kept),
            **extra,
        }


def erase_patient(ctx: AppContext, session: Session, user: User, patient_id: int) -> Erasure:
    """Delete the patient, every visit and measurement, and the recordings only they used."""
    patient = get_patient(session, user, patient_id)
    rows = list(
        session.scalars(
            select(Measurement)
            .join(Visit, Visit.id == Measurement.visit_id)
            .where(Visit.patient_id == patient.id)
        )
    )
    visits = session.scalar(select(func.count(Visit.id)).where(Visit.patient_id == patient.id))
    extra = {"visits": int(visits or 0)}
    return _erase(ctx, session, user, patient, patient.clinic_id, rows, "patient", extra)


def erase_visit(ctx: AppContext, session: Session, user: User, visit_id: int) -> Erasure:
    """Delete the visit and its measurements, and the recordings only they used."""
    visit = get_visit(session, user, visit_id)
    rows = list(session.scalars(select(Measurement).where(Measurement.visit_id == visit.id)))
    return _erase(ctx, session, user, visit, visit.patient.clinic_id, rows, "visit", {})


def _erase(
    ctx: AppContext,
    session: Session,
    user: User,
    target: Patient | Visit,
    clinic_id: int,
    rows: list[Measurement],
    kind: str,
    extra: dict[str, int],
) -> Erasure:
    if any(r.status == Status.RUNNING.value for r in rows):
        raise ConflictError(
            f"a measurement of this {kind} is being processed: delete it when it has finished"
        )
    target_id = target.id
    done = Erasure(measurements=[r.id for r in rows])
    recording_ids = {r.recording_id for r in rows if r.recording_id is not None}
    session.delete(target)  # visits and measurements go by ON DELETE CASCADE
    session.flush()
    files: list[tuple[str, str, str]] = []
    for recording_id in sorted(recording_ids):
        if _used_at_all(session, recording_id):
            done.recordings_kept.append(recording_id)
            if not _used_by_clinic(session, recording_id, clinic_id):
                session.execute(
                    delete(RecordingLink).where(
                        RecordingLink.recording_id == recording_id,
                        RecordingLink.clinic_id == clinic_id,
                    )
                )
                done.recordings_unlinked.append(recording_id)
            continue
        recording = session.get(Recording, recording_id)
        if recording is not None:
            files.append((recording.sha256, recording.kind, recording.stored_name))
            session.execute(delete(RecordingLink).where(RecordingLink.recording_id == recording_id))
            session.delete(recording)
            done.recordings_erased.append(recording_id)
    session.add(
        AuditEvent(
            actor_id=user.id,
            action=f"{kind}.erased",
            target_kind=kind,
            target_id=target_id,
            details=done.details(**extra),
        )
    )
    session.commit()
    _remove_files(ctx, session, files, done.measurements)
    log.info(
        "%s %d erased by user %d: %d measurements, recordings erased %s, kept %s",
        kind,
        target_id,
        user.id,
        len(done.measurements),
        done.recordings_erased,
        done.recordings_kept,
    )
    return done


def _used_by_clinic(session: Session, recording_id: int, clinic_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists()
                .where(Measurement.recording_id == recording_id)
                .where(Visit.id == Measurement.visit_id)
                .where(Patient.id == Visit.patient_id)
                .where(Patient.clinic_id == clinic_id)
            )
        )
    )


def _used_at_all(session: Session, recording_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Measurement.recording_id == recording_id))))


def _remove_files(
    ctx: AppContext, session: Session, files: list[tuple[str, str, str]], measurements: list[int]
) -> None:
    """The erased recordings' bytes and the erased measurements' cached report frames.

    Bytes that were uploaded again since the commit (a new row with the same sha256) stay:
    they belong to that upload now."""
    gone = [
        (kind, stored_name)
        for sha256, kind, stored_name in files
        if session.scalar(select(Recording.id).where(Recording.sha256 == sha256)) is None
    ]
    session.commit()  # end the read transaction: no database lock is held while files go
    for kind, stored_name in gone:
        try:
            ctx.files.erase(kind, stored_name)
        except OSError as exc:  # the row is gone; say which file an operator must remove
            log.error("erasure: could not remove recording file %s: %s", stored_name, exc)
    cache = ctx.settings.report_cache_dir
    if cache.is_dir():
        for measurement_id in measurements:
            for png in cache.glob(f"m{measurement_id}-*.png"):
                png.unlink(missing_ok=True)
