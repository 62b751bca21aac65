"""The command line as a user first meets it: help, version, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sotmeasure
from sotmeasure.cli import app


def test_version_matches_package_metadata() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == sotmeasure.__version__
    assert sotmeasure.__version__ != "0.0.0+unknown"


def test_help_lists_every_command_with_a_purpose() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        assert name.replace("_", "-") in result.stdout, name
        assert command.help or (command.callback and command.callback.__doc__), name


def test_console_script_entry_point_runs() -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "sotmeasure"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage: sotmeasure" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["info", "{bad}"],
        ["replay", "{bad}"],
        ["measure", "{bad}", "--target", "calibration/targets/table_8_markers.json"],
        [
            "calibration",
            "intrinsics",
            "{bad}",
            "--board",
            "calibration/targets/charuco_7x5.json",
            "--out",
            "{tmp}/x.toml",
        ],
    ],
    ids=["info", "replay", "measure", "intrinsics"],
)
def test_a_corrupt_video_is_one_line_on_stderr_from_the_installed_command(
    tmp_path: Path, args: list[str]
) -> None:
    """Native OpenCV/FFmpeg warnings and progress-bar leftovers must not surround the reason."""
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    argv = [a.replace("{bad}", str(bad)).replace("{tmp}", str(tmp_path)) for a in args]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "sotmeasure"), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "broken.mp4" in lines[0]
