"""LLD and pelvic tilt across a patient's visits: the numbers and an SVG plot of them.

matplotlib's object API (Figure + SVG canvas, no pyplot): no global figure state, so two
requests can draw at once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sotmeasure.store.models import Measurement, Phase, Status, Visit

PRE_COLOUR = "#b35806"
POST_COLOUR = "#2166ac"


@dataclass(frozen=True, slots=True)
class Point:
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class VisitPoints:
    """The latest finished pre and post numbers of one visit."""

    visit_id: int
    label: str
    lld: dict[str, Point]  # phase -> point
    tilt: dict[str, Point]


def patient_history(session: Session, patient_id: int) -> list[VisitPoints]:
    """Visits oldest first, each with the finished numbers it has (possibly none)."""
    visits = list(
        session.scalars(
            select(Visit).where(Visit.patient_id == patient_id).order_by(Visit.visit_date, Visit.id)
        )
    )
    out: list[VisitPoints] = []
    for visit in visits:
        rows = session.scalars(
            select(Measurement)
            .where(Measurement.visit_id == visit.id, Measurement.status == Status.DONE.value)
            .order_by(Measurement.finished_at, Measurement.id)
        )
        lld: dict[str, Point] = {}
        tilt: dict[str, Point] = {}
        for row in rows:  # later rows of a phase overwrite earlier ones
            if None in (row.lld_mm, row.lld_ci95_low_mm, row.lld_ci95_high_mm):
                continue
            lld[row.phase] = Point(row.lld_mm, row.lld_ci95_low_mm, row.lld_ci95_high_mm)  # type: ignore[arg-type]
            if row.pelvic_tilt_deg is not None:
                tilt[row.phase] = Point(
                    row.pelvic_tilt_deg,
                    row.pelvic_tilt_ci95_low_deg or row.pelvic_tilt_deg,
                    row.pelvic_tilt_ci95_high_deg or row.pelvic_tilt_deg,
                )
        out.append(VisitPoints(visit.id, f"{visit.visit_date.isoformat()}\n#{visit.id}", lld, tilt))
    return out


def history_svg(history: list[VisitPoints], title: str) -> bytes:
    """Two panels (LLD mm, tilt deg) over visits; pre and post side by side with 95% CIs."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG  # only when a plot is drawn
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.6), dpi=100)
    FigureCanvasSVG(fig)
    axes = fig.subplots(2, 1, sharex=True)
    xs = list(range(len(history)))
    for ax, key, ylabel in (
        (axes[0], "lld", "LLD (mm)"),
        (axes[1], "tilt", "pelvic tilt (deg)"),
    ):
        for phase, colour, shift, marker in (
            (Phase.PRE.value, PRE_COLOUR, -0.08, "o"),
            (Phase.POST.value, POST_COLOUR, 0.08, "s"),
        ):
            px, py, lo, hi = [], [], [], []
            for x, v in zip(xs, history, strict=True):
                point = getattr(v, key).get(phase)
                if point is None:
                    continue
                px.append(x + shift)
                py.append(point.value)
                lo.append(point.value - point.low)
                hi.append(point.high - point.value)
            if px:
                ax.errorbar(
                    px,
                    py,
                    yerr=[lo, hi],
                    fmt=marker,
                    color=colour,
                    capsize=3,
                    lw=1.2,
                    label=f"{phase} (95% CI)",
                )
        ax.axhline(0.0, color="#888888", lw=0.8)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_title(title, fontsize=11)
    handles, _labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(loc="best", fontsize=8)
    else:
        axes[0].text(
            0.5,
            0.5,
            "no finished measurements yet",
            transform=axes[0].transAxes,
            ha="center",
            va="center",
            color="#666666",
        )
    axes[1].set_xticks(xs, [v.label for v in history], fontsize=8)
    axes[1].set_xlim(-0.5, max(0.5, len(history) - 0.5))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()
