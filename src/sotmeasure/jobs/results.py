"""The measurement result as stored: a `ResultRecord`, spread over the table's columns.

The background worker stores the record the measurement returned; the import endpoint
validates another tool's JSON with `ResultPayload` (the API's documented import body) and
stores it as a record. Either way a stored `done` row has the numbers of the measurement
contract (docs/MEASUREMENT.md), finite, and `result` holds the whole record (versioned).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sotmeasure.measure.result import ResultRecord, check_ci_brackets
from sotmeasure.store.models import RESULT_COLUMNS, Measurement


class ResultPayload(BaseModel):
    """The `measure --json` contract; extra keys (per-frame values, ...) are kept as they are."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    lld_mm: float
    lld_ci95_mm: tuple[float, float]
    lld_table_mm: float | None = None
    short_side: Literal["left", "right", "none"] | None = None
    pelvic_tilt_deg: float
    pelvic_tilt_ci95_deg: tuple[float, float]
    body_axis_deg: float | None = None
    frames_used: Any = None
    frames_rejected: Any = None
    calibration: str | None = Field(default=None, max_length=40)
    error_budget: Any = None
    provenance: dict[str, Any] = Field(
        description="software version, pose model and hash, calibration and layout ids, "
        "recording hash, parameters (docs/MEASUREMENT.md, Provenance)"
    )

    @model_validator(mode="after")
    def _ci_brackets_estimate(self) -> ResultPayload:
        check_ci_brackets(
            self.lld_mm, self.lld_ci95_mm, self.pelvic_tilt_deg, self.pelvic_tilt_ci95_deg
        )
        return self


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
