"""The measurement result as stored: a `ResultRecord`, spread over the table's columns.

The background worker stores the record the measurement returned; the import endpoint
validates another tool's JSON with `services.inputs.ResultPayload` (the API's documented
import body) and stores it as a record. Either way a stored `done` row has the numbers of
the measurement contract (docs/MEASUREMENT.md), finite, and `result` holds the whole
record (versioned).
"""

from __future__ import annotations

from sotmeasure.measure.result import ResultRecord
from sotmeasure.store.models import RESULT_COLUMNS, Measurement

#: Columns named like a field of the stored result: copied from it as stored.
_SAME_NAME = tuple(c for c in RESULT_COLUMNS if c in ResultRecord.model_fields)


def apply_result(row: Measurement, record: ResultRecord) -> None:
    """Copy a result into the row's columns (the caller sets status and commits).

    The columns are the record's own values (the searchable, exportable numbers); `result`
    keeps the whole record. A part an import sent in its own format is copied as sent.
    """
    stored = record.to_dict()
    for column in _SAME_NAME:
        setattr(row, column, stored.get(column))
    row.lld_ci95_low_mm, row.lld_ci95_high_mm = record.lld_ci95_mm
    row.pelvic_tilt_ci95_low_deg, row.pelvic_tilt_ci95_high_deg = record.pelvic_tilt_ci95_deg
    row.result = stored


def clear_result(row: Measurement) -> None:
    """Forget any numbers (used when a measurement is queued again)."""
    for column in RESULT_COLUMNS:
        setattr(row, column, None)
