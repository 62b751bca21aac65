"""Rig checks: run one on a clip of the check sheets, store it per setup version, say when one
is due.

The measuring is `processing.rig_check.check_rig` (the measurement's own geometry chain);
this module adds the rules:
- which setup is checked (`CheckedSetup`): a clinic's setup by id (its current version), or
  with none named the clinic's default setup, else the installation setup of Settings
  (setup_key "installation");
- which clinic a check belongs to (the setup's clinic; the installation setup's: the user's);
- when the pages must warn: a clinic setup's current version has no passing check of its own
  (a new version needs its own check, whatever an older version's said), or the installation
  setup as configured now has none (by fingerprint), or the newest passing one is older than
  `rig_check_max_age_days`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.measure_adapter import setup_version_files
from sotmeasure.private_files import private_dir
from sotmeasure.processing.rig_check import RigCheckResult, check_rig
from sotmeasure.processing.setup import LoadedSetup, load_files
from sotmeasure.provenance import sha256_file
from sotmeasure.services.access import clinic_scope
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import InvalidInputError, NotFoundError
from sotmeasure.services.setups import (
    current_version,
    get_setup,
    list_setups,
    setup_for_visit,
    version_label,
)
from sotmeasure.settings import Settings
from sotmeasure.store.media_checks import VIDEO_SUFFIXES
from sotmeasure.store.models import ClinicSetup, RigCheck, SetupVersion, User, Visit
from sotmeasure.store.types import utcnow

#: The setup key of the installation-wide setup (Settings paths).
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


@dataclass(frozen=True, slots=True)
class CheckedSetup:
    """The setup a rig check measures: a clinic setup's version, or the installation setup
    (`version` None)."""

    version: SetupVersion | None
    clinic_id: int | None

    @property
    def key(self) -> str:
        return INSTALLATION_SETUP if self.version is None else str(self.version.setup_id)

    @property
    def label(self) -> str:
        return version_label(self.version)

    def load(self, settings: Settings) -> LoadedSetup:
        """The layout, profile and plane heights to check (the mode of Settings: the plane
        heights a measurement of the installation's default mode uses)."""
        try:
            if self.version is None:
                return LoadedSetup.from_settings(settings)
            return load_files(
                setup_version_files(settings, self.version), mode=settings.measure_mode
            )
        except SotmeasureError as exc:
            raise InvalidInputError(str(exc)) from None


def _of_setup(session: Session, setup: ClinicSetup | None, clinic_id: int | None) -> CheckedSetup:
    if setup is None:
        return CheckedSetup(None, clinic_id)
    return CheckedSetup(current_version(session, setup), setup.clinic_id)


def setup_to_check(session: Session, user: User, setup_id: int | None) -> CheckedSetup:
    """The setup `setup_id` (current version; clinic scoped), or with None: the user's
    clinic's default setup, else the installation setup."""
    if setup_id is not None:
        return _of_setup(session, get_setup(session, user, setup_id), None)
    default = None
    if user.clinic_id is not None:
        default = session.scalar(
            select(ClinicSetup).where(
                ClinicSetup.clinic_id == user.clinic_id, ClinicSetup.is_default.is_(True)
            )
        )
    return _of_setup(session, default, user.clinic_id)


def setup_of_visit(session: Session, visit: Visit) -> CheckedSetup:
    """The setup a visit is measured with (its choice, the clinic's default, else the
    installation setup): the one whose rig check the visit page reports."""
    return _of_setup(session, setup_for_visit(session, visit), visit.patient.clinic_id)


def run_rig_check(
    session: Session,
    settings: Settings,
    user: User | None,
    video: Path,
    *,
    heights_mm: dict[str, float],
    video_name: str | None = None,
    target: CheckedSetup | None = None,
) -> RigCheck:
    """Measure the check sheets in `video` with `target` (None: the installation setup, for
    the user's clinic) and store the result (see `checked_and_stored`)."""
    return checked_and_stored(
        session,
        settings,
        user,
        video,
        heights_mm=heights_mm,
        video_name=video_name,
        target=target,
    )[0]


def checked_and_stored(
    session: Session,
    settings: Settings,
    user: User | None,
    video: Path,
    *,
    heights_mm: dict[str, float],
    video_name: str | None = None,
    target: CheckedSetup | None = None,
) -> tuple[RigCheck, RigCheckResult]:
    """The stored check and the measured result (the CLI prints the latter).

    `heights_mm`: sheet role ("heel", "hip") -> measured box height. A clip the check cannot
    use (sheets or table markers not seen) is an InvalidInputError with the reason. `user`
    None: run by the server's operator (`sotmeasure check-rig --setup-id`).
    """
    target = target or CheckedSetup(None, user.clinic_id if user else None)
    setup = target.load(settings)
    session.commit()  # no transaction held while the clip is measured
    try:
        result = check_rig(video, setup, heights_mm, settings.rig_check_tolerance_mm)
    except SotmeasureError as exc:
        raise InvalidInputError(str(exc)) from None
    row = _row(result, setup, target, user, video, video_name)
    session.add(row)
    session.commit()
    return row, result


def setup_by_id(session: Session, setup_id: int) -> CheckedSetup:
    """A clinic setup's current version by id, without a user's scope (the server operator's
    command line, like `sotmeasure users create`)."""
    setup = session.get(ClinicSetup, setup_id)
    if setup is None:
        raise NotFoundError("setup")
    return _of_setup(session, setup, None)


def run_uploaded_rig_check(
    ctx: AppContext,
    session: Session,
    user: User,
    stream: BinaryIO,
    *,
    filename: str | None,
    heights_mm: dict[str, float],
    setup_id: int | None = None,
    target: CheckedSetup | None = None,
) -> RigCheck:
    """Run a rig check on an uploaded clip with `target`, else the setup `setup_id` (None:
    the clinic's default, else the installation setup): kept in the scratch folder while it
    is measured (the clip itself is not stored, only its sha256 and the numbers)."""
    if target is None:  # not found before the upload is copied
        target = setup_to_check(session, user, setup_id)
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
            target=target,
        )
    finally:
        scratch.unlink(missing_ok=True)


