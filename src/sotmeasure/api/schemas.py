"""Request and response bodies (pydantic), kept apart from the tables on purpose.

The bodies that change patients, visits and blocking notes are `services.inputs` (the pages
validate their forms through the same models); they are re-exported here.

Why apart: what a client may send or see is a decision per endpoint (a password hash is a
column but never a field; a practitioner's clinic comes from the login, not the body).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sotmeasure.services.inputs import (
    BlockingNotes,
    InputModel,
    MeasurementUpdate,
    PatientCreate,
    PatientUpdate,
    ResultPayload,
    VisitCreate,
    VisitUpdate,
)
from sotmeasure.services.measurements import is_retryable, measurement_mode, stored_result
from sotmeasure.store.accounts import MIN_PASSWORD_LENGTH
from sotmeasure.store.models import Measurement, Phase, Recording, Role, Status

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


_In = InputModel

#: Input bodies defined in services.inputs, re-exported for the routers.
__all__ = [
    "BlockingNotes",
    "MeasurementUpdate",
    "PatientCreate",
    "PatientUpdate",
    "VisitCreate",
    "VisitUpdate",
]


# --- auth -------------------------------------------------------------------------------


class LoginJSON(_In):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


# --- clinics and users --------------------------------------------------------------------


class ClinicIn(_In):
    name: str = Field(min_length=1, max_length=200)


class ClinicOut(_Out):
    id: int
    name: str
    created_at: datetime


class UserCreate(_In):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    role: Role
    clinic_id: int | None = None
    full_name: str | None = Field(default=None, max_length=200)


class UserUpdate(_In):
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    clinic_id: int | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    current_password: str | None = Field(
        default=None,
        max_length=1024,
        description="Required when users change their own password (then only `password` "
        "and `current_password` may be sent by a non-admin).",
    )


class UserOut(_Out):
    id: int
    email: str
    full_name: str | None
    role: Role
    clinic_id: int | None
    active: bool
    created_at: datetime


# --- patients and visits ------------------------------------------------------------------


class PatientOut(_Out):
    id: int
    clinic_id: int
    code: str
    name: str | None
    birth_date: date | None
    created_at: datetime


class VisitOut(_Out):
    id: int
    patient_id: int
    practitioner_id: int | None
    visit_date: date
    notes: str | None
    setup_id: int | None = Field(default=None, description="None: the clinic's default setup.")
    created_at: datetime


# --- recordings and measurements ----------------------------------------------------------


class RecordingOut(BaseModel):
    """Shared bytes as one clinic sees them: its own file name and upload time only."""

    id: int
    sha256: str
    kind: str
    size_bytes: int
    media: dict[str, Any]
    source: str
    client_filename: str | None = Field(description="The name this clinic uploaded it under.")
    created_at: datetime | None = Field(description="When this clinic stored these bytes.")

    @classmethod
    def seen_by(cls, recording: Recording, clinic_id: int | None) -> RecordingOut:
        """The recording with `clinic_id`'s link (None: the earliest link, admins)."""
        link = recording.link_of(clinic_id)
        return cls(
            id=recording.id,
            sha256=recording.sha256,
            kind=recording.kind,
            size_bytes=recording.size_bytes,
            media=recording.media,
            source=recording.source,
            client_filename=link.client_filename if link else None,
            created_at=link.uploaded_at if link else None,
        )


class MeasurementImport(_In):
    """A finished result from another tool (or a re-import), stored as `done`."""

    phase: Phase
    blocking: BlockingNotes = Field(default_factory=BlockingNotes)
    result: ResultPayload


