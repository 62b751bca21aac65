"""Research commands: a clinic's own repeatability (ICC, SEM, MDC95, Bland-Altman).

MEASUREMENT.md: the default MDC95 comes from published repeatability data, and a clinic can
measure its own by test-retest (the patient gets up and lies down again between captures).
This command turns such captures into the numbers the pre/post verdict needs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from sotmeasure.cli.common import console, fail

NUMBERS = ("lld_mm", "pelvic_tilt_deg")
UNITS = {"lld_mm": "mm", "pelvic_tilt_deg": "deg"}


def _read_long_csv(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Read `subject,capture,lld_mm,pelvic_tilt_deg` rows into {number: {subject: {capture: v}}}."""
    if not path.is_file():
        fail(f"{path}: no such file")
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or [])
            missing = {"subject", "capture"} - fields
            present = [n for n in NUMBERS if n in fields]
            if missing or not present:
                fail(
                    f"{path}: needs columns subject, capture and at least one of "
                    f"{', '.join(NUMBERS)} (found: {', '.join(sorted(fields)) or 'none'})"
                )
            table: dict[str, dict[str, dict[str, float]]] = {n: {} for n in present}
            for line_no, row in enumerate(reader, start=2):
                for number in present:
                    raw = (row.get(number) or "").strip()
                    if not raw:
                        continue
                    try:
                        value = float(raw)
                    except ValueError:
                        fail(f"{path}:{line_no}: {number} is not a number: {raw!r}")
                    table[number].setdefault(row["subject"], {})[row["capture"]] = value
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{path}: not a readable CSV file ({exc})")
    return table


def _matrix(by_subject: dict[str, dict[str, float]]) -> tuple[np.ndarray, int]:
    """Subjects x captures matrix of the subjects that have every capture; dropped count."""
    captures = sorted({c for caps in by_subject.values() for c in caps})
    complete = [s for s, caps in sorted(by_subject.items()) if all(c in caps for c in captures)]
    rows = [[by_subject[s][c] for c in captures] for s in complete]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(captures)), len(
        by_subject
    ) - len(complete)


def _bland_altman_plot(results: dict[str, tuple[np.ndarray, dict[str, Any]]], out: Path) -> None:
    """Bland-Altman plot per number (k = 2): difference vs mean with bias and limits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (number, (y, stats)) in zip(axes[0], results.items(), strict=True):
        mean = y.mean(axis=1)
        diff = y[:, 1] - y[:, 0]
        ax.scatter(mean, diff, s=18, color="#1f4e79")
        ba = stats["bland_altman"]
        ax.axhline(ba["bias"], color="#c55a11", label=f"bias {ba['bias']:+.2f}")
        for limit in ba["loa95"]:
            ax.axhline(limit, color="#c55a11", linestyle="--")
        ax.set_xlabel(f"mean of captures ({UNITS[number]})")
        ax.set_ylabel(f"capture 2 - capture 1 ({UNITS[number]})")
        ax.set_title(f"{number}: ICC(2,1) {stats['icc_2_1']:.2f}, MDC95 {stats['mdc95']:.2f}")
        ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def repeatability_cmd(
    data: Path = typer.Argument(
        ..., help="CSV with columns subject, capture, lld_mm and/or pelvic_tilt_deg."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write a Bland-Altman plot (PNG) when there are 2 captures."
    ),
) -> None:
    """Test-retest repeatability: ICC(2,1), SEM, MDC95 and Bland-Altman per number."""
    from sotmeasure.measure.repeatability import repeatability

    table = _read_long_csv(data)
    out: dict[str, Any] = {}
    matrices: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    for number, by_subject in table.items():
        y, dropped = _matrix(by_subject)
        try:
            stats = repeatability(y).to_dict()
        except ValueError as exc:
            fail(f"{number}: {exc}")
        stats["subjects_dropped_incomplete"] = dropped
        out[number] = stats
        matrices[number] = (y, stats)
    if plot is not None:
        if any(y.shape[1] != 2 for y, _ in matrices.values()):
            fail("--plot draws Bland-Altman for exactly 2 captures per subject")
        _bland_altman_plot(matrices, plot)
    if as_json:
        typer.echo(json.dumps(out, sort_keys=True))
        return
    grid = Table(title=f"repeatability of {data.name}")
    for column in (
        "number",
        "subjects x captures",
        "ICC(2,1)",
        "SEM",
        "MDC95",
        "BA bias",
        "BA 95% limits",
    ):
        grid.add_column(column)
    for number, stats in out.items():
        unit = UNITS[number]
        ba = stats["bland_altman"]
        grid.add_row(
            number,
            f"{stats['n_subjects']} x {stats['k_captures']}",
            f"{stats['icc_2_1']:.3f}",
            f"{stats['sem']:.2f} {unit}",
            f"{stats['mdc95']:.2f} {unit}",
            "-" if ba is None else f"{ba['bias']:+.2f} {unit}",
            "-" if ba is None else f"[{ba['loa95'][0]:+.2f}, {ba['loa95'][1]:+.2f}] {unit}",
        )
    console.print(grid)
    if plot is not None:
        console.print(f"Bland-Altman plot written to {plot}")


def register(app: typer.Typer) -> None:
    """Add the research commands to the root app."""
    app.command("repeatability")(repeatability_cmd)
