"""Users, clinics and bearer tokens: the rules shared by the API and the CLI.

Passwords are hashed with argon2id (argon2-cffi); tokens are 256-bit random strings of
which only the sha256 is stored, with an expiry. Changing a user's password, role or active
status revokes all of that user's tokens (`revoke_user_tokens`). Nothing here logs a
password or token.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import unicodedata
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sotmeasure.errors import SotmeasureError
from sotmeasure.store.engine import lock_for_write
from sotmeasure.store.models import AuthToken, Clinic, Role, User
from sotmeasure.store.types import utcnow

MIN_PASSWORD_LENGTH = 10


class AccountError(SotmeasureError):
    """A user or clinic cannot be created or changed as asked."""


#: argon2id takes ~64 MiB and one core per hash: hashes run on at most half the cores at
#: once, so a flood of logins queues here instead of holding gigabytes, and the other
#: cores stay free for everyone else's requests (no database lock is held meanwhile).
_HASH_SLOTS = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1) // 2))


def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    """argon2id hash of a password that meets the minimum length."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with _HASH_SLOTS:
        return _hasher().hash(password)


# A real hash to verify against when the user does not exist, so that a login for an
# unknown e-mail takes as long as one with a wrong password (no user enumeration by timing).
_DUMMY_HASH = PasswordHasher().hash("not-a-real-password-0123456789")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; always spends one argon2 verification."""
    try:
        with _HASH_SLOTS:
            return _hasher().verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def clinic_key(name: str) -> str:
    """The form two clinic names are compared in: trimmed, NFC, case-folded, so that
    "my clinic" and "My Clinic" (and "ZOË" and "Zoë") name one clinic."""
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()


def find_clinic(session: Session, name: str, *, except_id: int | None = None) -> Clinic | None:
    """The clinic whose name equals `name` ignoring letter case, or None.

    Compared in Python, not SQL: SQLite's lower() folds ASCII letters only.
    """
    key = clinic_key(name)
    for clinic in session.scalars(select(Clinic).order_by(Clinic.id)):
        if clinic.id != except_id and clinic_key(clinic.name) == key:
            return clinic
    return None


def get_or_create_clinic(session: Session, name: str) -> Clinic:
    """The clinic with this name ignoring letter case, created when missing."""
    name = unicodedata.normalize("NFC", " ".join(name.split()))
    if not name:
        raise AccountError("a clinic needs a name")
    clinic = find_clinic(session, name)
    if clinic is None:
        clinic = Clinic(name=name)
        session.add(clinic)
        session.flush()
    return clinic


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    clinic: Clinic | None,
    full_name: str | None = None,
) -> User:
    """Add a user (not committed). Practitioners must belong to a clinic."""
    email = normalise_email(email)
    if "@" not in email:
        raise AccountError(f"not an e-mail address: {email!r}")
    if role is Role.PRACTITIONER and clinic is None:
        raise AccountError("a practitioner must belong to a clinic (--clinic)")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user with e-mail {email} already exists")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role.value,
        clinic_id=clinic.id if clinic else None,
        full_name=full_name,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (one answer for every failure)."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, lifetime: timedelta) -> tuple[str, datetime]:
    """A new bearer token for `user` (not committed); only its digest is stored."""
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + lifetime
    session.add(AuthToken(user_id=user.id, token_sha256=token_digest(token), expires_at=expires_at))
    return token, expires_at


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a valid (known, unexpired, unrevoked) token belongs to, else None.

    One query for the token's state and its user (every API request runs it)."""
    row = session.execute(
        select(User, AuthToken.revoked_at, AuthToken.expires_at)
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(AuthToken.token_sha256 == token_digest(token))
    ).first()
    if row is None:
        return None
    user, revoked_at, expires_at = row
    if revoked_at is not None or expires_at <= utcnow() or not user.active:
        return None
    return user


def revoke_token(session: Session, token: str) -> None:
    row = session.scalar(select(AuthToken).where(AuthToken.token_sha256 == token_digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_user_tokens(session: Session, user_id: int) -> None:
    """Revoke every unrevoked token of a user (not committed): called when the password,
    role or active status changes, so a token issued before the change stops working."""
    session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


LAST_ADMIN = (
    "this is the last active admin: make another user an active admin first, "
    "then demote or deactivate this one"
)


def other_active_admins(session: Session, user_id: int) -> int:
    """How many active admins there are besides `user_id` (the write lock taken first on
    SQLite, rows locked on PostgreSQL, so two admins demoting each other at once cannot both
    succeed)."""
    lock_for_write(session)
    rows = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user_id)
        .with_for_update()
    )
    return len(list(rows))
