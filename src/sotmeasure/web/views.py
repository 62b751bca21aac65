"""Stored rows and result dicts turned into what the templates print, in plain words.

Only measurements and their uncertainty: no sentence here interprets a number clinically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sotmeasure.services.comparison import VisitComparison
from sotmeasure.services.measurements import is_retryable
from sotmeasure.store.models import Measurement, Status

COMPONENT_NAMES = {
    "calibration": "camera calibration (marker reprojection)",
    "plane_height": "assumed heel and hip heights above the table",
    "model_resolution": "point-finding resolution",
    "hip_point": "hip point definition",
}


def signed(value: float | None, unit: str, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f} {unit}"


def ci_text(ci: tuple[float, float] | list[float] | None, unit: str) -> str:
    if not ci:
        return "-"
    return f"{ci[0]:+.1f} to {ci[1]:+.1f} {unit}"


@dataclass(frozen=True, slots=True)
class PhaseView:
    """One phase's measurement as a page shows it."""

    id: int
    phase: str
    status: str
    progress_pct: int
    failure_reason: str | None
    retryable: bool
    source: str
    lld: str
    lld_ci: str
    short_side: str
    tilt: str
    tilt_ci: str
    calibration: str | None
    frames: str
    blocking: str
    finished_at: str

    @property
    def done(self) -> bool:
        return self.status == Status.DONE.value


def phase_view(row: Measurement) -> PhaseView:
    result: dict[str, Any] = row.result or {}
    used = result.get("frames_used", row.frames_used)
    total = result.get("frames_total")
    frames = "-" if used is None else f"{used} used" + (f" of {total}" if total else "")
    blocking = ", ".join(
        f"{label}: {value}"
        for label, value in (
            ("blocks", row.blocking_blocks),
            ("placement", row.blocking_placement),
            ("category", row.blocking_category),
        )
        if value
    )
    return PhaseView(
        id=row.id,
        phase=row.phase,
        status=row.status,
        progress_pct=round(100 * (row.progress or 0.0)),
        failure_reason=row.failure_reason,
        retryable=is_retryable(row),
        source=row.source,
        lld=signed(row.lld_mm, "mm"),
        lld_ci=ci_text(_pair(row.lld_ci95_low_mm, row.lld_ci95_high_mm), "mm"),
        short_side=row.short_side or "-",
        tilt=signed(row.pelvic_tilt_deg, "deg"),
        tilt_ci=ci_text(_pair(row.pelvic_tilt_ci95_low_deg, row.pelvic_tilt_ci95_high_deg), "deg"),
        calibration=row.calibration,
        frames=frames,
        blocking=blocking or "-",
        finished_at=row.finished_at.strftime("%Y-%m-%d %H:%M UTC") if row.finished_at else "-",
    )


def _pair(low: float | None, high: float | None) -> tuple[float, float] | None:
    return None if low is None or high is None else (low, high)


def budget_sentences(result: dict[str, Any]) -> list[str]:
    """The error budget of one measurement in plain words (one sentence per source)."""
    budget = result.get("error_budget") or {}
    total = budget.get("total_ci95_half") or {}
    stat = budget.get("statistical") or {}
    out: list[str] = []
    if total:
        out.append(
            f"Overall, LLD is known to within ±{total.get('lld_mm', 0):.1f} mm and pelvic tilt "
            f"to within ±{total.get('pelvic_tilt_deg', 0):.1f} deg (95% confidence)."
        )
    if stat:
        out.append(
            f"Frame-to-frame variation in the still window contributes "
            f"±{stat.get('lld_ci95_half_mm', 0):.1f} mm and "
            f"±{stat.get('pelvic_tilt_ci95_half_deg', 0):.1f} deg (the "
            f"{result.get('frames_used', '?')} frames used count as about "
            f"{stat.get('lld_effective_frames', 0):.0f} independent ones, because consecutive "
            "frames are alike)."
        )
    components = budget.get("systematic") or []
    ranked = sorted(components, key=lambda c: -abs(float(c.get("lld_u_mm", 0.0))))
    for c in ranked:
        name = COMPONENT_NAMES.get(
            str(c.get("name")), str(c.get("name", "other")).replace("_", " ")
        )
        out.append(
            f"{name.capitalize()}: ±{1.96 * float(c.get('lld_u_mm', 0.0)):.1f} mm LLD, "
            f"±{1.96 * float(c.get('pelvic_tilt_u_deg', 0.0)):.1f} deg tilt (95%); "
            f"{c.get('detail', '')}."
        )
    if result.get("calibration") == "homography-only":
        out.append(
            "No camera calibration was used (homography only): points above the table top "
            "are mapped onto it, which the budget above includes."
        )
    rejected = result.get("frames_rejected") or {}
    if rejected:
        parts = "; ".join(f"{n} frame(s): {reason}" for reason, n in rejected.items())
        out.append(f"Frames not used: {parts}.")
    return out


