"""The de-identified research table (docs/api.md, "Research export: de-identification").

What leaves the server for research, and why:

- Subjects, sites, practitioners and visits appear as keyed hashes (HMAC-SHA256, 16 hex).
  With `study=NAME` the key is that study's secret, made at random the first time the
  study is named and stored only on the server (`research_studies`): the same patient
  keeps the same `subject_ref` in every export of the study, so longitudinal data joins,
  while references of different studies (or of exports without a study, which get a
  fresh key each) cannot be linked, and nobody without the secret can recompute them.
- No calendar dates: time is `days_since_first_visit` (relative to the subject's first
  visit on record, whatever the export's filters, so it is the same in every export) and
  `visit_number` (the visit's place among the subject's visits).
- No names, birth dates, patient codes, database ids, e-mail addresses, file names or
  recording hashes (the clinical export's `recording_sha256` is never repeated).
- Provenance reduced to an allow-list of keys (RESEARCH_PROVENANCE): the software, model,
  layout, profile and parameters that produced the numbers, never the video's name or
  hash, the measuring time, paths or whatever else an imported result carried.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import fields, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sotmeasure.processing.params import MeasureParams
from sotmeasure.services.access import clinic_scope
from sotmeasure.services.errors import InvalidInputError
from sotmeasure.services.exports import (
    NUMBER_COLUMNS,
    ExportFilter,
    Format,
    VisitChanges,
    encode,
    export_query,
    export_table,
    frames_json,
    measured_values,
    to_json,
)
from sotmeasure.settings import Settings
from sotmeasure.store.models import ResearchStudy, User, Visit

if TYPE_CHECKING:
    import pandas as pd

STUDY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_REF_HEX = 16

#: Provenance a research row keeps: top-level key -> the nested keys kept (empty: the key's
#: own value, a number or text). Everything else is dropped, at every level.
RESEARCH_PROVENANCE: dict[str, tuple[str, ...]] = {
    "software_version": (),
    "model": ("name", "sha256"),
    "layout": ("name", "sha256"),
    "profile": ("name", "sha256"),
    "table_pose": ("calibration", "reprojection_px", "reprojection_mm", "markers_used"),
    "parameters": tuple(f.name for f in fields(MeasureParams)),
    "demo_calibration": (),
}

_Scalar = str | int | float | bool | None


def _plain(value: Any) -> bool:
    """A number, text, flag or a list of them (nothing nested that could hide more)."""
    if isinstance(value, list):
        return all(isinstance(v, _Scalar) for v in value)
    return isinstance(value, _Scalar)


def research_provenance(provenance: Any) -> dict[str, Any]:
    """`prov_<key>` columns of the allow-listed provenance (nested values as JSON text)."""
    if not isinstance(provenance, dict):
        return {}
    out: dict[str, Any] = {}
    for key, kept in RESEARCH_PROVENANCE.items():
        value = provenance.get(key)
        if not kept:
            if value is not None and _plain(value):
                out[f"prov_{key}"] = value if isinstance(value, str) else to_json(value)
            continue
        if isinstance(value, dict):
            inner = {k: value[k] for k in kept if k in value and _plain(value[k])}
            out[f"prov_{key}"] = to_json(inner)
    return out


def study_key(session: Session, user: User, name: str) -> bytes:
    """The study's secret (made at random when the study is first named; race-safe)."""
    if not re.fullmatch(STUDY_NAME_PATTERN, name):
        raise InvalidInputError(
            "a study name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    query = select(ResearchStudy).where(ResearchStudy.name == name)
    study = session.scalar(query)
    if study is None:
        study = ResearchStudy(name=name, secret_hex=secrets.token_hex(32), created_by_id=user.id)
        try:
            with session.begin_nested():
                session.add(study)
            session.commit()
        except IntegrityError:  # the same study was just named by a concurrent export
            session.rollback()
            study = session.scalar(query)
            if study is None:
                raise
    return bytes.fromhex(study.secret_hex)


def _subject_visits(session: Session, patient_ids: set[int]) -> dict[int, list[tuple[date, int]]]:
    """Every visit (date, id) of the subjects, oldest first, whatever the export's filter."""
    out: dict[int, list[tuple[date, int]]] = {pid: [] for pid in patient_ids}
    if not patient_ids:
        return out
    rows = session.execute(
        select(Visit.patient_id, Visit.visit_date, Visit.id)
        .where(Visit.patient_id.in_(patient_ids))
        .order_by(Visit.visit_date, Visit.id)
    )
    for patient_id, visit_date, visit_id in rows:
        out[patient_id].append((visit_date, visit_id))
    return out


def _without_times(values: dict[str, Any]) -> dict[str, Any]:
    """The measured values without calendar times (`*_at` columns, e.g. `assisted_at`)."""
    return {k: v for k, v in values.items() if not k.endswith("_at")}


def research_table(
    session: Session,
    flt: ExportFilter,
    scope: int | None,
    settings: Settings,
    *,
    include_frames: bool,
    key: bytes | None = None,
) -> pd.DataFrame:
    """De-identified rows: keyed-hash ids (the study's key, else a new one), relative days;
    the visit's change and verdicts like the clinical table."""
    changes = VisitChanges(session, settings)
    key = key if key is not None else secrets.token_bytes(32)
    export_id = secrets.token_hex(8)

    def ref(kind: str, value: int | None) -> str | None:
        if value is None:
            return None
        digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:_REF_HEX]

    fetched = list(session.execute(export_query(replace(flt, only_done=True), scope)))
    visits = _subject_visits(session, {p.id for _m, _v, p, _c, _pr, _rec in fetched})
    rows: list[dict[str, Any]] = []
    for m, v, p, c, practitioner, _rec in fetched:
        history = visits[p.id]
        number = 1 + [visit_id for _d, visit_id in history].index(v.id)
        row: dict[str, Any] = {
            "export_id": export_id,
            "subject_ref": ref("patient", p.id),
            "site_ref": ref("clinic", c.id),
            "practitioner_ref": ref("user", practitioner.id if practitioner else None),
            "visit_ref": ref("visit", v.id),
            "visit_number": number,
            "days_since_first_visit": (v.visit_date - history[0][0]).days,
            "phase": m.phase,
            "source": m.source,
            **_without_times(measured_values(m)),
            **changes.columns(v, m),
            **research_provenance(m.provenance),
        }
        if include_frames:
            row["frames_json"] = frames_json(m)
        rows.append(row)
    return export_table(
        rows, ["export_id", "subject_ref", "visit_number", "phase", *NUMBER_COLUMNS]
    )


def export_research(
    session: Session,
    user: User,
    flt: ExportFilter,
    fmt: Format,
    settings: Settings,
    *,
    include_frames: bool,
    study: str | None = None,
) -> bytes:
    """The de-identified export (a researcher's clinic when they have one, else all);
    with `study`, references are stable across the study's exports."""
    key = study_key(session, user, study) if study is not None else None
    table = research_table(
        session, flt, clinic_scope(user), settings, include_frames=include_frames, key=key
    )
    return encode(table, fmt)
