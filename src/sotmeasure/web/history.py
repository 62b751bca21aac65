"""LLD and pelvic tilt across a patient's visits as an SVG plot (the numbers:
`services.patients.patient_history`).

matplotlib's object API (Figure + SVG canvas, no pyplot): no global figure state, so two
requests can draw at once.
"""

from __future__ import annotations

import io

from sotmeasure.services.patients import VisitPoints
from sotmeasure.store.models import Phase

PRE_COLOUR = "#b35806"
POST_COLOUR = "#2166ac"


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