def provenance_items(row: Measurement) -> list[tuple[str, str]]:
    """Where a number comes from: software, model, calibration, recording, parameters."""
    prov: dict[str, Any] = row.provenance or {}
    model = prov.get("model") or {}
    layout = prov.get("layout") or {}
    profile = prov.get("profile") or {}
    table = prov.get("table_pose") or {}
    params = prov.get("parameters") or {}
    video = prov.get("video") or {}
    items = [
        ("software", f"sotmeasure {prov.get('software_version', '?')}"),
        ("measured at", str(prov.get("measured_at_utc", "-"))),
        ("pose model", f"{model.get('name', '-')} (sha256 {str(model.get('sha256') or '-')[:16]})"),
        (
            "target layout",
            f"{layout.get('name', '-')} (sha256 {str(layout.get('sha256', '-'))[:16]})",
        ),
        (
            "camera profile",
            f"{profile.get('name')} (sha256 {str(profile.get('sha256', '-'))[:16]})"
            if profile
            else "none (homography only)",
        ),
        (
            "table pose",
            f"{table.get('calibration', '-')}, reprojection {table.get('reprojection_px', '-')} px "
            f"/ {table.get('reprojection_mm', '-')} mm, markers {table.get('markers_used', '-')}",
        ),
        ("recording", _recording_text(row)),
        ("video hashed", f"{video.get('name', '-')} (sha256 {str(video.get('sha256', '-'))[:16]})"),
        (
            "parameters",
            ", ".join(
                f"{k}={v}"
                for k, v in params.items()
                if k
                in (
                    "mode",
                    "heel_plane_mm",
                    "hip_plane_mm",
                    "plane_uncertainty_mm",
                    "window_s",
                    "motion_threshold_mm",
                    "plane_source",
                )
            )
            or "-",
        ),
    ]
    return items


def _recording_text(row: Measurement) -> str:
    rec = row.recording
    if rec is None:
        return f"none (source: {row.source})"
    return (
        f"#{rec.id}, {rec.source}, {rec.client_filename or rec.stored_name}, "
        f"sha256 {rec.sha256[:16]}"
    )


def verdict_sentence(
    name: str, change: float, half: float, mdc: float, unit: str, verdict: str
) -> str:
    """Why the verdict is what it is, with the three numbers it compares."""
    return (
        f"{name}: change {change:+.1f} {unit}; its 95% CI half-width is {half:.1f} {unit} and the "
        f"minimal detectable change (MDC95) is {mdc:.1f} {unit}. Verdict: {verdict}."
    )


@dataclass(frozen=True, slots=True)
class ComparisonView:
    """A visit's pre/post comparison as the visit and report pages show it."""

    pre: PhaseView
    post: PhaseView
    lld_change: str
    lld_change_ci: str
    tilt_change: str
    tilt_change_ci: str
    lld_verdict: str
    tilt_verdict: str
    lld_sentence: str
    tilt_sentence: str
    mdc_source: str


def comparison_view(compared: VisitComparison) -> ComparisonView:
    data = compared.data
    change = data["change"]
    mdc = data["mdc95"]
    lld_half = (change["lld_ci95_mm"][1] - change["lld_ci95_mm"][0]) / 2
    tilt_half = (change["pelvic_tilt_ci95_deg"][1] - change["pelvic_tilt_ci95_deg"][0]) / 2
    return ComparisonView(
        pre=phase_view(compared.pre),
        post=phase_view(compared.post),
        lld_change=signed(change["lld_mm"], "mm"),
        lld_change_ci=ci_text(change["lld_ci95_mm"], "mm"),
        tilt_change=signed(change["pelvic_tilt_deg"], "deg"),
        tilt_change_ci=ci_text(change["pelvic_tilt_ci95_deg"], "deg"),
        lld_verdict=data["verdict"]["lld"],
        tilt_verdict=data["verdict"]["pelvic_tilt"],
        lld_sentence=verdict_sentence(
            "LLD", change["lld_mm"], lld_half, mdc["lld_mm"], "mm", data["verdict"]["lld"]
        ),
        tilt_sentence=verdict_sentence(
            "Pelvic tilt",
            change["pelvic_tilt_deg"],
            tilt_half,
            mdc["pelvic_tilt_deg"],
            "deg",
            data["verdict"]["pelvic_tilt"],
        ),
        mdc_source=mdc.get("source", ""),
    )
