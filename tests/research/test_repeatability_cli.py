"""`sotmeasure repeatability`: a clinic's own test-retest numbers, from a CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fixture_data import SHROUT_FLEISS
from sotmeasure.cli import app


def _write_long_csv(path: Path, matrix: list[list[float]], column: str) -> Path:
    lines = [f"subject,capture,{column}"]
    for s, row in enumerate(matrix):
        lines += [f"S{s},{c + 1},{v}" for c, v in enumerate(row)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_shrout_fleiss_table_gives_published_icc(tmp_path: Path) -> None:
    csv_path = _write_long_csv(tmp_path / "sf.csv", SHROUT_FLEISS, "lld_mm")
    result = CliRunner().invoke(app, ["repeatability", str(csv_path), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)["lld_mm"]
    assert stats["icc_2_1"] == pytest.approx(0.29, abs=0.005)
    assert (stats["n_subjects"], stats["k_captures"]) == (6, 4)
    assert stats["bland_altman"] is None  # only defined for two captures
    assert stats["mdc95"] == pytest.approx(1.96 * np.sqrt(2) * stats["sem"])


def test_two_captures_give_bland_altman_and_plot(tmp_path: Path) -> None:
    first = [2.0, -1.0, 4.0, 0.5, 3.0]
    second = [2.6, -0.2, 4.4, 1.5, 3.1]
    csv_path = _write_long_csv(
        tmp_path / "retest.csv", [list(p) for p in zip(first, second, strict=True)], "lld_mm"
    )
    plot = tmp_path / "ba.png"
    result = CliRunner().invoke(
        app, ["repeatability", str(csv_path), "--json", "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    ba = json.loads(result.stdout)["lld_mm"]["bland_altman"]
    diff = np.subtract(second, first)
    assert ba["bias"] == pytest.approx(diff.mean())  # 0.56 mm
    half = 1.96 * diff.std(ddof=1)
    assert ba["loa95"] == pytest.approx([diff.mean() - half, diff.mean() + half])
    assert plot.stat().st_size > 5_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_incomplete_subjects_are_dropped_and_counted(tmp_path: Path) -> None:
    csv_path = tmp_path / "gaps.csv"
    csv_path.write_text(
        "subject,capture,pelvic_tilt_deg\nA,1,1.0\nA,2,1.2\nB,1,-0.5\nB,2,-0.4\nC,1,2.0\nD,1,0.3\nD,2,0.1\n"
    )
    result = CliRunner().invoke(app, ["repeatability", str(csv_path), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)["pelvic_tilt_deg"]
    assert stats["n_subjects"] == 3
    assert stats["subjects_dropped_incomplete"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("who,when,lld_mm\nA,1,2\n", "needs columns subject, capture"),
        ("subject,capture,lld_mm\nA,1,abc\n", "is not a number"),
        ("subject,capture,lld_mm\nA,1,2\nA,2,3\n", "n >= 2 subjects"),
    ],
    ids=["wrong-columns", "not-a-number", "one-subject"],
)
def test_bad_csv_is_one_line_error(tmp_path: Path, content: str, message: str) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(content)
    result = CliRunner().invoke(app, ["repeatability", str(csv_path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
