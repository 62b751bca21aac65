"""The rig check's printed reference: two sheets of ArUco markers at known positions.

A clinic prints both sheets at true size, lays the HEEL sheet on a box of measured height
where the heels lie and the HIP sheet on a box where the pelvis lies (either box may be
left out, height 0: the sheet lies on the table top), and films them with the table's own
markers in view. The rig check (`processing/rig_check.py`) maps the sheets' marker corners
to the table frame through the same table pose and plane mapping a measurement uses, at the
box height, and compares the distances between the corners with the printed ones: a wrong
camera profile, a wrong table pose or a wrong height shows up as a distance error in mm.

Markers rather than printed dots: ArUco corners are found to a fraction of a pixel, carry
their identity (which sheet, which corner) and are read by the detector the table pose
already uses. The sheets use ids 40-47 of DICT_4X4_50, which a table layout must not use.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import numpy.typing as npt
from reportlab.lib.pagesizes import A4, portrait
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from sotmeasure.geometry.errors import LayoutError
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.print_target import PrintSummary, _draw_marker, _footer

FloatArray = npt.NDArray[np.float64]

CHECK_DICTIONARY = "DICT_4X4_50"
CHECK_MARKER_MM = 40.0
#: Marker centres on the sheet, mm from the page centre: (down the page, right). The two
#: outer rows are 170 mm apart and the columns 110 mm, so the longest printed offset (the
#: diagonal between the outermost corners) is about 258 mm, at least as long as a heel
#: separation or a PSIS separation.
_CENTRES_MM = ((-85.0, -55.0), (-85.0, 55.0), (85.0, -55.0), (85.0, 55.0))
HEEL, HIP = "heel", "hip"


@dataclass(frozen=True)
class CheckSheet:
    """One printed sheet: its role, its marker ids and their corners in sheet mm."""

    role: str
    ids: tuple[int, ...]
    marker_size_mm: float = CHECK_MARKER_MM

    def corners_mm(self) -> dict[int, FloatArray]:
        """Corners (4, 2) per id in ArUco order TL, TR, BR, BL; (down, right) from the centre."""
        half = self.marker_size_mm / 2
        out: dict[int, FloatArray] = {}
        for marker_id, (cx, cy) in zip(self.ids, _CENTRES_MM, strict=True):
            out[marker_id] = np.array(
                [
                    [cx - half, cy - half],
                    [cx - half, cy + half],
                    [cx + half, cy + half],
                    [cx + half, cy - half],
                ]
            )
        return out

    def as_layout(self) -> TargetLayout:
        """The sheet as a planar layout (z = 0), for the project's marker detector."""
        markers = {i: np.column_stack([c, np.zeros(4)]) for i, c in self.corners_mm().items()}
        return TargetLayout(
            name=f"check sheet {self.role}",
            dictionary=CHECK_DICTIONARY,
            marker_size_mm=self.marker_size_mm,
            markers=markers,
            sha256=f"check-sheet-{self.role}-v1",
        )

    def longest_offset(self) -> tuple[tuple[int, int], tuple[int, int], float]:
        """The two corners (id, corner index) farthest apart on the sheet, and their distance."""
        points = [(i, k, c) for i, cs in self.corners_mm().items() for k, c in enumerate(cs)]
        best = max(
            combinations(points, 2), key=lambda pair: float(np.linalg.norm(pair[0][2] - pair[1][2]))
        )
        (ia, ka, ca), (ib, kb, cb) = best
        return (ia, ka), (ib, kb), float(np.linalg.norm(ca - cb))


SHEETS: dict[str, CheckSheet] = {
    HEEL: CheckSheet(HEEL, (40, 41, 42, 43)),
    HIP: CheckSheet(HIP, (44, 45, 46, 47)),
}


def check_ids_clash(layout: TargetLayout) -> None:
    """Refuse a table layout whose markers could be mistaken for the check sheets' markers."""
    if layout.dictionary != CHECK_DICTIONARY:
        return
    taken = {i for s in SHEETS.values() for i in s.ids} & set(layout.markers)
    if taken:
        raise LayoutError(
            f"the table layout uses marker ids {sorted(taken)}, which the rig check sheets "
            "use too: the check cannot tell them apart"
        )


def print_check_sheets(out: str | Path) -> PrintSummary:
    """Write the HEEL and HIP sheets as a two-page A4 PDF at true size."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    page_w, page_h = portrait(A4)
    c = Canvas(str(out), pagesize=(page_w, page_h), pageCompression=0)
    c.setTitle("sotmeasure rig check sheets")
    for sheet in SHEETS.values():
        _, _, span = sheet.longest_offset()
        c.setFont("Helvetica-Bold", 12)
        c.drawString(
            12 * mm,
            page_h - 12 * mm,
            f"sotmeasure rig check: {sheet.role.upper()} sheet "
            f"(ids {sheet.ids[0]}-{sheet.ids[-1]})",
        )
        c.setFont("Helvetica", 8)
        c.drawString(
            12 * mm,
            page_h - 17 * mm,
            f"Lay it flat on a box where the {sheet.role}s lie; measure the box height. "
            f"The outer corners are {span:.1f} mm apart diagonally.",
        )
        cx, cy = page_w / 2, page_h / 2
        for marker_id, corners in sheet.corners_mm().items():
            top_down, left_right = corners[0]  # TL corner: down the page, right
            _draw_marker(
                c,
                CHECK_DICTIONARY,
                marker_id,
                cx + left_right * mm,
                cy - top_down * mm,
                sheet.marker_size_mm,
            )
        _footer(c, "a4", page_w, "Markers must measure 40 mm. Keep the sheet flat.")
        c.showPage()
    c.save()
    return PrintSummary(path=out, pages=len(SHEETS), paper="a4", items=4 * len(SHEETS))
