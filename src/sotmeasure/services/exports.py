"""Tables for the exports: the clinical one (with provenance), and the pieces the
de-identified research table (services/research.py) shares with it.

Both tables carry the visit's pre/post change on each of its rows (`visit_*` columns): the
change post - pre with its 95% CI and the verdicts exactly as the visit page and
`GET /visits/{id}/comparison` give them (`services.comparison.compare_visit`, which uses
`measure.compare.change_half_widths`), with the installation's MDC95;
`in_visit_comparison` marks the two rows compared, and `visit_pre_numbers` /
`visit_post_numbers` say which numbers of each entered the change ("assisted": the
practitioner's placed points, "automatic"). A visit without both phases finished has
empty change columns and says why in `visit_comparison_note`.

In every CSV export a text cell starting with =, +, -, @, a tab or a carriage return is
prefixed with a single quote so that a spreadsheet shows it as text instead of running it
as a formula (CSV injection); numbers are never escaped.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from sotmeasure.errors import SotmeasureError
from sotmeasure.measure.result import ResultRecord
from sotmeasure.services.access import clinic_scope
from sotmeasure.services.assisted import export_columns as assisted_columns
from sotmeasure.services.comparison import compare_visit
from sotmeasure.services.errors import InvalidInputError
from sotmeasure.services.measurements import measurement_mode
from sotmeasure.settings import Settings
from sotmeasure.store.models import (
    RESULT_NUMBER_COLUMNS,
    Clinic,
    Measurement,
    Patient,
    Recording,
    Status,
    User,
    Visit,
)

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["csv", "parquet"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def download_headers(name: str, fmt: Format) -> dict[str, str]:
    """The headers of an export answer: a file to save, never cached (patient data)."""
    return {
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
        "Cache-Control": "no-store",
    }


_ExportSelect = Select[Measurement, Visit, Patient, Clinic, User, Recording]

NUMBER_COLUMNS = RESULT_NUMBER_COLUMNS


@dataclass(frozen=True, slots=True)
class ExportFilter:
    clinic_id: int | None = None  # None = every clinic the user may see
    patient_id: int | None = None
    practitioner_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    only_done: bool = True


def export_filter(
    clinic_id: int | None = None,
    patient_id: int | None = None,
    practitioner_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    only_done: bool = True,
) -> ExportFilter:
    """The rows to export; InvalidInputError when the date range is reversed."""
    if date_from and date_to and date_from > date_to:
        raise InvalidInputError("date_from is after date_to")
    return ExportFilter(clinic_id, patient_id, practitioner_id, date_from, date_to, only_done)


def export_measurements(
    session: Session,
    user: User,
    flt: ExportFilter,
    fmt: Format,
    settings: Settings,
    *,
    include_frames: bool,
    include_identity: bool,
) -> bytes:
    """The clinical export the user may see (their clinic; admins: every clinic)."""
    table = measurements_table(
        session,
        flt,
        clinic_scope(user),
        settings,
        include_frames=include_frames,
        include_identity=include_identity,
    )
    return encode(table, fmt)


CHANGE_COLUMNS = (
    "visit_lld_change_mm",
    "visit_lld_change_ci95_low_mm",
    "visit_lld_change_ci95_high_mm",
    "visit_lld_verdict",
    "visit_pelvic_tilt_change_deg",
    "visit_pelvic_tilt_change_ci95_low_deg",
    "visit_pelvic_tilt_change_ci95_high_deg",
    "visit_pelvic_tilt_verdict",
    "visit_mdc95_lld_mm",
    "visit_mdc95_pelvic_tilt_deg",
    "visit_pre_numbers",
    "visit_post_numbers",
    "visit_comparison_note",
)


@dataclass(frozen=True, slots=True)
class _VisitChange:
    """One visit's change columns and the ids of the two measurements they compare."""

    columns: dict[str, Any]
    compared_ids: frozenset[int]


