"""`sotmeasure check-rig` and `sotmeasure calibration print-check-sheets`: the rig check."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sotmeasure.cli.calibration_cmds import calibration_app
from sotmeasure.cli.common import console, fail
from sotmeasure.errors import SotmeasureError

_DEFAULT_TOLERANCE_MM = 2.0  # the same default as Settings.rig_check_tolerance_mm


def print_check_sheets_cmd(
    out: Path = typer.Option(..., "--out", help="PDF file to write (two A4 pages)."),
) -> None:
    """Print the rig check's HEEL and HIP sheets at true size (A4, print at 100 %)."""
    from sotmeasure.geometry.check_sheet import print_check_sheets

    summary = print_check_sheets(out)
    console.print(
        f"wrote {summary.path} ({summary.pages} pages, A4); print at 100 % and check the "
        "100 mm line with a ruler",
        markup=False,
        highlight=False,
    )


def check_rig_cmd(
    video: Path = typer.Argument(..., help="Clip of the check sheets with the table's markers."),
    target: Path = typer.Option(..., "--target", help="Target layout JSON of the table's markers."),
    camera: Path | None = typer.Option(None, "--camera", help="Camera profile TOML."),
    setup: Path | None = typer.Option(None, "--setup", help="Setup TOML (plane heights)."),
    heel_box_mm: float | None = typer.Option(
        None, "--heel-box-mm", help="Measured height of the box under the HEEL sheet (0: table)."
    ),
    hip_box_mm: float | None = typer.Option(
        None, "--hip-box-mm", help="Measured height of the box under the HIP sheet (0: table)."
    ),
    tolerance_mm: float = typer.Option(
        _DEFAULT_TOLERANCE_MM, "--tolerance-mm", help="Largest error (95% CI bound) that passes."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Measure the printed check sheets through the measurement's geometry; error in mm."""
    from sotmeasure.processing.rig_check import check_rig
    from sotmeasure.processing.setup import SOURCE_CONFIGURED, SetupFiles, load_files

    heights = {role: h for role, h in (("heel", heel_box_mm), ("hip", hip_box_mm)) if h is not None}
    if not heights:
        raise typer.BadParameter("give --heel-box-mm and/or --hip-box-mm", param_hint="heights")
    try:
        loaded = load_files(SetupFiles(target, camera, setup, SOURCE_CONFIGURED))
        result = check_rig(video, loaded, heights, tolerance_mm)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        raise typer.Exit(0 if result.passed else 2)
    lines = [
        f"table pose: {len(result.pose.markers_used)} markers, reprojection "
        f"{result.pose.reprojection_px:.2f} px = {result.pose.reprojection_mm:.2f} mm",
    ]
    for s in result.sheets:
        verdict = "pass" if s.passed(tolerance_mm) else "FAIL"
        lines.append(
            f"{s.role} sheet at {s.height_mm:g} mm: error {s.error_mm:+.2f} mm over "
            f"{s.span_mm:.0f} mm (95% CI {s.ci95_mm[0]:+.2f} to {s.ci95_mm[1]:+.2f}; "
            f"{s.frames} frames) -> {verdict} (tolerance +/-{tolerance_mm:g} mm)"
        )
    lines.append("rig check passed" if result.passed else "rig check FAILED")
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    if not result.passed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add the rig check commands to the root app and to `calibration`."""
    app.command("check-rig")(check_rig_cmd)
    calibration_app.command("print-check-sheets")(print_check_sheets_cmd)
