"""Stored rows and results turned into what the templates print, in plain words.

Only measurements and their uncertainty: no sentence here interprets a number clinically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sotmeasure.measure.frame_values import short_side
from sotmeasure.report.wording import (
    change_words,
    mode_words,
    person_name,
    short_side_words,
    tilt_caveat,
    verdict_short,
    verdict_words,
)
from sotmeasure.services.comparison import NumbersSource, PhaseNumbers, VisitComparison
from sotmeasure.services.measurements import is_retryable, measurement_mode
from sotmeasure.store.models import Measurement, Status, User


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
    mode: str | None
    mode_text: str
    lld: str
    lld_ci: str
    short_side: str
    tilt: str
    tilt_ci: str
    tilt_caveat: str | None
    calibration: str | None
    frames: str
    blocking: str
    finished_at: str
    relabelled: str | None  # "measured as pre; relabelled by ... on ..."

    @property
    def done(self) -> bool:
        return self.status == Status.DONE.value

    @property
    def failed(self) -> bool:
        return self.status == Status.FAILED.value

    @property
    def busy(self) -> bool:
        return self.status == Status.RUNNING.value

    @property
    def other_phase(self) -> str:
        return "post" if self.phase == "pre" else "pre"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _relabelled(row: Measurement) -> str | None:
    if row.measured_phase is None or row.phase_changed_at is None:
        return None
    who = row.phase_changed_by
    by = person_name(who.full_name, who.email) if who else "a removed user"
    return (
        f"measured as {row.measured_phase}; relabelled {row.phase} by {by} "
        f"on {_when(row.phase_changed_at)}"
    )


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
    mode = measurement_mode(row)
    lld_ci = _pair(row.lld_ci95_low_mm, row.lld_ci95_high_mm)
    return PhaseView(
        id=row.id,
        phase=row.phase,
        status=row.status,
        progress_pct=round(100 * (row.progress or 0.0)),
        failure_reason=row.failure_reason,
        retryable=is_retryable(row),
        source=row.source,
        mode=mode,
        mode_text=mode_words(mode),
        lld=signed(row.lld_mm, "mm"),
        lld_ci=ci_text(lld_ci, "mm"),
        short_side=short_side_words(row.short_side, lld_ci),
        tilt=signed(row.pelvic_tilt_deg, "deg"),
        tilt_ci=ci_text(_pair(row.pelvic_tilt_ci95_low_deg, row.pelvic_tilt_ci95_high_deg), "deg"),
        tilt_caveat=tilt_caveat(mode) if row.pelvic_tilt_deg is not None else None,
        calibration=row.calibration,
        frames=frames,
        blocking=blocking or "-",
        finished_at=_when(row.finished_at),
        relabelled=_relabelled(row),
    )


def _pair(low: float | None, high: float | None) -> tuple[float, float] | None:
    return None if low is None or high is None else (low, high)


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
        ("mode", mode_words(measurement_mode(row))),
        ("recording", _recording_text(row)),
        *(
            [("calibration source", "bundled demo calibration (rendered test rig)")]
            if prov.get("demo_calibration")
            else []
        ),
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


def captured_from_demo_source(row: Measurement) -> bool:
    """True when the clinic's own link says the recording came from the demo camera."""
    rec = row.recording
    link = rec.link_of(row.visit.patient.clinic_id) if rec is not None else None
    return link is not None and "demo source" in (link.client_filename or "")


def _recording_text(row: Measurement) -> str:
    rec = row.recording
    if rec is None:
        return f"none (source: {row.source})"
    link = rec.link_of(row.visit.patient.clinic_id)  # this clinic's name, never another's
    name = link.client_filename if link and link.client_filename else rec.stored_name
    return f"#{rec.id}, {rec.source}, {name}, sha256 {rec.sha256[:16]}"


def verdict_sentence(
    name: str, change: float, half: float, mdc: float, unit: str, verdict: str
) -> str:
    """Why the verdict is what it is, with the three numbers it compares."""
    return (
        f"{name}: change {change:+.1f} {unit}; its 95% CI half-width is {half:.1f} {unit} and the "
        f"minimal detectable change (MDC95) is {mdc:.1f} {unit}: {verdict_short(verdict)}."
    )