def _visit_change(session: Session, settings: Settings, visit: Visit) -> _VisitChange:
    """The visit's comparison as export columns (empty with the reason when there is none)."""
    try:
        compared = compare_visit(session, settings, visit)
    except SotmeasureError as exc:  # a phase not finished yet, or an unreadable result
        empty: dict[str, Any] = dict.fromkeys(CHANGE_COLUMNS)
        empty["visit_comparison_note"] = str(exc)
        return _VisitChange(empty, frozenset())
    c = compared.comparison
    lld_low, lld_high = c.lld_change_ci95_mm
    tilt_low, tilt_high = c.tilt_change_ci95_deg
    columns = {
        "visit_lld_change_mm": c.lld_change_mm,
        "visit_lld_change_ci95_low_mm": lld_low,
        "visit_lld_change_ci95_high_mm": lld_high,
        "visit_lld_verdict": c.lld_verdict,
        "visit_pelvic_tilt_change_deg": c.tilt_change_deg,
        "visit_pelvic_tilt_change_ci95_low_deg": tilt_low,
        "visit_pelvic_tilt_change_ci95_high_deg": tilt_high,
        "visit_pelvic_tilt_verdict": c.tilt_verdict,
        "visit_mdc95_lld_mm": c.mdc95.lld_mm,
        "visit_mdc95_pelvic_tilt_deg": c.mdc95.pelvic_tilt_deg,
        "visit_pre_numbers": c.used_pre.source.value,
        "visit_post_numbers": c.used_post.source.value,
        "visit_comparison_note": None,
    }
    return _VisitChange(columns, frozenset({compared.pre_row.id, compared.post_row.id}))