def setup_details(setup: LoadedSetup) -> dict[str, Any]:
    """What was checked, in words and file names (stored with the check, printed by the CLI)."""
    return {
        "source": setup.source,
        "layout": setup.layout.name,
        "profile": setup.profile.name if setup.profile else None,
        "heel_plane_mm": setup.params.heel_plane_mm,
        "hip_plane_mm": setup.params.hip_plane_mm,
        "mode": setup.params.mode,
        "fingerprint": setup_fingerprint(setup),
    }


def _row(
    result: RigCheckResult,
    setup: LoadedSetup,
    target: CheckedSetup,
    user: User | None,
    video: Path,
    name: str | None,
) -> RigCheck:
    heel, hip = result.sheet("heel"), result.sheet("hip")
    details = result.to_dict()
    details["setup"] = setup_details(setup) | {
        "label": target.label,
        "setup_id": target.version.setup_id if target.version else None,
        "version": target.version.version if target.version else None,
    }
    return RigCheck(
        clinic_id=target.clinic_id,
        setup_key=target.key,
        setup_version=target.version.version if target.version else None,
        setup_version_id=target.version.id if target.version else None,
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
        created_by_id=user.id if user else None,
    )


def list_rig_checks(
    session: Session, user: User, limit: int = 50, setup_id: int | None = None
) -> list[RigCheck]:
    """The rig checks the user may see (own clinic; admins all), newest first; with
    `setup_id` only that clinic setup's (any version)."""
    stmt = select(RigCheck).order_by(RigCheck.created_at.desc(), RigCheck.id.desc())
    scope = clinic_scope(user)
    if scope is not None:
        stmt = stmt.where(RigCheck.clinic_id == scope)
    if setup_id is not None:
        stmt = stmt.where(RigCheck.setup_key == str(get_setup(session, user, setup_id).id))
    return list(session.scalars(stmt.limit(limit)))


