"""CLI commands for the measurement: measure, compare, demo.

`measure --json` and `compare --json` are a contract other tools call (MEASUREMENT.md, issue 5):
exactly one JSON object on stdout; when no measurement can be made, exit code 2, one line on
stderr and nothing on stdout. Heavy imports (pose model, OpenCV) happen inside the commands so
that `sotmeasure --help` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sotmeasure.cli.common import console, fail
from sotmeasure.errors import SotmeasureError

if TYPE_CHECKING:
    from sotmeasure.measure.compare import Comparison, Mdc95
    from sotmeasure.measure.result import MeasurementResult
    from sotmeasure.processing.setup import LoadedSetup

DEFAULT_DEMO_OUT = Path("sotmeasure-demo-report")


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[IO[str]]:
    """Silence C-level stderr (MediaPipe/TFLite log lines) while the pose model runs, so the
    contract's "one line on stderr" holds; yields a stream on the real stderr for progress
    (which is why `_measure` builds its own Rich Progress instead of cli.common's)."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    stream = os.fdopen(os.dup(saved), "w", buffering=1)
    os.dup2(devnull, 2)
    try:
        yield stream
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        stream.close()


def _load(
    target: Path,
    camera: Path | None,
    setup: Path | None,
    mode: str,
    heel_plane_mm: float | None,
    hip_plane_mm: float | None,
    window_s: float,
) -> LoadedSetup:
    """The files named on the command line, loaded by the pipeline's one setup loader."""
    from sotmeasure.processing.setup import SOURCE_CONFIGURED, SetupFiles, load_files

    if mode not in ("markerless", "stickers"):
        raise typer.BadParameter("use markerless or stickers", param_hint="--mode")
    return load_files(
        SetupFiles(target, camera, setup, SOURCE_CONFIGURED),
        mode=mode,  # type: ignore[arg-type]
        heel_plane_mm=heel_plane_mm,
        hip_plane_mm=hip_plane_mm,
        window_s=window_s,
    )


def _measure(videos: list[tuple[str, Path]], setup: LoadedSetup) -> list[MeasurementResult]:
    """Measure each video with a progress bar on the real stderr."""
    from sotmeasure.processing.video import measure_video

    results = []
    with _native_stderr_silenced() as err:
        err_console = Console(file=err)
        bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,  # no bar (nor its leftover line) in pipes/CI
        )
        with bar:
            for label, video in videos:
                task = bar.add_task(f"{label}: {video.name}", total=None)

                def tick(done: int, total: int, _what: str, task: Any = task) -> None:
                    bar.update(task, completed=done, total=total or None)

                results.append(
                    measure_video(
                        video,
                        setup.layout,
                        setup.profile,
                        setup.params,
                        progress=tick,
                        demo_calibration=setup.is_demo,
                    )
                )
    return results


def _result_table(r: MeasurementResult, title: str) -> Table:
    t = Table(title=title, show_header=False)
    t.add_column("what")
    t.add_column("value")
    lo, hi = r.lld_ci95_mm
    tlo, thi = r.pelvic_tilt_ci95_deg
    t.add_row("LLD (right - left, along body axis)", f"{r.lld_mm:+.1f} mm  [{lo:+.1f}, {hi:+.1f}]")
    t.add_row("short side", r.short_side)
    t.add_row("LLD along table x", f"{r.lld_table_mm:+.1f} mm")
    t.add_row(
        "pelvic tilt (+ = left hip cranial)",
        f"{r.pelvic_tilt_deg:+.1f} deg  [{tlo:+.1f}, {thi:+.1f}]",
    )
    t.add_row("body axis", f"{r.body_axis_deg:+.1f} deg")
    t.add_row("window", f"{r.window.start_s:.1f}-{r.window.end_s:.1f} s, {r.frames_used} frames")
    t.add_row(
        "rejected",
        ", ".join(f"{k}: {v}" for k, v in r.frames_rejected.items()) or "none",
    )
    t.add_row("calibration", r.calibration)
    for c in r.budget.components:
        t.add_row(f"budget: {c.name}", f"{c.lld_u_mm:.2f} mm, {c.pelvic_tilt_u_deg:.2f} deg (1 SD)")
    return t


def _comparison_table(c: Comparison) -> Table:
    d = c.to_dict()["change"]
    t = Table(title="change (post - pre)")
    for col in ("number", "change", "95% CI", "MDC95", "verdict"):
        t.add_column(col)
    t.add_row(
        "LLD",
        f"{d['lld_mm']:+.1f} mm",
        f"[{d['lld_ci95_mm'][0]:+.1f}, {d['lld_ci95_mm'][1]:+.1f}]",
        f"{c.mdc95.lld_mm:.1f} mm",
        c.lld_verdict,
    )
    t.add_row(
        "pelvic tilt",
        f"{d['pelvic_tilt_deg']:+.1f} deg",
        f"[{d['pelvic_tilt_ci95_deg'][0]:+.1f}, {d['pelvic_tilt_ci95_deg'][1]:+.1f}]",
        f"{c.mdc95.pelvic_tilt_deg:.1f} deg",
        c.tilt_verdict,
    )
    return t


