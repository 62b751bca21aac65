"""The measurement result as stored: validated once, then spread over the table's columns.

Both the background worker (output of measure_video) and the import endpoint (JSON from
another tool) go through `ResultPayload`, so a stored `done` row always has the numbers of
the measurement contract (docs/MEASUREMENT.md) and they are finite.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sotmeasure.store.models import Measurement


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
        for name, value, (low, high) in (
            ("lld", self.lld_mm, self.lld_ci95_mm),
            ("pelvic_tilt", self.pelvic_tilt_deg, self.pelvic_tilt_ci95_deg),
        ):
            if not low <= value <= high:
                raise ValueError(f"{name}: the 95% CI [{low}, {high}] must contain {value}")
        return self


def apply_result(row: Measurement, payload: ResultPayload) -> None:
    """Copy a validated result into the row's columns (the caller sets status and commits)."""
    row.lld_mm = payload.lld_mm
    row.lld_ci95_low_mm, row.lld_ci95_high_mm = payload.lld_ci95_mm
    row.lld_table_mm = payload.lld_table_mm
    row.short_side = payload.short_side
    row.pelvic_tilt_deg = payload.pelvic_tilt_deg
    row.pelvic_tilt_ci95_low_deg, row.pelvic_tilt_ci95_high_deg = payload.pelvic_tilt_ci95_deg
    row.body_axis_deg = payload.body_axis_deg
    row.calibration = payload.calibration
    row.frames_used = payload.frames_used
    row.frames_rejected = payload.frames_rejected
    row.error_budget = payload.error_budget
    row.provenance = payload.provenance
    row.result = payload.model_dump(mode="json")


def clear_result(row: Measurement) -> None:
    """Forget any numbers (used when a measurement is queued again)."""
    for column in (
        "lld_mm",
        "lld_ci95_low_mm",
        "lld_ci95_high_mm",
        "lld_table_mm",
        "short_side",
        "pelvic_tilt_deg",
        "pelvic_tilt_ci95_low_deg",
        "pelvic_tilt_ci95_high_deg",
        "body_axis_deg",
        "calibration",
        "frames_used",
        "frames_rejected",
        "error_budget",
        "provenance",
        "result",
    ):
        setattr(row, column, None)
