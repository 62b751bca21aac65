"""The measurement result and its JSON form (the `measure --json` contract)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
