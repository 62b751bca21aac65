"""Printable PDF of a target layout or ChArUco board, at true physical size.

A printed marker at 97 % scale (a printer's "fit to page") puts every measurement 3 %
off, so each page states its paper size, says "print at 100 %", and carries a 100 mm
check line to measure with a ruler before use. Markers are drawn as vector squares,
one per marker cell, so their edges are exact at any printer resolution; each marker
is labelled with its id and where its centre goes on the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from reportlab.lib.pagesizes import A3, A4, LETTER, landscape, portrait
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from sotmeasure.geometry.dictionaries import get_dictionary
from sotmeasure.geometry.errors import LayoutError
from sotmeasure.geometry.layout import CharucoBoardSpec, TargetLayout

PAPERS: dict[str, tuple[float, float]] = {"a4": A4, "letter": LETTER, "a3": A3}
PAPER_NAMES = {
    "a4": "A4 (210 x 297 mm)",
    "letter": "US Letter (8.5 x 11 in)",
    "a3": "A3 (297 x 420 mm)",
}

MARGIN_MM = 12.0  # most printers cannot print the outer ~5 mm
BOARD_MARGIN_MM = 6.0
FOOTER_MM = 16.0  # check line + paper note
HEADER_MM = 10.0
LABEL_MM = 14.0
DEFAULT_QUIET_MM = 10.0
_BOARD_PX_PER_MM = 10  # board raster: 10 px/mm (254 dpi), exact for whole-mm squares


@dataclass(frozen=True)
class PrintSummary:
    """What was written: pages and paper, for the CLI to report."""

    path: Path
    pages: int
    paper: str
    items: int


def print_target(layout: TargetLayout, out: str | Path, paper: str | None = None) -> PrintSummary:
    """Write `layout` as a PDF: markers in a grid, or a board on one page.

    `paper` is a4, letter or a3; None means a4 for marker layouts and the smallest
    paper the board fits on for a ChArUco board.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if layout.board is not None:
        return _print_board(layout.board, out, paper)
    return _print_markers(layout, out, paper or "a4")


def _paper(paper: str) -> tuple[float, float]:
    key = paper.lower()
    if key not in PAPERS:
        raise LayoutError(f"unknown paper {paper!r}: use one of {', '.join(PAPERS)}")
    return PAPERS[key]


def _footer(c: Canvas, paper: str, page_w: float, note: str) -> None:
    """The 100 mm check line with 10 mm ticks, and the paper / scale statement."""
    x0, y0 = MARGIN_MM * mm, 9 * mm
    c.setLineWidth(0.6)
    c.setStrokeColorRGB(0, 0, 0)
    c.line(x0, y0, x0 + 100 * mm, y0)
    for k in range(11):
        tick = 3.0 if k % 5 == 0 else 1.5
        c.line(x0 + k * 10 * mm, y0, x0 + k * 10 * mm, y0 + tick * mm)
    c.setFont("Helvetica-Bold", 8)
    c.drawString(x0 + 103 * mm, y0 - 1 * mm, "100 mm check line: measure it before use")
    c.setFont("Helvetica", 7)
    c.drawString(
        x0,
        4 * mm,
        f"Paper: {PAPER_NAMES[paper]}. Print at 100 % (actual size, no 'fit to page'). {note}",
    )


def _marker_cells(dictionary: str, marker_id: int) -> np.ndarray:
    """The marker as a grid of cells (True = black), border included."""
    d = get_dictionary(dictionary)
    side = int(d.markerSize) + 2
    img = cv2.aruco.generateImageMarker(d, marker_id, side)
    return np.asarray(img) < 128


def _draw_marker(
    c: Canvas, dictionary: str, marker_id: int, x: float, y: float, size_mm: float
) -> None:
    """Draw a marker with its top-left at (x, y) (points, PDF y up), exactly size_mm wide."""
    cells = _marker_cells(dictionary, marker_id)
    n = cells.shape[0]
    cell = size_mm * mm / n
    c.setFillColorRGB(0, 0, 0)
    c.setStrokeColorRGB(0, 0, 0)
    for row in range(n):
        for col in range(n):
            if cells[row, col]:
                c.rect(x + col * cell, y - (row + 1) * cell, cell, cell, stroke=0, fill=1)