def _mdc(lld: float | None, tilt: float | None) -> Mdc95:
    from sotmeasure.processing.setup import mdc_with_overrides

    return mdc_with_overrides(
        lld, tilt, "given on the command line (--mdc-lld-mm / --mdc-tilt-deg)"
    )


def _echo_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2))


_TARGET = typer.Option(..., "--target", help="Target layout JSON of the table's markers.")
_CAMERA = typer.Option(None, "--camera", help="Camera profile TOML (without: homography-only).")
_SETUP = typer.Option(None, "--setup", help="Setup TOML with plane heights (calibration/setups).")
_HEEL = typer.Option(None, "--heel-plane-mm", help="Height of the heel points above the table.")
_HIP = typer.Option(None, "--hip-plane-mm", help="Height of the hip points above the table.")
_MODE = typer.Option("markerless", "--mode", help="markerless or stickers.")
_WINDOW = typer.Option(3.0, "--window-s", help="Length of the still window in seconds.")
_JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")
_FRAMES = typer.Option(False, "--frames", help="With --json: include per-frame values.")


def measure_cmd(
    video: Path = typer.Argument(..., help="Video file (or recording folder) of the patient."),
    target: Path = _TARGET,
    camera: Path | None = _CAMERA,
    setup: Path | None = _SETUP,
    heel_plane_mm: float | None = _HEEL,
    hip_plane_mm: float | None = _HIP,
    mode: str = _MODE,
    window_s: float = _WINDOW,
    as_json: bool = _JSON,
    frames: bool = _FRAMES,
) -> None:
    """Measure leg length difference and pelvic tilt on the stillest window of a video."""
    try:
        loaded = _load(target, camera, setup, mode, heel_plane_mm, hip_plane_mm, window_s)
        (result,) = _measure([("measure", video)], loaded)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    if as_json:
        _echo_json(result.to_dict(include_frames=frames))
    else:
        console.print(_result_table(result, f"sotmeasure: {video.name}"))


def compare_cmd(
    pre: Path = typer.Argument(..., help="Video before blocking."),
    post: Path = typer.Argument(..., help="Video after blocking."),
    target: Path = _TARGET,
    camera: Path | None = _CAMERA,
    setup: Path | None = _SETUP,
    heel_plane_mm: float | None = _HEEL,
    hip_plane_mm: float | None = _HIP,
    mode: str = _MODE,
    window_s: float = _WINDOW,
    mdc_lld_mm: float | None = typer.Option(None, "--mdc-lld-mm", help="Your LLD MDC95 (mm)."),
    mdc_tilt_deg: float | None = typer.Option(None, "--mdc-tilt-deg", help="Your tilt MDC95."),
    as_json: bool = _JSON,
) -> None:
    """Compare a pre and a post video: change with 95% CI and a verdict against MDC95."""
    from sotmeasure.measure.compare import compare

    try:
        loaded = _load(target, camera, setup, mode, heel_plane_mm, hip_plane_mm, window_s)
        r_pre, r_post = _measure([("pre", pre), ("post", post)], loaded)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    c = compare(r_pre, r_post, _mdc(mdc_lld_mm, mdc_tilt_deg))
    if as_json:
        _echo_json(c.to_dict())
        return
    console.print(_result_table(r_pre, f"pre: {pre.name}"))
    console.print(_result_table(r_post, f"post: {post.name}"))
    console.print(_comparison_table(c))


def demo_cmd(
    out: Path = typer.Option(DEFAULT_DEMO_OUT, "--out", help="Folder for the report."),
) -> None:
    """Measure and compare the bundled pre/post demo session and write a report folder."""
    from sotmeasure.measure.compare import compare
    from sotmeasure.processing.setup import (
        DEMO_LAYOUT,
        DEMO_PROFILE,
        DEMO_SETUP,
        SOURCE_DEMO,
        SetupFiles,
        bundled_demo_file,
        demo_clip_path,
        load_files,
    )
    from sotmeasure.report.folder import write_comparison_report

    try:
        files = [bundled_demo_file(*f) for f in (DEMO_LAYOUT, DEMO_PROFILE, DEMO_SETUP)]
        pre, post = demo_clip_path("pre"), demo_clip_path("post")
        layout, profile, setup_toml = files
        if layout is None or pre is None or post is None:
            fail("the bundled demo session is missing from this installation", 1)
        loaded = load_files(SetupFiles(layout, profile, setup_toml, SOURCE_DEMO))
        r_pre, r_post = _measure([("pre", pre), ("post", post)], loaded)
        c = compare(r_pre, r_post)
        write_comparison_report(out, c, pre, post)
    except SotmeasureError as exc:
        fail(str(exc), exc.exit_code)
    console.print("Demo: a rendered prone patient (synthetic), before and after blocking.")
    console.print(_result_table(r_pre, "pre"))
    console.print(_result_table(r_post, "post"))
    console.print(_comparison_table(c))
    console.print(f"Report written to {out.resolve()}/ (report.html, report.md, report.json)")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("measure", help="Measure LLD and pelvic tilt on the stillest window of a video.")(
        measure_cmd
    )
    app.command("compare", help="Compare pre and post videos: change, 95% CI and verdict.")(
        compare_cmd
    )
    app.command("demo", help="Run compare on the bundled demo session and write a report.")(
        demo_cmd
    )
