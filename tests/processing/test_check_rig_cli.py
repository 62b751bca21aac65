"""`sotmeasure check-rig` and `print-check-sheets` from the command line: numbers in mm,
exit code 2 for a failed check, a one-line error for a clip without sheets."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sotmeasure.cli import app

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "fixtures" / "rig_check" / "check_sheets.mp4"
TRUTH = json.loads((CLIP.parent / "truth.json").read_text())
ARGS = [
    "--target",
    str(ROOT / "calibration" / "targets" / "table_8_markers.json"),
    "--camera",
    str(ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"),
    "--setup",
    str(ROOT / "calibration" / "setups" / "rendered_table.toml"),
]


def test_check_rig_prints_mm_and_fails_with_exit_2() -> None:
    heel = TRUTH["sheets"]["heel"]["box_height_mm"]
    runner = CliRunner()
    ok = runner.invoke(app, ["check-rig", str(CLIP), *ARGS, "--heel-box-mm", str(heel), "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["passed"] and abs(data["sheets"]["heel"]["error_mm"]) < 0.6
    bad = runner.invoke(app, ["check-rig", str(CLIP), *ARGS, "--heel-box-mm", str(heel + 20)])
    assert bad.exit_code == 2 and "rig check FAILED" in bad.stdout


def test_check_rig_needs_a_height_and_sheets(tmp_path: Path) -> None:
    runner = CliRunner()
    none = runner.invoke(app, ["check-rig", str(CLIP), *ARGS])
    assert none.exit_code != 0 and "--heel-box-mm" in none.output
    clip = ROOT / "tests" / "fixtures" / "sessions" / "pre_block" / "video.mp4"
    missing = runner.invoke(app, ["check-rig", str(clip), *ARGS, "--hip-box-mm", "262"])
    assert missing.exit_code == 1 and "HIP sheet" in missing.output
    pdf = runner.invoke(
        app, ["calibration", "print-check-sheets", "--out", str(tmp_path / "s.pdf")]
    )
    assert pdf.exit_code == 0 and (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
