"""The command line as a user first meets it: help, version, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