class MeasurementOut(BaseModel):
    id: int
    visit_id: int
    phase: Phase
    status: Status
    progress: float = Field(description="0..1 while processing; 1 when done")
    failure_reason: str | None
    retryable: bool
    attempts: int
    source: str
    mode: Literal["markerless", "stickers"] | None = Field(
        description="How the points were found (null only on rows from before the choice)."
    )
    measured_phase: Phase = Field(description="The phase it was measured as (before relabels).")
    phase_changed_at: datetime | None
    phase_changed_by_id: int | None
    deleted_at: datetime | None = Field(description="Set when deleted (kept for audit).")
    deleted_by_id: int | None
    recording: RecordingOut | None
    blocking: BlockingNotes
    setup_id: int | None = Field(description="The setup measured with (None: installation).")
    setup_version: int | None = Field(description="Its version, fixed when queued.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lld_mm: float | None
    lld_ci95_mm: tuple[float, float] | None
    lld_table_mm: float | None
    short_side: str | None
    pelvic_tilt_deg: float | None
    pelvic_tilt_ci95_deg: tuple[float, float] | None
    body_axis_deg: float | None
    calibration: str | None
    frames_used: Any
    frames_rejected: Any
    error_budget: Any
    provenance: Any
    result: dict[str, Any] | None = Field(
        default=None, description="The complete stored result (with ?full=true only)."
    )

    @classmethod
    def from_row(cls, row: Measurement, *, full: bool = False) -> MeasurementOut:
        def pair(low: float | None, high: float | None) -> tuple[float, float] | None:
            return None if low is None or high is None else (low, high)

        return cls(
            id=row.id,
            visit_id=row.visit_id,
            phase=Phase(row.phase),
            status=Status(row.status),
            progress=row.progress,
            failure_reason=row.failure_reason,
            retryable=is_retryable(row),
            attempts=row.attempts,
            source=row.source,
            mode=measurement_mode(row),  # type: ignore[arg-type]  # a Mode value or None
            measured_phase=Phase(row.measured_phase or row.phase),
            phase_changed_at=row.phase_changed_at,
            phase_changed_by_id=row.phase_changed_by_id,
            deleted_at=row.deleted_at,
            deleted_by_id=row.deleted_by_id,
            recording=(
                RecordingOut.seen_by(row.recording, row.visit.patient.clinic_id)
                if row.recording
                else None
            ),
            blocking=BlockingNotes(
                blocks=row.blocking_blocks,
                placement=row.blocking_placement,
                category=row.blocking_category,
            ),
            setup_id=row.setup_version.setup_id if row.setup_version else None,
            setup_version=row.setup_version.version if row.setup_version else None,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            lld_mm=row.lld_mm,
            lld_ci95_mm=pair(row.lld_ci95_low_mm, row.lld_ci95_high_mm),
            lld_table_mm=row.lld_table_mm,
            short_side=row.short_side,
            pelvic_tilt_deg=row.pelvic_tilt_deg,
            pelvic_tilt_ci95_deg=pair(row.pelvic_tilt_ci95_low_deg, row.pelvic_tilt_ci95_high_deg),
            body_axis_deg=row.body_axis_deg,
            calibration=row.calibration,
            frames_used=row.frames_used,
            frames_rejected=row.frames_rejected,
            error_budget=row.error_budget,
            provenance=row.provenance,
            result=stored_result(row).to_dict() if full and row.result is not None else None,
        )


# --- setups ----------------------------------------------------------------------------------


class SetupVersionOut(_Out):
    """One immutable version of a setup (the files' texts with ?full=true only)."""

    id: int = Field(description="What measurements (and rig checks) reference.")
    setup_id: int
    version: int
    note: str | None
    layout_name: str
    profile_name: str | None = Field(description="None: homography-only.")
    calibration_report: dict[str, Any] | None
    plane_uncertainty_mm: float
    markerless_heel_plane_mm: float
    markerless_hip_plane_mm: float
    stickers_heel_plane_mm: float
    stickers_hip_plane_mm: float
    heel_sticker_rgb: str
    psis_sticker_rgb: str
    mdc95_lld_mm: float | None
    mdc95_tilt_deg: float | None
    created_by_id: int | None
    created_at: datetime
    layout_json: str | None = None
    profile_toml: str | None = None


class SetupOut(_Out):
    id: int
    clinic_id: int
    name: str
    room: str | None
    camera: str | None
    is_default: bool
    current_version: int
    created_at: datetime
    current: SetupVersionOut | None = None


class CameraOut(BaseModel):
    spec: str = Field(description="What SOTMEASURE_CAMERA_SOURCE or a setup's camera names.")
    label: str
    width: int | None
    height: int | None
    fps: float | None
    is_camera: bool = Field(description="False: a recorded stand-in (file replayed).")


class ComparisonOut(BaseModel):
    visit_id: int
    pre_measurement_id: int
    post_measurement_id: int
    comparison: dict[str, Any] = Field(description="The `compare --json` contract.")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    database: str
    processing_available: bool
    pending_measurements: int | None = None
    measurement_setup: dict[str, Any] | str | None = Field(
        default=None, description="Files measurements use, or why none can be used."
    )


class ErrorOut(BaseModel):
    """Every error answer: one sentence, or (invalid input) where and why each field failed.

    Failures of the server itself (database busy or unreachable, data disk full or not
    writable, an unexpected error) also carry a stable machine-readable `code`."""

    detail: str | list[dict[str, Any]]
    code: str | None = Field(
        default=None,
        description="On server-side failures only: database_busy, database_unavailable, "
        "storage_full, storage_unwritable, storage_error, internal_error.",
    )


class CalibrationJobOut(BaseModel):
    """A camera calibration running in the background (poll `GET /setups/{id}/calibration`).

    `state`: recording (from the camera) -> calibrating -> done | failed. When done,
    `version` is the setup's new version and `calibration_report` its quality (RMS px, views,
    coverage, words); when failed, `error` says why and nothing was stored."""

    model_config = ConfigDict(extra="allow")  # a camera job adds its recording guide's numbers

    setup_id: int
    state: Literal["recording", "calibrating", "done", "failed"]
    source: Literal["camera", "upload"]
    source_label: str
    error: str | None
    version: int | None
    calibration_report: dict[str, Any] | None


class RigCheckOut(BaseModel):
    """A stored rig check: the chain's error (mm) on the HEEL and HIP sheets with 95% CIs."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    clinic_id: int | None
    setup_key: str = Field(
        description='"installation" (the settings file\'s setup) or the setup id.'
    )
    setup_id: int | None = Field(description="The clinic setup checked (None: installation).")
    setup_version: int | None = Field(description="Its version number, as it was checked.")
    setup_version_id: int | None = Field(description="The checked version's row id.")
    setup_label: str = Field(description='How pages name it ("Room 1 v2 (setup 3)").')
    setup_fingerprint: str
    video_name: str | None
    video_sha256: str
    heel_height_mm: float | None
    heel_error_mm: float | None
    heel_ci95_low_mm: float | None
    heel_ci95_high_mm: float | None
    hip_height_mm: float | None
    hip_error_mm: float | None
    hip_ci95_low_mm: float | None
    hip_ci95_high_mm: float | None
    tolerance_mm: float
    passed: bool
    details: dict[str, Any]
    created_by_id: int | None
    created_at: datetime


class RigCheckStatusOut(BaseModel):
    """Whether a rig check is due for a setup as it is now, and the newest passing one."""

    due: bool
    message: str
    last_passing_id: int | None
    setup_id: int | None = Field(description="The clinic setup (None: the installation setup).")
    setup_version: int | None = Field(description="Its current version, which the status is of.")
    setup_label: str


class AssistedOut(BaseModel):
    """Practitioner-placed landmarks of a measurement and the result recomputed from them."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    measurement_id: int
    frame_index: int
    points_px: dict[str, Any]
    lld_mm: float
    lld_ci95_low_mm: float
    lld_ci95_high_mm: float
    short_side: str
    pelvic_tilt_deg: float
    pelvic_tilt_ci95_low_deg: float
    pelvic_tilt_ci95_high_deg: float
    details: dict[str, Any]
    placed_by_id: int | None
    placed_at: datetime
