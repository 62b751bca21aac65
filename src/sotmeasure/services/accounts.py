"""Account rules shared by the API, the pages and the CLI: users and clinics.

Users: an admin adds, changes, deactivates and resets users; anyone changes their own
password by giving the current one. Every change of password, role or active status
revokes the user's tokens (`store.accounts.revoke_user_tokens`), and the last active admin
can be neither demoted nor deactivated.

Clinics: names are compared ignoring letter case (Unicode case folding, NFC), so "my clinic"
finds "My Clinic" instead of making a second clinic. A clinic can be renamed; an empty one
(no patients, nothing else of its own) can be merged into another (its users move) or
deleted (only when it has no users either). "Empty" is read from every table that refers to
the clinics table, so a table added later is respected without changing this module.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sotmeasure.services.errors import ConflictError, InvalidInputError, NotFoundError
from sotmeasure.store.accounts import (
    LAST_ADMIN,
    AccountError,
    create_user,
    find_clinic,
    hash_password,
    other_active_admins,
    revoke_user_tokens,
    verify_password,
)
from sotmeasure.store.models import Base, Clinic, Role, User

WRONG_CURRENT_PASSWORD = "the current password is not correct"


class ForbiddenError(InvalidInputError):
    """The user may not do this (answered 403)."""

    status_code = 403


# --- clinics --------------------------------------------------------------------------


def _clean_clinic_name(name: str) -> str:
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if not cleaned:
        raise InvalidInputError("a clinic needs a name")
    if len(cleaned) > 200:
        raise InvalidInputError("a clinic name has at most 200 characters")
    return cleaned


def _same_name_exists(existing: Clinic) -> ConflictError:
    return ConflictError(
        f"a clinic named {existing.name!r} already exists "
        "(clinic names are compared ignoring letter case)"
    )


@dataclass(frozen=True, slots=True)
class ClinicMatch:
    """The clinic a typed name stands for, and how it was found."""

    clinic: Clinic
    created: bool
    typed: str

    @property
    def other_case(self) -> bool:
        """The typed name differs from the stored one (only in letter case)."""
        return not self.created and self.typed.strip() != self.clinic.name

    def sentence(self) -> str:
        """What to tell the person who typed the name."""
        if self.created:
            return f"created the new clinic {self.clinic.name!r}"
        if self.other_case:
            return (
                f"using the existing clinic {self.clinic.name!r} "
                f"(you typed {self.typed.strip()!r}; names are compared ignoring letter case)"
            )
        return f"using the existing clinic {self.clinic.name!r}"


def clinic_for_name(session: Session, name: str) -> ClinicMatch:
    """The existing clinic of that name ignoring case, else a new one (not committed)."""
    cleaned = _clean_clinic_name(name)
    existing = find_clinic(session, cleaned)
    if existing is not None:
        return ClinicMatch(existing, created=False, typed=name)
    clinic = Clinic(name=cleaned)
    session.add(clinic)
    session.flush()
    return ClinicMatch(clinic, created=True, typed=name)


def create_clinic(session: Session, name: str) -> Clinic:
    """A new clinic; ConflictError when one of that name exists ignoring case (committed)."""
    cleaned = _clean_clinic_name(name)
    existing = find_clinic(session, cleaned)
    if existing is not None:
        raise _same_name_exists(existing)
    clinic = Clinic(name=cleaned)
    session.add(clinic)
    session.commit()
    return clinic


def get_clinic(session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFoundError("clinic")
    return clinic


def clinic_by_name_or_id(session: Session, ref: str) -> Clinic:
    """A clinic named by its id (digits) or its name ignoring case (the CLI's argument)."""
    if ref.strip().isdigit():
        return get_clinic(session, int(ref.strip()))
    clinic = find_clinic(session, ref)
    if clinic is None:
        raise NotFoundError(f"clinic {ref.strip()!r}")
    return clinic


def rename_clinic(session: Session, clinic_id: int, new_name: str) -> Clinic:
    """Give a clinic a new name (unique ignoring case; a change of case only is allowed)."""
    clinic = get_clinic(session, clinic_id)
    cleaned = _clean_clinic_name(new_name)
    clash = find_clinic(session, cleaned, except_id=clinic.id)
    if clash is not None:
        raise _same_name_exists(clash)
    clinic.name = cleaned
    session.commit()
    return clinic


def _rows_referring_to_clinic(session: Session, clinic_id: int) -> dict[str, int]:
    """Rows of each table that refer to the clinic (table name -> count, zeros left out)."""
    counts: dict[str, int] = {}
    clinics = Base.metadata.tables[Clinic.__tablename__]
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not clinics:
                continue
            n = session.scalar(
                select(func.count()).select_from(table).where(fk.parent == clinic_id)
            )
            if n:
                counts[table.name] = counts.get(table.name, 0) + int(n)
    return counts


@dataclass(frozen=True, slots=True)
class ClinicSummary:
    """A clinic with what refers to it: the admin page's and `clinics list`'s line."""

    clinic: Clinic
    users: int
    patients: int
    other: dict[str, int]

    @property
    def mergeable(self) -> bool:
        """Nothing but users refers to it: its users can move to another clinic."""
        return self.patients == 0 and not self.other

    @property
    def deletable(self) -> bool:
        return self.mergeable and self.users == 0


def _summary(session: Session, clinic: Clinic) -> ClinicSummary:
    counts = _rows_referring_to_clinic(session, clinic.id)
    users = counts.pop("users", 0)
    patients = counts.pop("patients", 0)
    return ClinicSummary(clinic, users, patients, counts)


def list_clinics(session: Session) -> list[ClinicSummary]:
    """Every clinic by name, with its counts of users, patients and other rows."""
    clinics = session.scalars(select(Clinic).order_by(Clinic.name, Clinic.id))
    return [_summary(session, c) for c in clinics]


def _not_empty(summary: ClinicSummary) -> ConflictError:
    held = [f"{summary.patients} patient(s)"] if summary.patients else []
    held += [f"{n} {table} row(s)" for table, n in sorted(summary.other.items())]
    return ConflictError(
        f"clinic {summary.clinic.name!r} has {', '.join(held)}: only an empty clinic "
        "(no patients) can be merged or deleted"
    )


def merge_clinic(session: Session, source_id: int, target_id: int) -> int:
    """Move the users of an empty clinic to `target_id` and delete it; returns how many
    users moved (committed). Refused when the source has patients (their records stay)."""
    if source_id == target_id:
        raise InvalidInputError("a clinic cannot be merged into itself")
    source = _summary(session, get_clinic(session, source_id))
    target = get_clinic(session, target_id)
    if not source.mergeable:
        raise _not_empty(source)
    session.execute(update(User).where(User.clinic_id == source_id).values(clinic_id=target.id))
    session.delete(source.clinic)
    session.commit()
    return source.users


def delete_clinic(session: Session, clinic_id: int) -> None:
    """Delete a clinic nobody and nothing belongs to (committed)."""
    summary = _summary(session, get_clinic(session, clinic_id))
    if not summary.mergeable:
        raise _not_empty(summary)
    if summary.users:
        raise ConflictError(
            f"clinic {summary.clinic.name!r} still has {summary.users} user(s): "
            "merge it into another clinic to move them, or move them first"
        )
    session.delete(summary.clinic)
    session.commit()


# --- users ----------------------------------------------------------------------------


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFoundError(f"user {email.strip()!r}")
    return user


def list_users(session: Session, *, limit: int = 1000, offset: int = 0) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)))