@dataclass(frozen=True, slots=True)
class UsedNumbersView:
    """The numbers of one phase that the change uses, and where they come from."""

    source: str  # "automatic" | "assisted"
    lld: str
    lld_ci: str
    short_side: str
    tilt: str
    tilt_ci: str
    words: str  # "assisted: points placed by Dr A on 2026-12-06 14:02 UTC"


def used_numbers_view(n: PhaseNumbers) -> UsedNumbersView:
    if n.source == NumbersSource.ASSISTED:
        words = (
            f"assisted: points placed by {n.placed_by or 'a deleted user'} on {_when(n.placed_at)}"
        )
    else:
        words = "automatic"
    return UsedNumbersView(
        source=n.source.value,
        lld=signed(n.lld_mm, "mm"),
        lld_ci=ci_text(n.lld_ci95_mm, "mm"),
        short_side=short_side_words(short_side(n.lld_mm), n.lld_ci95_mm),
        tilt=signed(n.pelvic_tilt_deg, "deg"),
        tilt_ci=ci_text(n.tilt_ci95_deg, "deg"),
        words=words,
    )


@dataclass(frozen=True, slots=True)
class ComparisonView:
    """A visit's pre/post comparison as the visit and report pages show it.

    `lld_verdict` / `tilt_verdict` are the API's words ("real change" / "within noise",
    kept in a data attribute); the page prints `*_verdict_text` and `*_change_words`.
    """

    pre: PhaseView
    post: PhaseView
    pre_used: UsedNumbersView
    post_used: UsedNumbersView
    numbers_words: str  # "Numbers used: pre assisted (...), post automatic."
    tilt_caveat: str | None  # the markerless hip caveat, where automatic hips entered
    lld_change: str
    lld_change_ci: str
    tilt_change: str
    tilt_change_ci: str
    lld_verdict: str
    tilt_verdict: str
    lld_verdict_short: str
    tilt_verdict_short: str
    lld_verdict_text: str
    tilt_verdict_text: str
    lld_change_words: str
    tilt_change_words: str
    lld_sentence: str
    tilt_sentence: str
    mdc_source: str


def comparison_view(compared: VisitComparison) -> ComparisonView:
    c = compared.comparison
    pre, post = phase_view(compared.pre_row), phase_view(compared.post_row)
    pre_used, post_used = used_numbers_view(c.used_pre), used_numbers_view(c.used_post)
    caveats = [
        p.tilt_caveat for p, u in ((pre, pre_used), (post, post_used)) if u.source == "automatic"
    ]
    return ComparisonView(
        pre=pre,
        post=post,
        pre_used=pre_used,
        post_used=post_used,
        numbers_words=f"Numbers used: pre {pre_used.words}; post {post_used.words}.",
        tilt_caveat=next((t for t in caveats if t), None),
        lld_change=signed(c.lld_change_mm, "mm"),
        lld_change_ci=ci_text(c.lld_change_ci95_mm, "mm"),
        tilt_change=signed(c.tilt_change_deg, "deg"),
        tilt_change_ci=ci_text(c.tilt_change_ci95_deg, "deg"),
        lld_verdict=c.lld_verdict,
        tilt_verdict=c.tilt_verdict,
        lld_verdict_short=verdict_short(c.lld_verdict),
        tilt_verdict_short=verdict_short(c.tilt_verdict),
        lld_verdict_text=verdict_words("lld", c.lld_verdict),
        tilt_verdict_text=verdict_words("tilt", c.tilt_verdict),
        lld_change_words=change_words(
            "lld", c.used_pre.lld_mm, c.used_post.lld_mm, c.lld_change_ci95_mm
        ),
        tilt_change_words=change_words(
            "tilt", c.used_pre.pelvic_tilt_deg, c.used_post.pelvic_tilt_deg, c.tilt_change_ci95_deg
        ),
        lld_sentence=verdict_sentence(
            "LLD", c.lld_change_mm, c.lld_change_half_mm, c.mdc95.lld_mm, "mm", c.lld_verdict
        ),
        tilt_sentence=verdict_sentence(
            "Pelvic tilt",
            c.tilt_change_deg,
            c.tilt_change_half_deg,
            c.mdc95.pelvic_tilt_deg,
            "deg",
            c.tilt_verdict,
        ),
        mdc_source=c.mdc95.source,
    )


def practitioner_name(user: User | None) -> str:
    """The visit's practitioner as the report names them (name, else e-mail)."""
    return person_name(user.full_name, user.email) if user else "-"
