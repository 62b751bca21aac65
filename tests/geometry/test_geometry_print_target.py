"""print-target: the PDF holds detectable markers at true size, the paper size and a check line.

The PDF is written uncompressed, so the marker cells can be read back from the page's
rectangles and drawn into an image for the real ArUco detector.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
from geometry_fixtures import TARGETS
from typer.testing import CliRunner

from sotmeasure.cli import app

PT_PER_MM = 72 / 25.4


def _pages(pdf: bytes) -> list[bytes]:
    return [m for m in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S) if b" re" in m]


def test_marker_layout_pdf(tmp_path: Path) -> None:
    out = tmp_path / "t.pdf"
    res = CliRunner().invoke(
        app,
        ["calibration", "print-target", str(TARGETS / "table_8_markers.json"), "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf  # A4 portrait in points
    pages = _pages(pdf)
    assert len(pages) == 2
    assert all(b"100 mm check line" in p and rb"A4 \(210 x 297 mm\)" in p for p in pages)
    assert b"centre x = 1915, y = 46 mm" in pdf  # marker 3's table position

    # rasterise page 1's filled cells at 4 px/mm and detect the markers
    scale = 4 / PT_PER_MM
    img = np.full((297 * 4, 210 * 4), 255, np.uint8)
    for x, y, w, h in re.findall(rb"n ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re f\*", pages[0]):
        x0, y0 = float(x) * scale, img.shape[0] - (float(y) + float(h)) * scale
        x1, y1 = x0 + float(w) * scale, y0 + float(h) * scale
        img[round(y0) : round(y1), round(x0) : round(x1)] = 0
    det = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50))
    corners, ids, _ = det.detectMarkers(img)
    assert ids is not None and sorted(ids.ravel().tolist()) == [0, 1, 2, 3]
    for c in corners:
        side_mm = np.linalg.norm(np.diff(c.reshape(4, 2), axis=0), axis=1).mean() / 4
        assert abs(side_mm - 60.0) < 0.5
    # the check line is 100 mm long
    line = re.search(rb"n ([\d.]+) ([\d.]+) m ([\d.]+) ([\d.]+) l S", pages[0])
    assert line is not None
    assert abs((float(line.group(3)) - float(line.group(1))) / PT_PER_MM - 100.0) < 1e-3


def test_board_pdf_needs_a3_and_letter_is_accepted_for_markers(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "calibration",
            "print-target",
            str(TARGETS / "charuco_7x5.json"),
            "--out",
            str(tmp_path / "b.pdf"),
            "--paper",
            "a4",
        ],
    )
    assert res.exit_code == 1 and "use --paper a3" in res.output
    res = runner.invoke(
        app,
        [
            "calibration",
            "print-target",
            str(TARGETS / "charuco_7x5.json"),
            "--out",
            str(tmp_path / "b.pdf"),
        ],
    )
    assert res.exit_code == 0, res.output
    pdf = (tmp_path / "b.pdf").read_bytes()
    assert rb"A3 \(297 x 420 mm\)" in pdf
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 1
    assert b"/Image" in pdf or b"/XObject" in pdf
    res = runner.invoke(
        app,
        [
            "calibration",
            "print-target",
            str(TARGETS / "table_8_markers.json"),
            "--out",
            str(tmp_path / "l.pdf"),
            "--paper",
            "letter",
        ],
    )
    assert res.exit_code == 0
    assert b"/MediaBox [ 0 0 612 792 ]" in (tmp_path / "l.pdf").read_bytes()
