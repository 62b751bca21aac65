"""Measurements: queue one from an upload or a live capture, import a finished result,
change its blocking notes, relabel its phase, retry a failed one, delete or dismiss one.

A new measurement is committed `pending` together with its recording row, the mode it is
to be measured in (and, on PostgreSQL, its job); a worker (jobs.worker threads, or the job
queue) measures it. The retry rule lives here once: only a failed measurement of a stored
recording can be queued again.

Corrections never destroy what was measured (an audit must be able to see it): deleting
or dismissing a row stamps who and when and hides it from lists, exports and comparisons;
relabelling pre/post stamps who and when and keeps the phase it was measured as.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from sotmeasure.jobs.results import apply_result, clear_result
from sotmeasure.jobs.runner import worker_identity
from sotmeasure.measure.result import ResultRecord
from sotmeasure.services.access import get_measurement, get_visit
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import ConflictError, NotFoundError
from sotmeasure.services.inputs import BlockingNotes, MeasurementUpdate, ResultPayload
from sotmeasure.services.setups import version_for_visit
from sotmeasure.settings import Settings
from sotmeasure.store import queueing
from sotmeasure.store.job_queue import defer_measurement
from sotmeasure.store.models import Measurement, Mode, Phase, Source, Status, User, Visit
from sotmeasure.store.recording_files import StoredRecording
from sotmeasure.store.types import utcnow

_CLIENT_NAME_MAX = 255
_MODES = frozenset(m.value for m in Mode)


def stored_result(row: Measurement) -> ResultRecord:
    """The typed result of a finished row (rows of any stored version load)."""
    if row.result is None:
        raise ConflictError(f"measurement {row.id} has no stored result")
    return ResultRecord.from_dict(row.result)


def is_retryable(row: Measurement) -> bool:
    """Only a failed, not deleted measurement whose recording is stored can be measured again."""
    return row.status == Status.FAILED.value and row.recording_id is not None and not row.deleted


def measurement_mode(row: Measurement) -> str | None:
    """The mode the row is (or was) measured in: its column, else what its result says."""
    if row.mode:
        return row.mode
    mode = row.result.get("mode") if isinstance(row.result, dict) else None
    return known_mode(mode)


def known_mode(value: object) -> str | None:
    """`value` when it names a mode, else None (an imported result may say anything)."""
    return value if isinstance(value, str) and value in _MODES else None


def default_mode(settings: Settings) -> Mode:
    """The mode a new measurement gets when the practitioner does not choose one."""
    return Mode(settings.measure_mode)


def display_name(filename: str | None) -> str | None:
    """The client's file name for display only: last path part, printable, bounded."""
    if not filename:
        return None
    last = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in last if ch.isprintable())
    return cleaned[:_CLIENT_NAME_MAX] or None


def _version_id(session: Session, visit: Visit) -> int | None:
    """The setup version a measurement queued now is fixed to (services.setups)."""
    version = version_for_visit(session, visit)
    return None if version is None else version.id


def queue_upload(
    ctx: AppContext,
    session: Session,
    user: User,
    visit_id: int,
    stream: BinaryIO,
    *,
    filename: str | None,
    phase: Phase,
    mode: Mode,
    blocking: queueing.BlockingNotes,
) -> Measurement:
    """Store an uploaded video or zipped recording and queue its measurement (committed)."""
    visit = get_visit(session, user, visit_id)
    session.commit()  # hold no database transaction while the file is copied and checked
    with ctx.files.store(stream, is_referenced=ctx.recording_is_stored) as stored:
        recording = queueing.recording_row(
            session,
            stored,
            source=Source.UPLOAD,
            clinic_id=visit.patient.clinic_id,
            client_filename=display_name(filename),
            user_id=user.id,
        )
        row = queueing.queue_measurement(
            session,
            visit_id=visit.id,
            recording=recording,
            phase=phase.value,
            mode=mode.value,
            source=Source.UPLOAD,
            user_id=user.id,
            blocking=blocking,
            setup_version_id=_version_id(session, visit),
        )
        session.commit()
    ctx.wake_worker()
    return row