def add_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    clinic_id: int | None,
    full_name: str | None = None,
) -> User:
    """Add a user (committed): ConflictError for a taken e-mail, InvalidInputError else."""
    clinic = get_clinic_or_invalid(session, clinic_id)
    try:
        user = create_user(
            session, email=email, password=password, role=role, clinic=clinic, full_name=full_name
        )
    except AccountError as exc:
        if "already exists" in str(exc):
            raise ConflictError(str(exc)) from None
        raise InvalidInputError(str(exc)) from None
    session.commit()
    return user


def get_clinic_or_invalid(session: Session, clinic_id: int | None) -> Clinic | None:
    """The clinic a form or body names (None for none); InvalidInputError when unknown."""
    if clinic_id is None:
        return None
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise InvalidInputError("no such clinic")
    return clinic


def _set_password(user: User, password: str) -> None:
    try:
        user.password_hash = hash_password(password)
    except AccountError as exc:
        raise InvalidInputError(str(exc)) from None


def update_user(
    session: Session, actor_id: int | None, user_id: int, changes: dict[str, Any]
) -> User:
    """An admin's change of role, clinic, name, active status or password (committed);
    `actor_id` None is the operator at the terminal (the CLI).

    A new password, role or active status revokes every token the user holds. Refused: an
    admin deactivating themself, a practitioner without a clinic, losing the last admin.
    """
    user = get_user(session, user_id)
    before = (user.password_hash, user.role, user.active)
    if "clinic_id" in changes:
        get_clinic_or_invalid(session, changes["clinic_id"])
        user.clinic_id = changes["clinic_id"]
    if changes.get("role") is not None:
        user.role = Role(changes["role"]).value
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if changes.get("active") is not None:
        if user.id == actor_id and not changes["active"]:
            raise InvalidInputError("you cannot deactivate yourself")
        user.active = bool(changes["active"])
    if changes.get("password"):
        _set_password(user, changes["password"])
    if user.role == Role.PRACTITIONER.value and user.clinic_id is None:
        raise InvalidInputError("a practitioner must belong to a clinic")
    was_admin = before[1] == Role.ADMIN.value and before[2]
    still_admin = user.role == Role.ADMIN.value and user.active
    if was_admin and not still_admin and other_active_admins(session, user.id) == 0:
        raise ConflictError(LAST_ADMIN)
    if (user.password_hash, user.role, user.active) != before:
        revoke_user_tokens(session, user.id)
    session.commit()
    return user


def change_own_password(session: Session, user_id: int, current: str, new: str) -> User:
    """The user's own password change: the current password is required; every token of
    the user is revoked (the caller issues a fresh one for the session it keeps)."""
    user = get_user(session, user_id)
    if not verify_password(user.password_hash, current):
        raise ForbiddenError(WRONG_CURRENT_PASSWORD)
    if new == current:
        raise InvalidInputError("the new password is the same as the current one")
    _set_password(user, new)
    revoke_user_tokens(session, user.id)
    session.commit()
    return user


def set_active(session: Session, actor_id: int | None, user_id: int, active: bool) -> User:
    """Activate or deactivate a user (`actor_id` None: the operator at the terminal)."""
    return update_user(session, actor_id, user_id, {"active": active})


def reset_password(session: Session, actor_id: int | None, user_id: int, new: str) -> User:
    """Set a user's password without the current one (an admin, or the terminal)."""
    return update_user(session, actor_id, user_id, {"password": new})
