"""Per-frame LLD and tilt over time, with the chosen window shaded (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sotmeasure.measure.result import MeasurementResult


def write_series_plot(result: MeasurementResult, title: str, path: Path) -> Path:
    """Two stacked panels (LLD mm, tilt deg) against time; rejected frames are gaps."""
    t = [f.t_s for f in result.frames]
    lld = [f.values.lld_mm if f.values is not None else float("nan") for f in result.frames]
    tilt = [
        f.values.pelvic_tilt_deg if f.values is not None else float("nan") for f in result.frames
    ]
    fig, axes = plt.subplots(2, 1, figsize=(7, 4.2), sharex=True, dpi=100)
    for ax, y, median, (lo, hi), label in (
        (axes[0], lld, result.lld_mm, result.lld_ci95_mm, "LLD (mm)"),
        (axes[1], tilt, result.pelvic_tilt_deg, result.pelvic_tilt_ci95_deg, "pelvic tilt (deg)"),
    ):
        ax.axvspan(result.window.start_s, result.window.end_s, color="#cfe8ff", label="window")
        ax.plot(t, y, lw=1.0, color="#333333", label="per frame")
        ax.axhline(median, color="#d05000", lw=1.2, label="median")
        ax.axhspan(lo, hi, color="#d05000", alpha=0.12, label="95% CI")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title(title)
    axes[0].legend(loc="upper right", fontsize=7, ncol=4)
    axes[1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
