"""Service settings, read from the environment (prefix `SOTMEASURE_`) with embedded defaults.

Why pydantic-settings: one typed object is built once (in `sotmeasure serve` or a test) and
passed to `create_app(settings)`, so nothing reads the environment at import time and two
apps with different settings can live in one process (tests do exactly that).

Defaults give a working single-machine install: a SQLite file and a recordings folder in
the user data directory (platformdirs), no external services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sotmeasure.private_files import private_dir

_MB = 1024 * 1024


def megabytes(n_bytes: float) -> str:
    """A byte count in the unit the `*_mb` settings are given in: 500 MB of limit reads
    "500 MB" (not "524 MB", which a division by 10**6 would say)."""
    return f"{n_bytes / _MB:.4g} MB"


def default_data_dir() -> Path:
    """The per-user data directory (e.g. ~/.local/share/sotmeasure on Linux)."""
    return Path(platformdirs.user_data_dir("sotmeasure", appauthor=False))


class Settings(BaseSettings):
    """Everything the service needs to know about its surroundings.

    Environment variables use the `SOTMEASURE_` prefix and the upper-case field name,
    e.g. `SOTMEASURE_DATABASE_URL=postgresql+psycopg://user@host/db`.
    """

    model_config = SettingsConfigDict(env_prefix="SOTMEASURE_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the SQLite database (default) and the stored recordings.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty = SQLite file `sotmeasure.db` in data_dir.",
    )
    sqlite_busy_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="SQLite: how long a write waits for the write lock before the request "
        "fails with 503 (readers never wait).",
    )

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_concurrent_requests: int = Field(
        default=48,
        ge=1,
        le=64,
        description="Requests handled at once; more wait their turn (below the database "
        "connection pool's 80, so a handler never waits for a connection).",
    )

    # Uploads (limits protect the disk and the decoder; see api/uploads.py)
    max_upload_mb: float = Field(default=500.0, gt=0, description="Larger uploads get 413.")
    max_unzipped_mb: float = Field(
        default=2000.0, gt=0, description="Total size a zipped recording may expand to."
    )
    max_zip_members: int = Field(default=20_000, ge=1)
    max_zip_ratio: float = Field(
        default=200.0, gt=1, description="Largest compression ratio of one zip member."
    )
    max_video_side_px: int = Field(default=8192, ge=16)

    # Auth
    token_lifetime_minutes: int = Field(default=12 * 60, ge=1)
    login_free_failures_per_account: int = Field(
        default=5, ge=1, description="Wrong passwords for one e-mail before back-off starts."
    )
    login_free_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins from one client address before back-off."
    )
    login_backoff_base_s: float = Field(default=1.0, gt=0, description="First lock-out, s.")
    login_backoff_max_s: float = Field(default=900.0, gt=0, description="Longest lock-out, s.")

    # Length of what is measured (issue 13 row 5): checked from the container's frame count
    # and rate before anything is stored or decoded, and again while a measurement streams
    # (containers without a frame count); a measurement running longer than the time limit
    # fails with that reason, so one file cannot block the worker for every clinic.
    max_recording_s: float = Field(
        default=600.0, gt=0, description="Longest recording measured, seconds (10 minutes)."
    )
    max_recording_frames: int = Field(
        default=36_000, ge=1, description="Most frames measured (10 minutes at 60 fps)."
    )
    measurement_time_limit_s: float = Field(
        default=900.0, gt=0, description="A measurement still running after this fails."
    )

    # Background processing
    processing_workers: int = Field(
        default=1, ge=0, description="Worker threads; 0 = store uploads, process nothing."
    )
    poll_interval_s: float = Field(default=1.0, gt=0)
    # The PostgreSQL job queue (procrastinate; `sotmeasure worker`, docs/reliability.md)
    queue_heartbeat_s: float = Field(
        default=5.0, gt=0, description="How often a queue worker says it is alive, s."
    )
    queue_stalled_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A worker silent this long is presumed dead; its jobs are re-queued.",
    )
    queue_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Runs of one measurement job (each cut short by a stop or a kill) "
        "before the measurement fails instead of being tried again.",
    )
    queue_shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="On stop, a queue worker lets running measurements finish this long, "
        "then hands them back to the queue.",
    )

    # Measurement setup of this installation (a clinic's table, targets and camera)
    # Empty paths = the bundled demo setup (the rendered test rig); results record which
    # layout, profile and setup were used (provenance), and /health names the setup.
    layout_path: Path | None = Field(
        default=None, description="Target layout JSON; empty = the bundled demo layout."
    )
    profile_path: Path | None = Field(
        default=None, description="Camera profile TOML; empty = the bundled demo profile."
    )
    setup_path: Path | None = Field(
        default=None, description="Setup TOML with plane heights; empty = the bundled demo setup."
    )
    homography_only: bool = Field(
        default=False,
        description="Measure without a camera profile (the result says 'homography-only').",
    )
    measure_mode: Literal["markerless", "stickers"] = "markerless"
    heel_plane_mm: float | None = Field(default=None, description="Override: heel height, mm.")
    hip_plane_mm: float | None = Field(default=None, description="Override: hip height, mm.")
    mdc95_lld_mm: float | None = Field(
        default=None, description="Minimal detectable change of LLD; empty = measure default."
    )
    mdc95_tilt_deg: float | None = Field(
        default=None, description="Minimal detectable change of tilt; empty = measure default."
    )

    # Rig check (issue 16): a check passes when its whole 95% CI lies within +/- tolerance;
    # the pages warn when the setup's newest passing check is older than the period.
    rig_check_tolerance_mm: float = Field(
        default=2.0, gt=0, description="Largest rig-check error (95% CI bound) that passes, mm."
    )
    rig_check_max_age_days: int = Field(
        default=30, ge=1, description="Warn when the newest passing rig check is older, days."
    )

    # Live capture (issue 7): webcam index, device path, video or recording; "demo" = bundled
    camera_source: str = "demo"

    @field_validator("database_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _stalled_after_heartbeats(self) -> Settings:
        if self.queue_stalled_after_s < 2 * self.queue_heartbeat_s:
            raise ValueError(
                "queue_stalled_after_s must be at least twice queue_heartbeat_s "
                "(else a live worker that is briefly late is presumed dead)"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        """The URL actually used: the configured one, or the SQLite file in data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sotmeasure.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        """Content-addressed recordings (file name = sha256 of the bytes)."""
        return self.data_dir / "recordings"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the same file system, so that os.replace is atomic."""
        return self.data_dir / "tmp"

    @property
    def interrupted_dir(self) -> Path:
        """Live captures cut off by a stopped server, kept for inspection (never in the DB)."""
        return self.data_dir / "interrupted"

    @property
    def report_cache_dir(self) -> Path:
        """Annotated report frames (`m<measurement id>-*.png`); erasure removes a row's."""
        return self.data_dir / "web-cache"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * _MB)

    @property
    def max_unzipped_bytes(self) -> int:
        return int(self.max_unzipped_mb * _MB)

    def ensure_dirs(self) -> None:
        """Create the data folders as 0700, tightening existing ones (idempotent).

        Files below them are written 0600 (`sotmeasure.private_files`); an older install's
        0644 files become unreachable for other accounts through their 0700 folders.
        """
        for folder in (self.data_dir, self.recordings_dir, self.tmp_dir):
            private_dir(folder)