@dataclass(frozen=True, slots=True)
class CaptureOutcome:
    """What measuring a capture while it recorded gave: a result, or the reason the
    measurement fails (the words a worker would store for the same recording)."""

    record: ResultRecord | None = None
    failure: str | None = None


#: Called with the stored recording's video and the setup version a measurement of it is
#: fixed to; None: nothing measured, the measurement is queued for the worker.
CaptureMeasured = Callable[[Path, int | None], CaptureOutcome | None]


def capture_setup_version(ctx: AppContext, visit_id: int) -> int | None:
    """The setup version a capture of this visit queued now would be fixed to."""
    with ctx.sessions() as session:
        visit = session.get(Visit, visit_id)
        if visit is None:
            raise NotFoundError("visit")
        return _version_id(session, visit)


def queue_capture(
    ctx: AppContext,
    stream: BinaryIO,
    *,
    visit_id: int,
    phase: Phase,
    mode: Mode,
    user_id: int,
    source_label: str,
    blocking: queueing.BlockingNotes,
    measured: CaptureMeasured | None = None,
) -> tuple[int, Status]:
    """Store a live capture's zipped recording, its recording row (reused for the same
    bytes) and its measurement, in one transaction; returns the measurement id and status.

    With `measured` (web/capture.py's live measurement), once the bytes are stored it is
    asked for the result of the stored video: the measurement is committed `done` (or
    `failed`) with it, as the worker would have stored it, and no job is queued.
    Otherwise, or when it has nothing, the measurement is `pending` and the worker woken.
    """
    with ctx.files.store(stream, is_referenced=ctx.recording_is_stored) as stored:
        outcome, version = None, None
        if measured is not None:
            video = ctx.files.video_path(stored.kind, stored.stored_name, stored.media)
            version = capture_setup_version(ctx, visit_id)
            outcome = measured(video, version)
        measurement_id, status = _commit_capture(
            ctx,
            stored,
            visit_id,
            phase,
            mode,
            user_id,
            source_label,
            blocking,
            outcome,
            version,
        )
    if status is Status.PENDING:
        ctx.wake_worker()
    return measurement_id, status


def _commit_capture(
    ctx: AppContext,
    stored: StoredRecording,
    visit_id: int,
    phase: Phase,
    mode: Mode,
    user_id: int,
    source_label: str,
    blocking: queueing.BlockingNotes,
    outcome: CaptureOutcome | None,
    measured_version: int | None,
) -> tuple[int, Status]:
    with ctx.sessions() as session, session.begin():
        visit = session.get(Visit, visit_id)
        if visit is None:  # erased while the capture ran
            raise NotFoundError("visit")
        version = _version_id(session, visit)
        if version != measured_version:  # the setup changed meanwhile: the worker measures
            outcome = None
        recording = queueing.recording_row(
            session,
            stored,
            source=Source.CAPTURE,
            clinic_id=visit.patient.clinic_id,
            client_filename=f"live capture ({source_label})"[:_CLIENT_NAME_MAX],
            user_id=user_id,
        )
        row = queueing.queue_measurement(
            session,
            visit_id=visit_id,
            recording=recording,
            phase=phase.value,
            mode=mode.value,
            source=Source.CAPTURE,
            user_id=user_id,
            blocking=blocking,
            setup_version_id=version,
            defer=outcome is None,
        )
        if outcome is not None:
            _finish_measured(row, outcome)
        return row.id, Status(row.status)


def _finish_measured(row: Measurement, outcome: CaptureOutcome) -> None:
    """A capture measured while it recorded: stored as a worker stores its run."""
    now = utcnow()
    row.attempts = 1
    row.started_at = now
    row.finished_at = now
    row.processed_by = f"{worker_identity()} (live capture)"
    if outcome.record is not None:
        apply_result(row, outcome.record)
        row.status = Status.DONE.value
        row.progress = 1.0
    else:
        row.status = Status.FAILED.value
        row.failure_reason = (outcome.failure or "the measurement failed")[:2000]


