"""`sotmeasure check-rig` and `sotmeasure calibration print-check-sheets`: the rig check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sotmeasure.cli.calibration_cmds import calibration_app
from sotmeasure.cli.common import console, fail
from sotmeasure.errors import SotmeasureError

if TYPE_CHECKING:
    from sotmeasure.processing.rig_check import RigCheckResult

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
    target: Path | None = typer.Option(
        None, "--target", help="Target layout JSON of the table's markers."
    ),
    camera: Path | None = typer.Option(None, "--camera", help="Camera profile TOML."),
    setup: Path | None = typer.Option(None, "--setup", help="Setup TOML (plane heights)."),
    setup_id: int | None = typer.Option(
        None,
        "--setup-id",
        help="Check a clinic's stored setup (its current version) from the service database "
        "(SOTMEASURE_* settings) and store the result there, as the page does.",
    ),
    heel_box_mm: float | None = typer.Option(
        None, "--heel-box-mm", help="Measured height of the box under the HEEL sheet (0: table)."
    ),
    hip_box_mm: float | None = typer.Option(
        None, "--hip-box-mm", help="Measured height of the box under the HIP sheet (0: table)."
    ),
    tolerance_mm: float | None = typer.Option(
        None,
        "--tolerance-mm",
        help="Largest error (95% CI bound) that passes (default "
        f"{_DEFAULT_TOLERANCE_MM:g}; with --setup-id the service's setting).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Measure the printed check sheets through the measurement's geometry; error in mm.

    The result names the setup it checked: the files given (with their fingerprint), or with
    --setup-id the stored setup and version (and the check is stored with it)."""
    heights = {role: h for role, h in (("heel", heel_box_mm), ("hip", hip_box_mm)) if h is not None}
    if not heights:
        raise typer.BadParameter("give --heel-box-mm and/or --hip-box-mm", param_hint="heights")
    if (setup_id is None) == (target is None):
        raise typer.BadParameter(
            "give the setup's files (--target, with --camera and --setup) or --setup-id",
            param_hint="setup",
        )
    try:
        if setup_id is not None:
            if camera is not None or setup is not None:
                raise typer.BadParameter(
                    "--setup-id takes the stored setup's files: leave out --camera and --setup",
                    param_hint="setup",
                )
            result, checked, stored_id = _check_stored(video, setup_id, heights, tolerance_mm)
        else:
            assert target is not None
            result, checked = _check_files(video, target, camera, setup, heights, tolerance_mm)
            stored_id = None
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    tolerance = result.tolerance_mm
    if as_json:
        typer.echo(json.dumps(result.to_dict() | {"setup": checked, "rig_check_id": stored_id}))
        raise typer.Exit(0 if result.passed else 2)
    lines = [
        f"setup: {checked['label']} (fingerprint {checked['fingerprint'][:12]})",
        f"table pose: {len(result.pose.markers_used)} markers, reprojection "
        f"{result.pose.reprojection_px:.2f} px = {result.pose.reprojection_mm:.2f} mm",
    ]
    for s in result.sheets:
        verdict = "pass" if s.passed(tolerance) else "FAIL"
        lines.append(
            f"{s.role} sheet at {s.height_mm:g} mm: error {s.error_mm:+.2f} mm over "
            f"{s.span_mm:.0f} mm (95% CI {s.ci95_mm[0]:+.2f} to {s.ci95_mm[1]:+.2f}; "
            f"{s.frames} frames) -> {verdict} (tolerance +/-{tolerance:g} mm)"
        )
    lines.append("rig check passed" if result.passed else "rig check FAILED")
    if stored_id is not None:
        lines.append(f"stored as rig check #{stored_id}")
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    if not result.passed:
        raise typer.Exit(2)


def _check_files(
    video: Path,
    target: Path,
    camera: Path | None,
    setup: Path | None,
    heights: dict[str, float],
    tolerance_mm: float | None,
) -> tuple[RigCheckResult, dict[str, Any]]:
    """A check of the setup the files describe (nothing stored)."""
    from sotmeasure.processing.rig_check import check_rig
    from sotmeasure.processing.setup import SOURCE_CONFIGURED, SetupFiles, load_files
    from sotmeasure.services.rig_checks import setup_details

    files = SetupFiles(target, camera, setup, SOURCE_CONFIGURED)
    loaded = load_files(files)
    result = check_rig(video, loaded, heights, tolerance_mm or _DEFAULT_TOLERANCE_MM)
    named = ", ".join(f"{k} {v}" for k, v in files.describe().items() if v and k != "source")
    return result, setup_details(loaded) | {"label": f"files: {named}"}


def _check_stored(
    video: Path, setup_id: int, heights: dict[str, float], tolerance_mm: float | None
) -> tuple[RigCheckResult, dict[str, Any], int]:
    """A check of a stored clinic setup's current version, stored in the service database."""
    from sotmeasure.cli.service_cmds import _migrated_engine
    from sotmeasure.services.rig_checks import checked_and_stored, setup_by_id
    from sotmeasure.settings import Settings
    from sotmeasure.store.engine import make_session_factory

    settings = Settings()
    if tolerance_mm is not None:
        settings = settings.model_copy(update={"rig_check_tolerance_mm": tolerance_mm})
    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        row, result = checked_and_stored(
            session,
            settings,
            None,
            video,
            heights_mm=heights,
            target=setup_by_id(session, setup_id),
        )
        return result, dict(row.details["setup"]), row.id


def register(app: typer.Typer) -> None:
    """Add the rig check commands to the root app and to `calibration`."""
    app.command("check-rig")(check_rig_cmd)
    calibration_app.command("print-check-sheets")(print_check_sheets_cmd)
