"""Rig checks: run one on a clip of the check sheets, store it per setup, say when one is due.

The measuring is `processing.rig_check.check_rig` (the measurement's own geometry chain);
this module adds the rules: which setup is checked (today the installation-wide setup of
Settings, key "installation"; per-clinic setups will pass their id and version), which
clinic a check belongs to, and when the pages must warn (no passing check for the setup as
it is now, or the newest passing one older than `rig_check_max_age_days`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from sotmeasure.errors import SotmeasureError
from sotmeasure.private_files import private_dir
from sotmeasure.processing.rig_check import RigCheckResult, check_rig
from sotmeasure.processing.setup import LoadedSetup
from sotmeasure.provenance import sha256_file
from sotmeasure.services.access import clinic_scope
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import InvalidInputError
from sotmeasure.settings import Settings
from sotmeasure.store.media_checks import VIDEO_SUFFIXES
from sotmeasure.store.models import RigCheck, User
from sotmeasure.store.types import utcnow

#: The setup key of the installation-wide setup (Settings paths) until setups are per clinic.
INSTALLATION_SETUP = "installation"


def setup_fingerprint(setup: LoadedSetup) -> str:
    """sha256 over what the check verifies: layout, camera profile and plane heights."""
    parts = {
        "layout": setup.layout.sha256,
        "profile": setup.profile.sha256 if setup.profile else None,
        "heel_plane_mm": setup.params.heel_plane_mm,
        "hip_plane_mm": setup.params.hip_plane_mm,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _installation_setup(settings: Settings) -> LoadedSetup:
    try:
        return LoadedSetup.from_settings(settings)
    except SotmeasureError as exc:
        raise InvalidInputError(str(exc)) from None


def run_rig_check(
    session: Session,
    settings: Settings,
    user: User,
    video: Path,
    *,
    heights_mm: dict[str, float],
    video_name: str | None = None,
) -> RigCheck:
    """Measure the check sheets in `video` with this installation's setup and store the result.

    `heights_mm`: sheet role ("heel", "hip") -> measured box height. A clip the check cannot
    use (sheets or table markers not seen) is an InvalidInputError with the reason.
    """
    setup = _installation_setup(settings)
    try:
        result = check_rig(video, setup, heights_mm, settings.rig_check_tolerance_mm)
    except SotmeasureError as exc:
        raise InvalidInputError(str(exc)) from None
    row = _row(result, setup, user, video, video_name)
    session.add(row)
    session.commit()
    return row


def run_uploaded_rig_check(
    ctx: AppContext,
    session: Session,
    user: User,
    stream: BinaryIO,
    *,
    filename: str | None,
    heights_mm: dict[str, float],
) -> RigCheck:
    """Run a rig check on an uploaded clip: kept in the scratch folder while it is measured
    (the clip itself is not stored, only its sha256 and the numbers)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise InvalidInputError(f"upload a video ({', '.join(VIDEO_SUFFIXES)})")
    private_dir(ctx.files.tmp_dir)
    scratch = ctx.files.tmp_dir / f"rigcheck-{uuid.uuid4().hex}{suffix}"
    try:
        with scratch.open("wb") as fh:
            shutil.copyfileobj(stream, fh)
        return run_rig_check(
            session,
            ctx.settings,
            user,
            scratch,
            heights_mm=heights_mm,
            video_name=Path(filename or scratch.name).name,
        )
    finally:
        scratch.unlink(missing_ok=True)


def _row(
    result: RigCheckResult, setup: LoadedSetup, user: User, video: Path, name: str | None
) -> RigCheck:
    heel, hip = result.sheet("heel"), result.sheet("hip")
    details = result.to_dict()
    details["setup"] = {
        "source": setup.source,
        "layout": setup.layout.name,
        "profile": setup.profile.name if setup.profile else None,
        "heel_plane_mm": setup.params.heel_plane_mm,
        "hip_plane_mm": setup.params.hip_plane_mm,
        "mode": setup.params.mode,
    }
    return RigCheck(
        clinic_id=user.clinic_id,
        setup_key=INSTALLATION_SETUP,
        setup_version=None,
        setup_fingerprint=setup_fingerprint(setup),
        video_name=name or video.name,
        video_sha256=sha256_file(video),
        heel_height_mm=heel.height_mm if heel else None,
        heel_error_mm=heel.error_mm if heel else None,
        heel_ci95_low_mm=heel.ci95_mm[0] if heel else None,
        heel_ci95_high_mm=heel.ci95_mm[1] if heel else None,
        hip_height_mm=hip.height_mm if hip else None,
        hip_error_mm=hip.error_mm if hip else None,
        hip_ci95_low_mm=hip.ci95_mm[0] if hip else None,
        hip_ci95_high_mm=hip.ci95_mm[1] if hip else None,
        tolerance_mm=result.tolerance_mm,
        passed=result.passed,
        details=details,
        created_by_id=user.id,
    )


def list_rig_checks(session: Session, user: User, limit: int = 50) -> list[RigCheck]:
    """The rig checks the user may see (own clinic; admins all), newest first."""
    stmt = select(RigCheck).order_by(RigCheck.created_at.desc(), RigCheck.id.desc())
    scope = clinic_scope(user)
    if scope is not None:
        stmt = stmt.where(RigCheck.clinic_id == scope)
    return list(session.scalars(stmt.limit(limit)))


@dataclass(frozen=True, slots=True)
class RigCheckStatus:
    """Whether the current setup has a recent passing rig check, in one sentence."""

    due: bool
    message: str
    last_passing: RigCheck | None


def rig_check_status(
    session: Session, settings: Settings, user: User, now: datetime | None = None
) -> RigCheckStatus:
    """Due when the setup as configured now has no passing check, or only an old one."""
    try:
        fingerprint = setup_fingerprint(LoadedSetup.from_settings(settings))
    except SotmeasureError as exc:
        return RigCheckStatus(True, f"No rig check possible: {exc}", None)
    stmt = (
        select(RigCheck)
        .where(
            RigCheck.setup_key == INSTALLATION_SETUP,
            RigCheck.setup_fingerprint == fingerprint,
            RigCheck.passed.is_(True),
        )
        .order_by(RigCheck.created_at.desc(), RigCheck.id.desc())
    )
    scope = clinic_scope(user)
    if scope is not None:
        stmt = stmt.where(RigCheck.clinic_id == scope)
    last = session.scalars(stmt.limit(1)).first()
    if last is None:
        return RigCheckStatus(
            True,
            "This setup has no passing rig check: print the check sheets and run one "
            "before relying on its millimetres.",
            None,
        )
    age = (now or utcnow()) - last.created_at
    limit = timedelta(days=settings.rig_check_max_age_days)
    if age > limit:
        return RigCheckStatus(
            True,
            f"The last passing rig check is {age.days} days old (checks are due every "
            f"{settings.rig_check_max_age_days} days): run a new one.",
            last,
        )
    return RigCheckStatus(
        False, f"Last passing rig check: {last.created_at:%Y-%m-%d} (#{last.id}).", last
    )
