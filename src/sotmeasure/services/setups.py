"""A clinic's setups (per room) in versions: create, edit (a new version), choose per visit.

The rules in one place:
- who: an admin, or a practitioner of the setup's clinic (others see "not found");
- a setup's numbers and files live in immutable versions; an edit adds version n+1 and
  moves `current_version`; nothing ever changes or deletes a version a measurement used;
- a measurement is fixed to a version when it is queued (`version_for_visit`): the visit's
  chosen setup, else the clinic's default setup, else None = the installation setup of the
  settings file (as before setups existed; see docs/calibration.md, "Setups");
- a layout and a profile are checked by the same loaders the measurement uses before they
  are stored, so a version that is stored can be measured with.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sotmeasure.errors import SotmeasureError
from sotmeasure.processing.setup import resolve_setup
from sotmeasure.services.access import clinic_scope, get_visit
from sotmeasure.services.cameras import camera_choices
from sotmeasure.services.errors import ConflictError, InvalidInputError, NotFoundError
from sotmeasure.services.setup_inputs import (
    GENERIC_NUMBERS,
    NUMBER_FIELDS,
    SetupCreate,
    SetupUpdate,
    SetupVersionCreate,
)
from sotmeasure.settings import Settings
from sotmeasure.store.models import (
    Clinic,
    ClinicSetup,
    Measurement,
    Role,
    SetupVersion,
    User,
    Visit,
)


def _may_see(user: User, clinic_id: int) -> bool:
    scope = clinic_scope(user)
    return user.role != Role.RESEARCHER.value and (scope is None or scope == clinic_id)


def list_setups(session: Session, user: User, clinic_id: int | None = None) -> list[ClinicSetup]:
    """The setups the user may manage (an admin: all, or one clinic's), by clinic and name."""
    if user.role == Role.RESEARCHER.value:
        return []
    stmt = select(ClinicSetup).order_by(ClinicSetup.clinic_id, ClinicSetup.name)
    scope = clinic_scope(user)
    if scope is not None:
        stmt = stmt.where(ClinicSetup.clinic_id == scope)
    elif clinic_id is not None:
        stmt = stmt.where(ClinicSetup.clinic_id == clinic_id)
    return list(session.scalars(stmt))


def get_setup(session: Session, user: User, setup_id: int) -> ClinicSetup:
    setup = session.get(ClinicSetup, setup_id)
    if setup is None or not _may_see(user, setup.clinic_id):
        raise NotFoundError("setup")
    return setup


def get_version(session: Session, user: User, setup_id: int, version: int) -> SetupVersion:
    setup = get_setup(session, user, setup_id)
    row = session.scalar(
        select(SetupVersion).where(
            SetupVersion.setup_id == setup.id, SetupVersion.version == version
        )
    )
    if row is None:
        raise NotFoundError("setup version")
    return row


def current_version(session: Session, setup: ClinicSetup) -> SetupVersion:
    row = session.scalar(
        select(SetupVersion).where(
            SetupVersion.setup_id == setup.id, SetupVersion.version == setup.current_version
        )
    )
    if row is None:  # a setup is created with its version 1 in one transaction
        raise NotFoundError("setup version")
    return row


def list_versions(session: Session, user: User, setup_id: int) -> list[SetupVersion]:
    """Every version of a setup, newest first."""
    setup = get_setup(session, user, setup_id)
    return list(
        session.scalars(
            select(SetupVersion)
            .where(SetupVersion.setup_id == setup.id)
            .order_by(SetupVersion.version.desc())
        )
    )


def measurements_per_version(session: Session, versions: list[SetupVersion]) -> dict[int, int]:
    """How many measurements used each version (by `setup_versions.id`)."""
    rows = session.execute(
        select(Measurement.setup_version_id, func.count())
        .where(Measurement.setup_version_id.in_([v.id for v in versions]))
        .group_by(Measurement.setup_version_id)
    ).all()
    return {int(version_id): int(count) for version_id, count in rows if version_id is not None}


def _clinic_for_new(session: Session, user: User, clinic_id: int | None) -> int:
    if user.role == Role.ADMIN.value:
        if clinic_id is None:
            raise InvalidInputError("clinic_id is required when an admin creates a setup")
        if session.get(Clinic, clinic_id) is None:
            raise InvalidInputError(f"clinic {clinic_id} does not exist")
        return clinic_id
    if user.role != Role.PRACTITIONER.value or user.clinic_id is None:
        raise InvalidInputError("only an admin or a practitioner of a clinic manages setups")
    if clinic_id is not None and clinic_id != user.clinic_id:
        raise InvalidInputError("a practitioner creates setups of their own clinic only")
    return user.clinic_id


def _name_free(session: Session, clinic_id: int, name: str, but: int | None = None) -> None:
    other = session.scalar(
        select(ClinicSetup.id).where(ClinicSetup.clinic_id == clinic_id, ClinicSetup.name == name)
    )
    if other is not None and other != but:
        raise ConflictError(f"this clinic already has a setup named {name!r}")


def _make_default(session: Session, setup: ClinicSetup) -> None:
    """The one default setup of its clinic (the others lose the flag)."""
    session.execute(
        update(ClinicSetup)
        .where(ClinicSetup.clinic_id == setup.clinic_id, ClinicSetup.id != setup.id)
        .values(is_default=False)
    )
    setup.is_default = True


def _check_camera(settings: Settings, camera: str | None) -> None:
    """A setup's camera is one this server offers (never any path a client names)."""
    if camera and camera not in {c.spec for c in camera_choices(settings)}:
        raise InvalidInputError(f"this server has no camera {camera!r} (see GET /cameras)")


def create_setup(
    settings: Settings, session: Session, user: User, body: SetupCreate
) -> ClinicSetup:
    """A new setup with its version 1 (committed)."""
    _check_camera(settings, body.camera)
    clinic_id = _clinic_for_new(session, user, body.clinic_id)
    _name_free(session, clinic_id, body.name)
    if body.layout_json is None:
        raise InvalidInputError("a setup needs its table's target layout (layout_json)")
    setup = ClinicSetup(
        clinic_id=clinic_id,
        name=body.name,
        room=body.room or None,
        camera=body.camera or None,
        is_default=False,
        current_version=0,
        created_by_id=user.id,
    )
    session.add(setup)
    session.flush()
    if body.is_default:
        _make_default(session, setup)
    _add_version(session, user, setup, None, body)
    session.commit()
    return setup


def update_setup(
    settings: Settings, session: Session, user: User, setup_id: int, body: SetupUpdate
) -> ClinicSetup:
    """Rename, move to another room or camera, make default (no new version: no number
    changes)."""
    setup = get_setup(session, user, setup_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("camera") and changes["camera"] != setup.camera:
        _check_camera(settings, changes["camera"])
    if changes.get("name"):
        _name_free(session, setup.clinic_id, changes["name"], but=setup.id)
        setup.name = changes["name"]
    if "room" in changes:
        setup.room = changes["room"] or None
    if "camera" in changes:
        setup.camera = changes["camera"] or None
    if changes.get("is_default") is True:
        _make_default(session, setup)
    elif changes.get("is_default") is False:
        setup.is_default = False
    session.commit()
    return setup


def add_version(
    session: Session,
    user: User,
    setup_id: int,
    body: SetupVersionCreate,
    *,
    calibration_report: dict[str, Any] | None = None,
) -> SetupVersion:
    """Version n+1: the current version with the sent changes (committed)."""
    setup = get_setup(session, user, setup_id)
    row = _add_version(
        session, user, setup, current_version(session, setup), body, calibration_report
    )
    session.commit()
    return row


def _add_version(
    session: Session,
    user: User,
    setup: ClinicSetup,
    base: SetupVersion | None,
    body: SetupVersionCreate,
    calibration_report: dict[str, Any] | None = None,
) -> SetupVersion:
    sent = body.model_dump(exclude_unset=True)
    numbers: dict[str, Any] = {}
    for key in NUMBER_FIELDS:
        if key in sent:
            numbers[key] = sent[key]
        elif base is not None:
            numbers[key] = getattr(base, key)
        else:
            numbers[key] = GENERIC_NUMBERS[key]
    for key in ("plane_uncertainty_mm", "heel_sticker_rgb", "psis_sticker_rgb"):
        if numbers[key] is None:
            raise InvalidInputError(f"{key} cannot be empty")
    for key in NUMBER_FIELDS:
        if key.endswith("_plane_mm") and numbers[key] is None:
            raise InvalidInputError(f"{key} cannot be empty")
    layout_name, layout_json = _layout(body.layout_json, base)
    profile_name, profile_toml = _profile(body, base)
    if body.profile_toml is None and base is not None and not body.homography_only:
        calibration_report = calibration_report or base.calibration_report
    row = SetupVersion(
        setup_id=setup.id,
        version=setup.current_version + 1,
        note=body.note,
        layout_name=layout_name,
        layout_json=layout_json,
        profile_name=profile_name,
        profile_toml=profile_toml,
        calibration_report=calibration_report if profile_toml is not None else None,
        created_by_id=user.id,
        **numbers,
    )
    session.add(row)
    setup.current_version = row.version
    session.flush()
    return row


def _layout(text: str | None, base: SetupVersion | None) -> tuple[str, str]:
    if text is None:
        if base is None:
            raise InvalidInputError("a setup needs its table's target layout (layout_json)")
        return base.layout_name, base.layout_json
    from sotmeasure.geometry.layout import load_layout

    layout = _parsed(text, "layout.json", load_layout, "target layout")
    return str(layout.name)[:200], text


def _profile(body: SetupVersionCreate, base: SetupVersion | None) -> tuple[str | None, str | None]:
    if body.homography_only:
        if body.profile_toml is not None:
            raise InvalidInputError("send a camera profile or homography_only, not both")
        return None, None
    if body.profile_toml is None:
        return (base.profile_name, base.profile_toml) if base is not None else (None, None)
    from sotmeasure.geometry.profile import load_profile

    profile = _parsed(body.profile_toml, "profile.toml", load_profile, "camera profile")
    return str(profile.name)[:200], body.profile_toml


def _parsed(text: str, name: str, loader: Any, what: str) -> Any:
    """The file's text read by the measurement's own loader (so a stored file loads)."""
    with tempfile.TemporaryDirectory(prefix="sotmeasure-setup-") as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        try:
            return loader(path)
        except SotmeasureError as exc:
            message = str(exc).replace(str(path), name)
            raise InvalidInputError(f"the {what} cannot be used: {message}") from None


def choose_for_visit(session: Session, user: User, visit_id: int, setup_id: int | None) -> Visit:
    """Which setup a visit is measured with (None: the clinic's default); committed."""
    visit = get_visit(session, user, visit_id)
    if setup_id is not None:
        setup = get_setup(session, user, setup_id)
        if setup.clinic_id != visit.patient.clinic_id:
            raise InvalidInputError("the setup belongs to another clinic than the patient")
    visit.setup_id = setup_id
    session.commit()
    return visit


def setup_for_visit(session: Session, visit: Visit) -> ClinicSetup | None:
    """The visit's chosen setup, else its clinic's default, else None (installation setup)."""
    if visit.setup_id is not None:
        chosen = session.get(ClinicSetup, visit.setup_id)
        if chosen is not None:
            return chosen
    return session.scalar(
        select(ClinicSetup).where(
            ClinicSetup.clinic_id == visit.patient.clinic_id, ClinicSetup.is_default.is_(True)
        )
    )


def version_for_visit(session: Session, visit: Visit) -> SetupVersion | None:
    """The version a measurement queued now for this visit is fixed to (None: installation)."""
    setup = setup_for_visit(session, visit)
    return None if setup is None else current_version(session, setup)


def installation_setup_words(settings: Settings) -> str:
    """What the installation setup (settings file) is, for the setups page."""
    try:
        files = resolve_setup(settings)
    except SotmeasureError as exc:
        return f"none usable ({exc})"
    named = ", ".join(f"{k} {v}" for k, v in files.describe().items() if v and k != "source")
    return f"{named} ({files.source})"


def version_label(version: SetupVersion | None) -> str:
    """How pages and exports name a setup version ("Room 1 v2 (setup 3)")."""
    if version is None:
        return "installation setup (settings file)"
    return f"{version.setup.name} v{version.version} (setup {version.setup_id})"