@dataclass(frozen=True, slots=True)
class RigCheckStatus:
    """Whether a setup (as it is now) has a recent passing rig check, in one sentence."""

    due: bool
    message: str
    last_passing: RigCheck | None
    setup: CheckedSetup | None = None


def rig_check_status(
    session: Session,
    settings: Settings,
    user: User,
    now: datetime | None = None,
    *,
    setup_id: int | None = None,
) -> RigCheckStatus:
    """The status of `setup_id` (None: the clinic's default setup, else the installation
    setup); see `status_of`."""
    return status_of(session, settings, setup_to_check(session, user, setup_id), now)


def status_of(
    session: Session, settings: Settings, target: CheckedSetup, now: datetime | None = None
) -> RigCheckStatus:
    """Due when the setup as it is now (a clinic setup's current version; the installation
    setup's files and heights) has no passing check, or only one older than the period."""
    stmt = select(RigCheck).where(RigCheck.passed.is_(True))
    if target.version is not None:
        stmt = stmt.where(RigCheck.setup_version_id == target.version.id)
    else:
        try:
            fingerprint = setup_fingerprint(LoadedSetup.from_settings(settings))
        except SotmeasureError as exc:
            return RigCheckStatus(True, f"No rig check possible: {exc}", None, target)
        stmt = stmt.where(
            RigCheck.setup_key == INSTALLATION_SETUP,
            RigCheck.setup_fingerprint == fingerprint,
        )
        if target.clinic_id is not None:
            stmt = stmt.where(RigCheck.clinic_id == target.clinic_id)
    order = (RigCheck.created_at.desc(), RigCheck.id.desc())
    last = session.scalars(stmt.order_by(*order).limit(1)).first()
    name = _setup_name(target)
    if last is None:
        older = _older_version_note(session, target)
        return RigCheckStatus(
            True,
            f"{name} has no passing rig check{older}: print the check sheets and run one "
            "before relying on its millimetres.",
            None,
            target,
        )
    age = (now or utcnow()) - last.created_at
    limit = timedelta(days=settings.rig_check_max_age_days)
    if age > limit:
        return RigCheckStatus(
            True,
            f"The last passing rig check of {_lower(name)} is {age.days} days old (checks are "
            f"due every {settings.rig_check_max_age_days} days): run a new one.",
            last,
            target,
        )
    return RigCheckStatus(
        False,
        f"Last passing rig check of {_lower(name)}: {last.created_at:%Y-%m-%d} (#{last.id}).",
        last,
        target,
    )


def _setup_name(target: CheckedSetup) -> str:
    if target.version is None:
        return "The installation setup (settings file)"
    return f"Setup {target.version.setup.name} version {target.version.version}"


def _lower(name: str) -> str:
    return name[0].lower() + name[1:]


def _older_version_note(session: Session, target: CheckedSetup) -> str:
    """ ", (version 1 passed one; a new version needs its own)" when an older one passed."""
    if target.version is None:
        return ""
    older = session.scalar(
        select(RigCheck.setup_version)
        .where(
            RigCheck.setup_key == target.key,
            RigCheck.passed.is_(True),
            RigCheck.setup_version_id != target.version.id,
        )
        .order_by(RigCheck.created_at.desc(), RigCheck.id.desc())
        .limit(1)
    )
    if older is None:
        return ""
    return f" (version {older} passed one; a new version needs its own check)"


def setup_statuses(session: Session, settings: Settings, user: User) -> list[RigCheckStatus]:
    """The status of every clinic setup the user may manage (current versions), then the
    installation setup's (what visits without a setup use)."""
    rows = [
        status_of(session, settings, _of_setup(session, s, None))
        for s in list_setups(session, user)
    ]
    rows.append(status_of(session, settings, CheckedSetup(None, clinic_scope(user))))
    return rows
