"""The measurement result, its JSON form (the `measure --json` contract) and its stored form.

`MeasurementResult` is what the measurement returns (assembled by `assemble_result`);
`ResultRecord` is the same result as the store keeps it (typed, versioned, lossless to and
from JSON) and what the service, the pages, the reports and the exports read. A new result
field: add it to `MeasurementResult.to_dict` and `ResultRecord`, bump `RESULT_VERSION`
and add the upgrade step for older rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sotmeasure.measure.error_budget import CI_METHOD, BudgetComponent, ErrorBudget
from sotmeasure.measure.frame_values import FrameValues, short_side
from sotmeasure.measure.statistics import summarize
from sotmeasure.measure.window import StillWindow

_R = 3  # decimals in JSON: 0.001 mm / 0.001 deg, far below any uncertainty


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """What happened to one frame: its values, or why it was rejected."""

    index: int
    t_s: float
    values: FrameValues | None
    rejection: str | None
    motion_mm: float | None = None
    in_window: bool = False

    def to_dict(self) -> dict[str, Any]:
        v = self.values
        return {
            "index": self.index,
            "t_s": round(self.t_s, 4),
            "lld_mm": None if v is None else round(v.lld_mm, _R),
            "lld_table_mm": None if v is None else round(v.lld_table_mm, _R),
            "pelvic_tilt_deg": None if v is None else round(v.pelvic_tilt_deg, _R),
            "body_axis_deg": None if v is None else round(v.body_axis_deg, _R),
            "motion_mm": None if self.motion_mm is None else round(self.motion_mm, _R),
            "rejection": self.rejection,
            "in_window": self.in_window,
        }


@dataclass(frozen=True, slots=True)
class MeasurementResult:
    """One window's measurement: medians, CIs, frame accounting, budget and provenance."""

    lld_mm: float
    lld_table_mm: float
    pelvic_tilt_deg: float
    body_axis_deg: float
    budget: ErrorBudget
    frames_used: int
    frames_total: int
    frames_rejected: dict[str, int]
    calibration: str
    mode: str
    window: StillWindow
    provenance: dict[str, Any]
    frames: tuple[FrameRecord, ...] = ()
    window_points_px: dict[str, tuple[float, float]] = field(default_factory=dict)
    representative_frame: int = 0

    @property
    def lld_half_mm(self) -> float:
        return self.budget.lld_half_mm

    @property
    def tilt_half_deg(self) -> float:
        return self.budget.tilt_half_deg

    @property
    def lld_ci95_mm(self) -> tuple[float, float]:
        return (self.lld_mm - self.lld_half_mm, self.lld_mm + self.lld_half_mm)

    @property
    def pelvic_tilt_ci95_deg(self) -> tuple[float, float]:
        return (
            self.pelvic_tilt_deg - self.tilt_half_deg,
            self.pelvic_tilt_deg + self.tilt_half_deg,
        )

    @property
    def short_side(self) -> str:
        return short_side(self.lld_mm)

    def to_dict(self, *, include_frames: bool = False) -> dict[str, Any]:
        """The `measure --json` object; per-frame values only when asked (exports)."""
        out: dict[str, Any] = {
            "lld_mm": round(self.lld_mm, _R),
            "lld_ci95_mm": [round(v, _R) for v in self.lld_ci95_mm],
            "lld_table_mm": round(self.lld_table_mm, _R),
            "short_side": self.short_side,
            "pelvic_tilt_deg": round(self.pelvic_tilt_deg, _R),
            "pelvic_tilt_ci95_deg": [round(v, _R) for v in self.pelvic_tilt_ci95_deg],
            "body_axis_deg": round(self.body_axis_deg, _R),
            "frames_used": self.frames_used,
            "frames_total": self.frames_total,
            "frames_rejected": dict(sorted(self.frames_rejected.items())),
            "calibration": self.calibration,
            "mode": self.mode,
            "window_start_s": round(self.window.start_s, 4),
            "window_end_s": round(self.window.end_s, 4),
            "motion_threshold_mm": round(self.window.threshold_mm, 3),
            "representative_frame": self.representative_frame,
            "window_points_px": {
                name: [round(float(v), 2) for v in xy]
                for name, xy in sorted(self.window_points_px.items())
            },
            "ci_method": CI_METHOD,
            "error_budget": self.budget.to_dict(),
            "provenance": self.provenance,
        }
        if include_frames:
            out["frames"] = [f.to_dict() for f in self.frames]
        return out

    def to_record(self) -> ResultRecord:
        """The stored form of this result, with its per-frame values."""
        return ResultRecord.from_dict(
            {"result_version": RESULT_VERSION, **self.to_dict(include_frames=True)}
        )


