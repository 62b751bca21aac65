"""Database tables (SQLAlchemy 2 declarative). Schemas for the API live in api/schemas.py.

Every change here needs an Alembic revision in store/migrations/versions/; the test
tests/store/test_migrations.py fails when the models and the migrations disagree.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sotmeasure.store.types import UTCDateTime, utcnow

# Named constraints: Alembic can only alter/drop what has a stable name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Role(enum.StrEnum):
    """What a user may do (see docs/api.md, "Roles")."""

    ADMIN = "admin"
    PRACTITIONER = "practitioner"
    RESEARCHER = "researcher"


class Phase(enum.StrEnum):
    PRE = "pre"
    POST = "post"


class Status(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Mode(enum.StrEnum):
    """How the heel and hip points are found (processing.params.MODES)."""

    MARKERLESS = "markerless"
    STICKERS = "stickers"


class Source(enum.StrEnum):
    """Where a recording or a measurement came from."""

    UPLOAD = "upload"
    CAPTURE = "capture"  # the web page's live capture
    IMPORT = "import"  # a finished result from another tool (measurements only)


def _in(values: type[enum.StrEnum], column: str) -> str:
    listed = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({listed})"


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in(Role, "role"), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    clinic_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinics.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clinic: Mapped[Clinic | None] = relationship()


class AuthToken(Base):
    """A bearer token: only its sha256 is stored, so a leaked database grants no access."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Patient(Base):
    """A patient, known to the clinic by a pseudonymous code; name and birth date optional."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("clinic_id", "code", name="uq_patients_clinic_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("clinics.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clinic: Mapped[Clinic] = relationship()


class ClinicSetup(Base):
    """A clinic's measuring place (a room's table, targets and camera), identified by `id`.

    Its content lives in versions (`SetupVersion`): an edit adds a version and moves
    `current_version`; a measurement points at the version it used, so it keeps its numbers'
    setup when the room's setup changes later. See docs/calibration.md, "Setups".
    """

    __tablename__ = "setups"
    __table_args__ = (UniqueConstraint("clinic_id", "name", name="uq_setups_clinic_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("clinics.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    room: Mapped[str | None] = mapped_column(String(200))
    #: The camera this room uses (index or device path as `capture.webcam` names it).
    camera: Mapped[str | None] = mapped_column(String(200))
    #: The clinic's setup for visits that chose none (at most one per clinic, a service rule).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clinic: Mapped[Clinic] = relationship()


class SetupVersion(Base):
    """One immutable version of a setup: the files and numbers a measurement used.

    `(setup_id, version)` is the setup identity people read ("Room 1, version 3"); `id` is
    what other rows reference (measurements, rig checks).
    """

    __tablename__ = "setup_versions"
    __table_args__ = (
        UniqueConstraint("setup_id", "version", name="uq_setup_versions_setup_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    setup_id: Mapped[int] = mapped_column(ForeignKey("setups.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)  # what changed, in the editor's words
    layout_name: Mapped[str] = mapped_column(String(200))
    layout_json: Mapped[str] = mapped_column(Text)  # the target layout file, verbatim
    profile_name: Mapped[str | None] = mapped_column(String(200))
    profile_toml: Mapped[str | None] = mapped_column(Text)  # None: homography-only
    #: The calibration that made the profile (RMS px, views, coverage), when made on the page.
    calibration_report: Mapped[Any | None] = mapped_column(JSON)
    plane_uncertainty_mm: Mapped[float] = mapped_column(Float)
    markerless_heel_plane_mm: Mapped[float] = mapped_column(Float)
    markerless_hip_plane_mm: Mapped[float] = mapped_column(Float)
    stickers_heel_plane_mm: Mapped[float] = mapped_column(Float)
    stickers_hip_plane_mm: Mapped[float] = mapped_column(Float)
    heel_sticker_rgb: Mapped[str] = mapped_column(String(7))  # "#rrggbb"
    psis_sticker_rgb: Mapped[str] = mapped_column(String(7))
    mdc95_lld_mm: Mapped[float | None] = mapped_column(Float)
    mdc95_tilt_deg: Mapped[float | None] = mapped_column(Float)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    setup: Mapped[ClinicSetup] = relationship()


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    practitioner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    visit_date: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    #: The setup this visit is measured with (None: the clinic's default setup).
    setup_id: Mapped[int | None] = mapped_column(
        ForeignKey("setups.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship()
    practitioner: Mapped[User | None] = relationship()


class Recording(Base):
    """Stored bytes (an upload or a capture), shared by content: one row per sha256.

    The file name under data_dir is derived from sha256 only. Who uploaded it, under which
    name and when is per clinic (RecordingLink), so that two clinics storing the same bytes
    never see each other's names or times; `created_at` (first stored) is never shown.
    """

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # "video" | "recording_zip"
    stored_name: Mapped[str] = mapped_column(String(200))  # relative to recordings_dir
    size_bytes: Mapped[int] = mapped_column(Integer)
    media: Mapped[dict[str, Any]] = mapped_column(default=dict)  # width, height, fps, frames
    source: Mapped[str] = mapped_column(String(20))  # Source.UPLOAD | Source.CAPTURE
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    links: Mapped[list[RecordingLink]] = relationship(
        order_by="(RecordingLink.uploaded_at, RecordingLink.id)",
        viewonly=True,
    )

    def link_of(self, clinic_id: int | None) -> RecordingLink | None:
        """The clinic's link (name, uploader, time); None = the earliest (admins' view)."""
        for link in self.links:
            if clinic_id is None or link.clinic_id == clinic_id:
                return link
        return None


class RecordingLink(Base):
    """One clinic's claim on shared recording bytes: its own file name, uploader and time.

    Erasure removes a clinic's link when none of its measurements uses the bytes any more,
    and the bytes themselves when no measurement of any clinic does (services/erasure.py).
    """

    __tablename__ = "recording_links"
    __table_args__ = (
        UniqueConstraint("recording_id", "clinic_id", name="uq_recording_links_recording_clinic"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("clinics.id", ondelete="RESTRICT"), index=True
    )
    client_filename: Mapped[str | None] = mapped_column(String(255))  # display only
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what to which row, when: ids and counts only, never patient data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # a user id, kept if the user goes
    action: Mapped[str] = mapped_column(String(40))  # e.g. "patient.erased"
    target_kind: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ids and counts only


class ResearchStudy(Base):
    """A study of the research export: its secret keys the pseudonymous ids (HMAC), so the
    same patient keeps the same id across the study's exports. The secret never leaves
    the server."""

    __tablename__ = "research_studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hex: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Measurement(Base):
    """One window measurement (docs/MEASUREMENT.md) of one phase of a visit, and its state."""

    __tablename__ = "measurements"
    __table_args__ = (
        CheckConstraint(_in(Phase, "phase"), name="phase"),
        CheckConstraint(_in(Status, "status"), name="status"),
        CheckConstraint(f"mode IS NULL OR {_in(Mode, 'mode')}", name="mode"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        Index("ix_measurements_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="RESTRICT"), index=True
    )
    phase: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(20))  # a Source
    status: Mapped[str] = mapped_column(String(10), default=Status.PENDING.value)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Which worker process ("host:pid") claimed the row last: whose kill left it running.
    processed_by: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: The setup version measured with, fixed when queued (None: the installation setup of
    #: the settings file, as before setups existed, or an imported result).
    setup_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("setup_versions.id", ondelete="RESTRICT"), index=True
    )

    # Blocking notes (SOT): which blocks, where, which category
    blocking_blocks: Mapped[str | None] = mapped_column(String(200))
    blocking_placement: Mapped[str | None] = mapped_column(String(200))
    blocking_category: Mapped[str | None] = mapped_column(String(50))

    # How the points were found; chosen when measuring (null only on rows older than the
    # choice, whose result then says it). The worker measures a pending row in this mode.
    mode: Mapped[str | None] = mapped_column(String(12))

    # Corrections (kept for audit): a deleted row stays in the table, hidden from lists,
    # exports and comparisons; a relabelled row keeps the phase it was measured as.
    deleted_at: Mapped[datetime | None]
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    phase_changed_at: Mapped[datetime | None]
    phase_changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    measured_phase: Mapped[str | None] = mapped_column(String(8))  # before the first relabel

    # The numbers of the measurement contract (null until status = done); their names are
    # RESULT_NUMBER_COLUMNS / RESULT_COLUMNS below, which exports and the result copy use.
    lld_mm: Mapped[float | None] = mapped_column(Float)
    lld_ci95_low_mm: Mapped[float | None] = mapped_column(Float)
    lld_ci95_high_mm: Mapped[float | None] = mapped_column(Float)
    lld_table_mm: Mapped[float | None] = mapped_column(Float)
    short_side: Mapped[str | None] = mapped_column(String(10))
    pelvic_tilt_deg: Mapped[float | None] = mapped_column(Float)
    pelvic_tilt_ci95_low_deg: Mapped[float | None] = mapped_column(Float)
    pelvic_tilt_ci95_high_deg: Mapped[float | None] = mapped_column(Float)
    body_axis_deg: Mapped[float | None] = mapped_column(Float)
    calibration: Mapped[str | None] = mapped_column(String(40))
    frames_used: Mapped[Any | None] = mapped_column(JSON)
    frames_rejected: Mapped[Any | None] = mapped_column(JSON)
    error_budget: Mapped[Any | None] = mapped_column(JSON)
    provenance: Mapped[Any | None] = mapped_column(JSON)
    # The complete result dict as the measure step returned it (incl. per-frame values)
    result: Mapped[Any | None] = mapped_column(JSON)

    visit: Mapped[Visit] = relationship()
    recording: Mapped[Recording | None] = relationship()
    setup_version: Mapped[SetupVersion | None] = relationship()
    deleted_by: Mapped[User | None] = relationship(foreign_keys=[deleted_by_id])
    phase_changed_by: Mapped[User | None] = relationship(foreign_keys=[phase_changed_by_id])

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


#: The measurement's number columns (floats), in the order the exports show them.
RESULT_NUMBER_COLUMNS = (
    "lld_mm",
    "lld_ci95_low_mm",
    "lld_ci95_high_mm",
    "lld_table_mm",
    "pelvic_tilt_deg",
    "pelvic_tilt_ci95_low_deg",
    "pelvic_tilt_ci95_high_deg",
    "body_axis_deg",
)
#: Every column a finished result fills (cleared when a measurement is queued again).
RESULT_COLUMNS = (
    *RESULT_NUMBER_COLUMNS,
    "short_side",
    "calibration",
    "frames_used",
    "frames_rejected",
    "error_budget",
    "provenance",
    "result",
)


class RigCheck(Base):
    """One rig check (processing/rig_check.py): the geometric chain's error in mm at the heel
    and hip heights, measured on the printed check sheets, for one setup on one date.

    `setup_key` names the setup checked ("installation" for the Settings-wide setup, else
    the clinic setup's id), `setup_version` its version number and `setup_version_id` the
    version row (None for the installation setup): a new version needs its own check.
    `setup_fingerprint` is the sha256 of the layout, profile and plane heights that were
    checked, so a changed installation camera profile is never covered by an older check.
    """

    __tablename__ = "rig_checks"
    __table_args__ = (Index("ix_rig_checks_setup", "clinic_id", "setup_key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinics.id", ondelete="CASCADE"), index=True
    )
    setup_key: Mapped[str] = mapped_column(String(100))
    setup_version: Mapped[int | None] = mapped_column(Integer)
    setup_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("setup_versions.id", ondelete="RESTRICT"), index=True
    )
    setup_fingerprint: Mapped[str] = mapped_column(String(64))
    video_name: Mapped[str | None] = mapped_column(String(255))
    video_sha256: Mapped[str] = mapped_column(String(64))
    heel_height_mm: Mapped[float | None] = mapped_column(Float)
    heel_error_mm: Mapped[float | None] = mapped_column(Float)
    heel_ci95_low_mm: Mapped[float | None] = mapped_column(Float)
    heel_ci95_high_mm: Mapped[float | None] = mapped_column(Float)
    hip_height_mm: Mapped[float | None] = mapped_column(Float)
    hip_error_mm: Mapped[float | None] = mapped_column(Float)
    hip_ci95_low_mm: Mapped[float | None] = mapped_column(Float)
    hip_ci95_high_mm: Mapped[float | None] = mapped_column(Float)
    tolerance_mm: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()
    checked_version: Mapped[SetupVersion | None] = relationship()


class AssistedLandmarks(Base):
    """Heel and PSIS points placed by a practitioner on a measurement's representative frame,
    and the result recomputed from them. The automatic result stays in `measurements`; every
    placement is kept (the newest is the one shown and exported)."""

    __tablename__ = "assisted_landmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    measurement_id: Mapped[int] = mapped_column(
        ForeignKey("measurements.id", ondelete="CASCADE"), index=True
    )
    frame_index: Mapped[int] = mapped_column(Integer)
    points_px: Mapped[dict[str, Any]] = mapped_column()  # name -> [x, y] image pixels
    lld_mm: Mapped[float] = mapped_column(Float)
    lld_ci95_low_mm: Mapped[float] = mapped_column(Float)
    lld_ci95_high_mm: Mapped[float] = mapped_column(Float)
    short_side: Mapped[str] = mapped_column(String(10))
    pelvic_tilt_deg: Mapped[float] = mapped_column(Float)
    pelvic_tilt_ci95_low_deg: Mapped[float] = mapped_column(Float)
    pelvic_tilt_ci95_high_deg: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # mm points, budget, planes
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)

    placed_by: Mapped[User | None] = relationship()
