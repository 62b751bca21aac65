"""sotmeasure.store: tables, engine/session factory, migrations, account rules.

See docs/DESIGN.md; the API (sotmeasure.api) is the only writer besides the CLI and the
background worker (sotmeasure.jobs).
"""

from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.models import (
    AuthToken,
    Base,
    Clinic,
    Measurement,
    Patient,
    Phase,
    Recording,
    Role,
    Status,
    User,
    Visit,
)

__all__ = [
    "AuthToken",
    "Base",
    "Clinic",
    "Measurement",
    "Patient",
    "Phase",
    "Recording",
    "Role",
    "Status",
    "User",
    "Visit",
    "make_engine",
    "make_session_factory",
    "upgrade_head",
]