def assemble_result(
    *,
    frames: Sequence[FrameRecord],
    window: StillWindow,
    components: Sequence[BudgetComponent],
    calibration: str,
    mode: str,
    provenance: dict[str, Any],
    window_points_px: dict[str, tuple[float, float]] | None = None,
) -> MeasurementResult:
    """Medians and CIs over the window's usable frames, frame accounting and the budget.

    `frames` is every frame of the recording in order; the window is `frames[first..last]`.
    Frames inside the window that were rejected are simply not used; frames outside it are
    neither used nor rejected (counted in `frames_total` only).
    """
    marked = tuple(
        FrameRecord(
            index=f.index,
            t_s=f.t_s,
            values=f.values,
            rejection=f.rejection,
            motion_mm=f.motion_mm,
            in_window=window.first <= k <= window.last
            and f.values is not None
            and f.rejection is None,
        )
        for k, f in enumerate(frames)
    )
    used = [f.values for f in marked if f.in_window and f.values is not None]
    if len(used) < 2:
        raise ValueError("a window needs at least two usable frames")
    lld = summarize([v.lld_mm for v in used])
    tilt = summarize([v.pelvic_tilt_deg for v in used])
    budget = ErrorBudget(
        lld_stat_half_mm=lld.half_width,
        tilt_stat_half_deg=tilt.half_width,
        lld_n_eff=lld.n_eff,
        tilt_n_eff=tilt.n_eff,
        components=tuple(components),
    )
    rejected = Counter(f.rejection for f in marked if f.rejection is not None)
    in_window_idx = [k for k, f in enumerate(marked) if f.in_window]
    return MeasurementResult(
        lld_mm=lld.median,
        lld_table_mm=float(np.median([v.lld_table_mm for v in used])),
        pelvic_tilt_deg=tilt.median,
        body_axis_deg=float(np.median([v.body_axis_deg for v in used])),
        budget=budget,
        frames_used=len(used),
        frames_total=len(marked),
        frames_rejected=dict(rejected),
        calibration=calibration,
        mode=mode,
        window=window,
        provenance=provenance,
        frames=marked,
        window_points_px=dict(window_points_px or {}),
        representative_frame=marked[in_window_idx[len(in_window_idx) // 2]].index,
    )


# --- the stored form ------------------------------------------------------------------------

#: Version of the stored result. 1: rows stored before the version existed (no
#: `result_version` key); 2: the same keys plus `result_version`. A new field or a changed
#: meaning bumps it and adds an upgrade to `_UPGRADES` (old rows are upgraded on load).
RESULT_VERSION = 2


class _Part(BaseModel):
    """A nested part of a stored result: typed where known, other keys kept as they came."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


class FrameRow(_Part):
    """One frame of a stored result (`FrameRecord.to_dict`); parts may be absent in imports."""

    index: int | None = None
    t_s: float | None = None
    lld_mm: float | None = None
    lld_table_mm: float | None = None
    pelvic_tilt_deg: float | None = None
    body_axis_deg: float | None = None
    motion_mm: float | None = None
    rejection: str | None = None
    in_window: bool | None = None


class BudgetStatistical(_Part):
    lld_ci95_half_mm: float | None = None
    pelvic_tilt_ci95_half_deg: float | None = None
    lld_effective_frames: float | None = None
    pelvic_tilt_effective_frames: float | None = None


class BudgetPart(_Part):
    """One systematic source of the error budget (`BudgetComponent.to_dict`)."""

    name: str | None = None
    lld_u_mm: float = 0.0
    pelvic_tilt_u_deg: float = 0.0
    detail: str | None = None
    inputs: dict[str, Any] | None = None


class LldTilt(_Part):
    lld_mm: float | None = None
    pelvic_tilt_deg: float | None = None


class BudgetRecord(_Part):
    """The stored error budget (`ErrorBudget.to_dict`)."""

    ci_method: str | None = None
    statistical: BudgetStatistical | None = None
    systematic: list[BudgetPart] | None = None
    systematic_u: LldTilt | None = None
    total_ci95_half: LldTilt | None = None


class ResultRecord(BaseModel):
    """A measurement result as the store keeps it and the service reads it.

    `MeasurementResult.to_record()` makes one from a fresh measurement (its keys are the
    `measure --json` contract plus `result_version`); `from_dict` loads a stored one of any
    version. Results imported from other tools carry only the required numbers, so every
    other part is optional. Lossless: `ResultRecord.from_dict(d).to_dict() == d` for every
    current-version dict (older versions come back upgraded); keys this class does not know
    are kept as they came, and a known optional part that does not have its type (an
    import's own format) is kept verbatim in `unparsed` and reads as None.
    """

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    result_version: int = RESULT_VERSION
    lld_mm: float
    lld_ci95_mm: tuple[float, float]
    lld_table_mm: float | None = None
    short_side: Literal["left", "right", "none"] | None = None
    pelvic_tilt_deg: float
    pelvic_tilt_ci95_deg: tuple[float, float]
    body_axis_deg: float | None = None
    frames_used: int | None = None
    frames_total: int | None = None
    frames_rejected: dict[str, int] | None = None
    calibration: str | None = None
    mode: str | None = None
    window_start_s: float | None = None
    window_end_s: float | None = None
    motion_threshold_mm: float | None = None
    representative_frame: int | None = None
    window_points_px: dict[str, tuple[float, float]] | None = None
    ci_method: str | None = None
    error_budget: BudgetRecord | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    frames: list[FrameRow] | None = None
    unparsed: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _ci_brackets_estimate(self) -> ResultRecord:
        check_ci_brackets(
            self.lld_mm, self.lld_ci95_mm, self.pelvic_tilt_deg, self.pelvic_tilt_ci95_deg
        )
        return self

    @property
    def lld_half_mm(self) -> float:
        """Half-width of the stored LLD 95% CI."""
        low, high = self.lld_ci95_mm
        return (high - low) / 2.0

    @property
    def tilt_half_deg(self) -> float:
        low, high = self.pelvic_tilt_ci95_deg
        return (high - low) / 2.0

    @property
    def window_frame_indices(self) -> list[int]:
        """Indices of the frames the window used (empty when the record has no frames)."""
        return [f.index for f in self.frames or () if f.in_window and f.index is not None]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultRecord:
        """A stored result of any version, upgraded to the current one."""
        data = dict(data)
        version = data.get("result_version", 1)
        if not isinstance(version, int) or version > RESULT_VERSION:
            raise ValueError(f"unknown stored result version {version!r}")
        for step in range(version, RESULT_VERSION):
            data = _UPGRADES[step](data)
        unparsed: dict[str, Any] = {}
        while True:
            try:
                # Strict JSON validation: nothing is coerced ("80" stays no int), so what
                # does not have its type is kept verbatim instead of being changed.
                text = json.dumps({**data, "unparsed": unparsed})
                return cls.model_validate_json(text, strict=True)
            except ValidationError as exc:
                bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
                movable = bad & _OPTIONAL_PARTS
                if not movable or movable != bad:
                    raise
                for key in movable:
                    unparsed[key] = data.pop(key)

    def to_dict(self, *, include_frames: bool = True) -> dict[str, Any]:
        """The stored JSON (per-frame values only with `include_frames`)."""
        out = self.model_dump(mode="json", exclude_unset=True)
        out["result_version"] = self.result_version
        out.update(self.unparsed)
        if not include_frames:
            out.pop("frames", None)
        return out


def check_ci_brackets(
    lld_mm: float,
    lld_ci95_mm: tuple[float, float],
    tilt_deg: float,
    tilt_ci95_deg: tuple[float, float],
) -> None:
    """A result's 95% CIs must contain its estimates (ValueError otherwise)."""
    for name, value, (low, high) in (
        ("lld", lld_mm, lld_ci95_mm),
        ("pelvic_tilt", tilt_deg, tilt_ci95_deg),
    ):
        if not low <= value <= high:
            raise ValueError(f"{name}: the 95% CI [{low}, {high}] must contain {value}")


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 rows have the same keys; only the version key is new."""
    return {**data, "result_version": 2}


_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}

#: Parts an imported result may carry in its own format (kept verbatim, read as None).
_OPTIONAL_PARTS = frozenset(
    name
    for name, info in ResultRecord.model_fields.items()
    if not info.is_required() and name not in ("result_version", "unparsed")
)
