"""`sotmeasure calibration ...`: print targets, calibrate intrinsics, check the table pose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from sotmeasure.cli.common import console, fail, progress_bar
from sotmeasure.errors import SotmeasureError

calibration_app = typer.Typer(
    name="calibration",
    help="Calibration to millimetres: print targets, camera intrinsics, table pose.",
    no_args_is_help=True,
)


@calibration_app.command("print-target")
def print_target_cmd(
    layout: Path = typer.Argument(..., help="Target layout or ChArUco board JSON."),
    out: Path = typer.Option(..., "--out", help="PDF file to write."),
    paper: str | None = typer.Option(
        None, "--paper", help="a4 | letter | a3 (default: a4; a board: smallest that fits)."
    ),
) -> None:
    """Make a printable PDF of the target at true size, with a 100 mm check line."""
    from sotmeasure.geometry.layout import load_layout
    from sotmeasure.geometry.print_target import print_target

    try:
        summary = print_target(load_layout(layout), out, paper)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    console.print(
        f"wrote {summary.path} ({summary.pages} page(s), {summary.paper}); print at 100 % "
        "and check the 100 mm line with a ruler",
        markup=False,
        highlight=False,
    )


@calibration_app.command("intrinsics")
def intrinsics_cmd(
    source: Path = typer.Argument(..., help="Video file or folder of images of the board."),
    board: Path = typer.Option(..., "--board", help="ChArUco board JSON."),
    out: Path = typer.Option(..., "--out", help="Camera profile TOML to write."),
    name: str | None = typer.Option(None, "--name", help="Profile name (default: file stem)."),
    max_frames: int = typer.Option(300, "--max-frames", help="Frames to examine at most."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Calibrate camera intrinsics from a ChArUco board video; write a TOML profile."""
    from sotmeasure.geometry.intrinsics import calibrate_intrinsics
    from sotmeasure.geometry.layout import load_board
    from sotmeasure.geometry.profile import save_profile

    try:
        spec = load_board(board)
        with progress_bar(disable=as_json) as bar:
            task = bar.add_task("finding the board", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total or None)

            result = calibrate_intrinsics(
                source, spec, name=name or out.stem, max_frames=max_frames, progress=advance
            )
        save_profile(result.profile, out)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    k = result.profile.matrix
    summary: dict[str, Any] = {
        "profile": str(out),
        "image_size_px": list(result.profile.image_size_px),
        "fx": round(float(k[0, 0]), 2),
        "fy": round(float(k[1, 1]), 2),
        "cx": round(float(k[0, 2]), 2),
        "cy": round(float(k[1, 2]), 2),
        "distortion": [round(float(v), 5) for v in result.profile.distortion],
        "rms_reprojection_px": round(result.rms_px, 4),
        "views_used": len(result.views_used),
        "views_frames": list(result.views_used),
        "board_found_in_frames": result.views_detected,
        "frames_checked": result.frames_checked,
        "coverage": round(result.coverage, 3),
        "std_px": {key: round(v, 3) for key, v in result.std_px.items()},
        "principal_point_fixed_at_centre": result.principal_point_fixed,
        "k3_fixed_at_zero": result.k3_fixed,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console.print(
        f"RMS reprojection error {result.rms_px:.3f} px over {len(result.views_used)} views "
        f"(board found in {result.views_detected} of {result.frames_checked} frames checked; "
        f"image coverage {result.coverage:.0%})\n"
        f"fx {k[0, 0]:.2f}  fy {k[1, 1]:.2f}  cx {k[0, 2]:.2f}  cy {k[1, 2]:.2f}  "
        f"(±{result.std_px['fx']:.2f}, ±{result.std_px['fy']:.2f} px)\n"
        f"distortion k1,k2,p1,p2,k3 = {', '.join(f'{v:.5f}' for v in result.profile.distortion)}",
        markup=False,
        highlight=False,
    )
    if result.principal_point_fixed:
        console.print(
            "note: the views did not determine the principal point; it was fixed at the image "
            "centre (move the board into the image corners to measure it)",
            markup=False,
            highlight=False,
        )
    if result.k3_fixed:
        console.print(
            "note: the board did not reach the image corners, so k3 was fixed at 0 "
            "(distortion is reliable where the board was seen)",
            markup=False,
            highlight=False,
        )
    console.print(f"wrote {out}", markup=False, highlight=False)


@calibration_app.command("table-pose")
def table_pose_cmd(
    video: Path = typer.Argument(..., help="Video file or image folder showing the target."),
    layout: Path = typer.Option(..., "--layout", help="Target layout JSON."),
    profile: Path | None = typer.Option(
        None, "--profile", help="Camera profile TOML (without it: homography-only)."
    ),
    frames: int = typer.Option(8, "--frames", help="Frames to check, spread over the video."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check the target placement: find the table pose and its reprojection error."""
    from sotmeasure.geometry.frames import read_frames
    from sotmeasure.geometry.layout import load_layout
    from sotmeasure.geometry.profile import load_profile
    from sotmeasure.geometry.table_pose import estimate_table_pose

    try:
        lay = load_layout(layout)
        prof = load_profile(profile) if profile is not None else None
        images = read_frames(video, max_frames=frames)
        pose = estimate_table_pose(images, lay, prof, max_frames=frames)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    data = pose.to_dict()
    if as_json:
        typer.echo(json.dumps(data))
        return
    lines = [
        f"calibration: {pose.calibration}",
        f"markers used: {list(pose.markers_used)} (dropped: {list(pose.markers_dropped)})",
        f"reprojection error: {pose.reprojection_px:.2f} px = {pose.reprojection_mm:.2f} mm "
        "on the table",
        f"marker shift over the frames: {pose.marker_shift_px:.2f} px "
        f"(limit {pose.max_shift_px:g} px)",
    ]
    if "camera_position_mm" in data:
        x, y, z = data["camera_position_mm"]
        lines.append(f"camera at x = {x:.0f}, y = {y:.0f}, z = {z:.0f} mm (table frame)")
    console.print("\n".join(lines), markup=False, highlight=False)


@calibration_app.command("sticker-colours")
def sticker_colours_cmd(
    video: Path = typer.Argument(
        ..., help="Clip of the patient with the stickers on, on the table."
    ),
    layout: Path = typer.Option(..., "--layout", help="Target layout JSON."),
    profile: Path | None = typer.Option(
        None, "--profile", help="Camera profile TOML (without it: homography-only)."
    ),
    setup: Path | None = typer.Option(
        None,
        "--setup",
        help="Setup TOML: its colours are the starting guess and the measured ones are "
        "written to its [stickers] section.",
    ),
    frames: int = typer.Option(8, "--frames", help="Frames to measure, spread over the clip."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Measure the heel and PSIS sticker colours (relative to the markers' white)."""
    from sotmeasure.geometry.frames import read_frames
    from sotmeasure.geometry.layout import load_layout
    from sotmeasure.geometry.profile import load_profile
    from sotmeasure.pose.stickers import HEEL_GREEN, PSIS_BLUE, StickerColour
    from sotmeasure.processing.params import load_setup, rgb_to_hex
    from sotmeasure.processing.sticker_colours import calibrate_stickers, write_sticker_colours

    try:
        current = load_setup(setup) if setup is not None else None
        guesses = [HEEL_GREEN, PSIS_BLUE]
        if current is not None:
            guesses = [
                StickerColour(current.heel_sticker_rgb),
                StickerColour(current.psis_sticker_rgb),
            ]
        images = read_frames(video, max_frames=frames)
        cal = calibrate_stickers(
            images,
            load_layout(layout),
            load_profile(profile) if profile is not None else None,
            *guesses,
        )
        if setup is not None:
            write_sticker_colours(setup, cal.heel, cal.psis)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    ref = cal.photometry.to_dict()
    data = {
        "heel_sticker_rgb": rgb_to_hex(cal.heel.rgb),
        "psis_sticker_rgb": rgb_to_hex(cal.psis.rgb),
        "marker_reference": ref,
        "frames": cal.frames,
        "written_to": str(setup) if setup is not None else None,
    }
    if as_json:
        typer.echo(json.dumps(data))
        return
    lines = [
        f'heel_sticker_rgb = "{data["heel_sticker_rgb"]}"',
        f'psis_sticker_rgb = "{data["psis_sticker_rgb"]}"',
        f"(relative to the markers' white, read at RGB {ref['white_rgb']} over {cal.frames} "
        "frames)",
        f"wrote them to [stickers] of {setup}"
        if setup is not None
        else "put these two lines in the [stickers] section of the setup file (or use --setup)",
    ]
    console.print("\n".join(lines), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(calibration_app, name="calibration")