def import_measurement(
    session: Session,
    user: User,
    visit_id: int,
    *,
    phase: Phase,
    blocking: BlockingNotes,
    result: ResultPayload,
) -> Measurement:
    """Store a finished result (the `measure --json` contract) from another tool as `done`."""
    visit = get_visit(session, user, visit_id)
    now = utcnow()
    row = Measurement(
        visit_id=visit.id,
        recording_id=None,
        phase=phase.value,
        source=Source.IMPORT.value,
        status=Status.DONE.value,
        progress=1.0,
        attempts=0,
        created_by_id=user.id,
        started_at=now,
        finished_at=now,
        blocking_blocks=blocking.blocks,
        blocking_placement=blocking.placement,
        blocking_category=blocking.category,
    )
    record = ResultRecord.from_dict(result.model_dump(mode="json"))
    apply_result(row, record)
    row.mode = known_mode(record.mode)
    session.add(row)
    session.commit()
    return row


def _not_deleted(row: Measurement) -> Measurement:
    if row.deleted:
        raise ConflictError(f"measurement {row.id} was deleted and cannot be changed")
    return row


def update_measurement(
    session: Session, user: User, measurement_id: int, body: MeasurementUpdate
) -> Measurement:
    """Change the blocking notes and/or the phase given in `body` (the rest stays)."""
    row = _not_deleted(get_measurement(session, user, measurement_id))
    changes = body.model_dump(exclude_unset=True)
    if "blocks" in changes:
        row.blocking_blocks = changes["blocks"]
    if "placement" in changes:
        row.blocking_placement = changes["placement"]
    if "category" in changes:
        row.blocking_category = changes["category"]
    if changes.get("phase") is not None:
        _relabel(row, user, Phase(changes["phase"]))
    session.commit()
    return row


def _relabel(row: Measurement, user: User, phase: Phase) -> None:
    """Pre <-> post; who and when are stamped, the phase it was measured as is kept."""
    if row.phase == phase.value:
        return
    if row.measured_phase is None:
        row.measured_phase = row.phase
    row.phase = phase.value
    row.phase_changed_at = utcnow()
    row.phase_changed_by_id = user.id


def relabel_measurement(
    session: Session, user: User, measurement_id: int, phase: Phase
) -> Measurement:
    """Relabel one measurement as pre or post (committed)."""
    return update_measurement(session, user, measurement_id, MeasurementUpdate(phase=phase))


def retry_measurement(
    ctx: AppContext, session: Session, user: User, measurement_id: int
) -> Measurement:
    """Queue a failed measurement again (its recording is still stored); committed."""
    row = get_measurement(session, user, measurement_id)
    if not is_retryable(row):
        raise ConflictError(
            f"only a failed measurement of a stored recording can be retried "
            f"(this one is {row.status})"
        )
    clear_result(row)
    row.status = Status.PENDING.value
    row.progress = 0.0
    row.failure_reason = None
    row.started_at = None
    row.finished_at = None
    session.flush()
    defer_measurement(session, row.id)  # PostgreSQL: a new job, committed with the row
    session.commit()
    ctx.wake_worker()
    return row


def delete_measurement(session: Session, user: User, measurement_id: int) -> Measurement:
    """Delete a measurement that is not being processed: kept for audit with who and when,
    hidden from lists, exports and comparisons (its recording file stays)."""
    row = _not_deleted(get_measurement(session, user, measurement_id))
    if row.status == Status.RUNNING.value:
        raise ConflictError("the measurement is being processed")
    row.deleted_at = utcnow()
    row.deleted_by_id = user.id
    session.commit()
    return row


def dismiss_failed(session: Session, user: User, measurement_id: int) -> Measurement:
    """Take a failed measurement off the visit's list (a soft delete: kept for audit)."""
    row = get_measurement(session, user, measurement_id)
    if row.status != Status.FAILED.value:
        raise ConflictError(
            f"only a failed measurement can be dismissed (this one is {row.status})"
        )
    return delete_measurement(session, user, measurement_id)