class VisitChanges:
    """Each visit's change, computed once per export however many rows the visit has."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session, self._settings = session, settings
        self._done: dict[int, _VisitChange] = {}

    def columns(self, visit: Visit, measurement: Measurement) -> dict[str, Any]:
        if visit.id not in self._done:
            self._done[visit.id] = _visit_change(self._session, self._settings, visit)
        change = self._done[visit.id]
        return {**change.columns, "in_visit_comparison": measurement.id in change.compared_ids}


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _provenance_columns(provenance: Any) -> dict[str, str | None]:
    """Top-level provenance keys as `prov_<key>` text columns (nested values as JSON)."""
    if not isinstance(provenance, dict):
        return {}
    return {
        f"prov_{key}": value if isinstance(value, str) or value is None else to_json(value)
        for key, value in provenance.items()
    }


def export_query(flt: ExportFilter, scope: int | None) -> _ExportSelect:
    practitioner = aliased(User)
    stmt: _ExportSelect = (
        select(Measurement, Visit, Patient, Clinic, practitioner, Recording)
        .join(Visit, Visit.id == Measurement.visit_id)
        .join(Patient, Patient.id == Visit.patient_id)
        .join(Clinic, Clinic.id == Patient.clinic_id)
        .outerjoin(practitioner, practitioner.id == Visit.practitioner_id)
        .outerjoin(Recording, Recording.id == Measurement.recording_id)
        .where(Measurement.deleted_at.is_(None))
        .order_by(Visit.visit_date, Measurement.id)
    )
    if scope is not None:
        stmt = stmt.where(Patient.clinic_id == scope)
    if flt.clinic_id is not None:
        stmt = stmt.where(Patient.clinic_id == flt.clinic_id)
    if flt.patient_id is not None:
        stmt = stmt.where(Patient.id == flt.patient_id)
    if flt.practitioner_id is not None:
        stmt = stmt.where(Visit.practitioner_id == flt.practitioner_id)
    if flt.date_from is not None:
        stmt = stmt.where(Visit.visit_date >= flt.date_from)
    if flt.date_to is not None:
        stmt = stmt.where(Visit.visit_date <= flt.date_to)
    if flt.only_done:
        stmt = stmt.where(Measurement.status == Status.DONE.value)
    return stmt


def measured_values(m: Measurement) -> dict[str, Any]:
    return {
        **{name: getattr(m, name) for name in NUMBER_COLUMNS},
        "short_side": m.short_side,
        "mode": measurement_mode(m),
        "calibration": m.calibration,
        "frames_used": _int_or_none(m.frames_used),
        "frames_rejected_json": to_json(m.frames_rejected),
        "error_budget_json": to_json(m.error_budget),
        "blocking_blocks": m.blocking_blocks,
        "blocking_placement": m.blocking_placement,
        "blocking_category": m.blocking_category,
        **assisted_columns(m),
    }


def frames_json(m: Measurement) -> str | None:
    """The per-frame values as stored (an import's own frame format is kept as it came)."""
    if not isinstance(m.result, dict):
        return None
    return to_json(ResultRecord.from_dict(m.result).to_dict().get("frames"))


def measurements_table(
    session: Session,
    flt: ExportFilter,
    scope: int | None,
    settings: Settings,
    *,
    include_frames: bool,
    include_identity: bool,
) -> pd.DataFrame:
    """One row per measurement, with clinic, patient code, visit, practitioner, the visit's
    change and verdicts, provenance."""
    changes = VisitChanges(session, settings)
    rows: list[dict[str, Any]] = []
    for m, v, p, c, practitioner, rec in session.execute(export_query(flt, scope)):
        row: dict[str, Any] = {
            "measurement_id": m.id,
            "status": m.status,
            "failure_reason": m.failure_reason,
            "clinic_id": c.id,
            "clinic_name": c.name,
            "patient_id": p.id,
            "patient_code": p.code,
        }
        if include_identity:
            row["patient_name"] = p.name
            row["patient_birth_date"] = p.birth_date.isoformat() if p.birth_date else None
        row |= {
            "visit_id": v.id,
            "visit_date": v.visit_date.isoformat(),
            "practitioner_id": practitioner.id if practitioner else None,
            "practitioner_email": practitioner.email if practitioner else None,
            "phase": m.phase,
            "measured_phase": m.measured_phase or m.phase,
            "source": m.source,
            **measured_values(m),
            **changes.columns(v, m),
            "recording_sha256": rec.sha256 if rec else None,
            "created_at": m.created_at.isoformat(),
            "finished_at": m.finished_at.isoformat() if m.finished_at else None,
            **_provenance_columns(m.provenance),
        }
        if include_frames:
            row["frames_json"] = frames_json(m)
        rows.append(row)
    return export_table(
        rows, ["measurement_id", "patient_code", "visit_date", "phase", *NUMBER_COLUMNS]
    )


def export_table(rows: list[dict[str, Any]], empty_columns: list[str]) -> pd.DataFrame:
    import pandas as pd  # half a second to import: only when an export is made

    if not rows:
        return pd.DataFrame(columns=empty_columns)
    frame = pd.DataFrame(rows)
    for column in (*NUMBER_COLUMNS, *_CHANGE_NUMBER_COLUMNS):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if "frames_used" in frame:
        frame["frames_used"] = frame["frames_used"].astype("Int64")
    return frame


_CHANGE_NUMBER_COLUMNS = tuple(
    c for c in CHANGE_COLUMNS if not c.endswith(("_verdict", "_note", "_numbers"))
)

# A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with a single quote.

    Only strings are escaped: numbers (a negative LLD such as -3.0) stay numbers.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell (and column name) escaped against formula injection."""
    import pandas as pd

    safe = frame.rename(columns=lambda name: escape_formula(str(name)))
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(escape_formula)
    return safe


def encode(frame: pd.DataFrame, fmt: Format) -> bytes:
    """CSV (UTF-8, header row, RFC 4180 CRLF rows; text cells escaped against formula
    injection) or Parquet (pyarrow; values as stored, typed) bytes of a table.

    CRLF rows because Python's csv writer quotes a field holding a line-terminator
    character only: with CRLF a bare carriage return inside a cell is quoted too.
    """
    if fmt == "csv":
        text: str = _csv_safe(frame).to_csv(index=False, lineterminator="\r\n")
        return text.encode("utf-8")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()
