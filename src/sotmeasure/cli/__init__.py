"""The `sotmeasure` command line. Each area registers its commands from its own module."""

from __future__ import annotations

import os

# OpenCV and its FFmpeg backend print their own warnings ("moov atom not found", "can't be
# used to capture by name") on stderr before our one-line reason; quiet them before cv2 loads.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import typer

from sotmeasure import __version__
from sotmeasure.cli import (
    batch_cmds,
    calibration_cmds,
    capture_cmds,
    measure_cmds,
    research_cmds,
    rig_cmds,
    service_cmds,
)
from sotmeasure.cli.common import fail
from sotmeasure.errors import SotmeasureError

app = typer.Typer(
    name="sotmeasure",
    help="Prone leg length difference and pelvic tilt from a camera, in millimetres and degrees.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Prone leg length difference and pelvic tilt from a camera, in millimetres and degrees."""


_AREAS = (
    capture_cmds,
    calibration_cmds,
    rig_cmds,
    measure_cmds,
    research_cmds,
    service_cmds,
    batch_cmds,
)
for _module in _AREAS:
    _module.register(app)


def main() -> None:
    """Console-script entry point: user-facing errors become one line on stderr."""
    try:
        app()
    except SotmeasureError as exc:
        try:
            fail(str(exc), exc.exit_code)
        except typer.Exit as done:
            raise SystemExit(done.exit_code) from None