def _print_markers(layout: TargetLayout, out: Path, paper: str) -> PrintSummary:
    page_w, page_h = portrait(_paper(paper))
    size = layout.marker_size_mm
    quiet = layout.white_border_mm if layout.white_border_mm is not None else DEFAULT_QUIET_MM
    cell_w = size + 2 * quiet + 4
    cell_h = size + 2 * quiet + LABEL_MM
    usable_w = page_w / mm - 2 * MARGIN_MM
    usable_h = page_h / mm - MARGIN_MM - HEADER_MM - FOOTER_MM
    cols, rows = int(usable_w // cell_w), int(usable_h // cell_h)
    if cols < 1 or rows < 1:
        raise LayoutError(
            f"a {size:g} mm marker with its {quiet:g} mm white border does not fit on "
            f"{PAPER_NAMES[paper]}: use --paper a3"
        )
    per_page = cols * rows
    ids = layout.ids
    pages = -(-len(ids) // per_page)
    c = Canvas(str(out), pagesize=(page_w, page_h), pageCompression=0)
    c.setTitle(f"sotmeasure target {layout.name}")
    for page in range(pages):
        c.setFont("Helvetica-Bold", 11)
        c.drawString(
            MARGIN_MM * mm,
            page_h - (MARGIN_MM + 4) * mm,
            f"Target layout '{layout.name}': {layout.dictionary}, {size:g} mm markers "
            f"(page {page + 1} of {pages})",
        )
        for slot, marker_id in enumerate(ids[page * per_page : (page + 1) * per_page]):
            col, row = slot % cols, slot // cols
            left = (MARGIN_MM + col * cell_w) * mm
            top = page_h - (MARGIN_MM + HEADER_MM + row * cell_h) * mm
            # cut guide around the white border
            c.setStrokeColorRGB(0.6, 0.6, 0.6)
            c.setLineWidth(0.3)
            c.setDash(2, 2)
            c.rect(
                left,
                top - (size + 2 * quiet) * mm,
                (size + 2 * quiet) * mm,
                (size + 2 * quiet) * mm,
                stroke=1,
                fill=0,
            )
            c.setDash()
            _draw_marker(c, layout.dictionary, marker_id, left + quiet * mm, top - quiet * mm, size)
            centre = layout.markers[marker_id].mean(axis=0)
            c.setFillColorRGB(0, 0, 0)
            c.setFont("Helvetica-Bold", 8)
            label_y = top - (size + 2 * quiet + 4) * mm
            c.drawString(
                left,
                label_y,
                f"id {marker_id}   centre x = {centre[0]:.0f}, y = {centre[1]:.0f} mm",
            )
            c.setFont("Helvetica", 6.5)
            c.drawString(
                left, label_y - 3.2 * mm, "page bottom = toward the feet (+x); page right = +y"
            )
        _footer(c, paper, page_w, f"Markers {size:g} mm; cut along the dashed line.")
        c.showPage()
    c.save()
    return PrintSummary(path=out, pages=pages, paper=paper, items=len(ids))


def _board_fits(board: CharucoBoardSpec, paper: str) -> tuple[float, float, bool] | None:
    """Page size (portrait or landscape) on which the board fits with header and footer,
    and whether the board must be turned 90 degrees; None when it does not fit."""
    bw, bh = board.size_mm
    for page in (portrait(_paper(paper)), landscape(_paper(paper))):
        pw, ph = page[0] / mm, page[1] / mm
        for rotated, (w, h) in ((False, (bw, bh)), (True, (bh, bw))):
            if w + 2 * BOARD_MARGIN_MM <= pw and h + BOARD_MARGIN_MM + HEADER_MM + FOOTER_MM <= ph:
                return page[0], page[1], rotated
    return None


def _print_board(board: CharucoBoardSpec, out: Path, paper: str | None) -> PrintSummary:
    choices = [paper.lower()] if paper else ["a4", "letter", "a3"]
    fit = None
    for choice in choices:
        fit = _board_fits(board, choice)
        if fit is not None:
            paper = choice
            break
    bw, bh = board.size_mm
    if fit is None or paper is None:
        raise LayoutError(
            f"the {bw:g} x {bh:g} mm board does not fit on one {PAPER_NAMES[choices[-1]]} "
            "page with its check line; a board must not be split over pages: use --paper a3"
        )
    page_w, page_h, rotated = fit
    img = board.cv_board().generateImage(
        (round(bw * _BOARD_PX_PER_MM), round(bh * _BOARD_PX_PER_MM)), marginSize=0
    )
    img = np.asarray(img)
    if rotated:
        img = np.ascontiguousarray(np.rot90(img, k=-1))
    rgb = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    ok, png = cv2.imencode(".png", rgb)
    if not ok:
        raise LayoutError("could not render the board image")
    w_mm, h_mm = (bh, bw) if rotated else (bw, bh)
    c = Canvas(str(out), pagesize=(page_w, page_h), pageCompression=0)
    c.setTitle(f"sotmeasure ChArUco board {board.name}")
    c.setFont("Helvetica-Bold", 10)
    c.drawString(
        BOARD_MARGIN_MM * mm,
        page_h - (BOARD_MARGIN_MM + 4) * mm,
        f"ChArUco board '{board.name}': {board.squares_x} x {board.squares_y} squares of "
        f"{board.square_length_mm:g} mm, {board.marker_length_mm:g} mm {board.dictionary} markers",
    )
    x = (page_w / mm - w_mm) / 2 * mm
    top = page_h - (BOARD_MARGIN_MM + HEADER_MM) * mm
    c.drawImage(ImageReader(BytesIO(png.tobytes())), x, top - h_mm * mm, w_mm * mm, h_mm * mm)
    _footer(
        c,
        paper,
        page_w,
        f"Squares must measure {board.square_length_mm:g} mm. Glue flat on a rigid board.",
    )
    c.showPage()
    c.save()
    return PrintSummary(path=out, pages=1, paper=paper, items=1)
