"""ArUco marker detection restricted to a layout, with sub-pixel corners.

Only ids the layout lists are returned: a stray marker elsewhere in the room (or a
second copy of an id) must never pull the table frame. When nothing of the layout is
found, `explain_no_markers` looks at the image with other dictionary families so the
message can say "these are 5x5 markers, the layout says DICT_4X4_50" instead of
leaving the user to guess.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.dictionaries import get_dictionary
from sotmeasure.geometry.layout import TargetLayout

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

# Largest variant of each family: a marker of DICT_5X5_50 is also in DICT_5X5_1000.
_PROBE_DICTIONARIES = (
    "DICT_4X4_1000",
    "DICT_5X5_1000",
    "DICT_6X6_1000",
    "DICT_7X7_1000",
    "DICT_ARUCO_ORIGINAL",
    "DICT_APRILTAG_36h11",
)


def make_detector(dictionary: str) -> cv2.aruco.ArucoDetector:
    """An ArUco detector for `dictionary` with sub-pixel corner refinement.

    Sub-pixel refinement matters: the table frame is built from these corners, and a
    corner off by 1 px is ~1.5 mm on the table at the fixtures' scale.
    """
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    params.cornerRefinementWinSize = 5
    params.cornerRefinementMaxIterations = 50
    params.cornerRefinementMinAccuracy = 0.01
    return cv2.aruco.ArucoDetector(get_dictionary(dictionary), params)


def to_gray(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Grayscale view of a BGR or already-gray image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # type: ignore[return-value]
    raise ValueError(f"expected a BGR (HxWx3) or gray (HxW) image, got shape {image.shape}")


def detect_layout_markers(
    image: npt.NDArray[np.uint8],
    layout: TargetLayout,
    detector: cv2.aruco.ArucoDetector | None = None,
) -> dict[int, FloatArray]:
    """Corners (4, 2) px in ArUco order of every layout marker seen once in `image`.

    An id seen twice in one image is dropped for that image: we cannot tell which copy
    is the one on the table.
    """
    detector = detector or make_detector(layout.dictionary)
    corners, ids, _ = detector.detectMarkers(to_gray(image))
    if ids is None:
        return {}
    found: dict[int, FloatArray] = {}
    seen_twice: set[int] = set()
    id_list: list[int] = [int(i) for i in np.asarray(ids).ravel()]
    for marker_id, c in zip(id_list, corners, strict=True):
        if marker_id not in layout.markers:
            continue
        if marker_id in found:
            seen_twice.add(marker_id)
        found[marker_id] = np.asarray(c, dtype=np.float64).reshape(4, 2)
    for marker_id in seen_twice:
        log.warning("marker id %d seen twice in one image: ignored there", marker_id)
        del found[marker_id]
    return found


def explain_no_markers(image: npt.NDArray[np.uint8], layout: TargetLayout) -> str:
    """A sentence on why no layout marker was found: other dictionaries, other ids, or nothing."""
    gray = to_gray(image)
    _, own_ids, _ = make_detector(layout.dictionary).detectMarkers(gray)
    if own_ids is not None and len(own_ids):
        ids = sorted(set(np.asarray(own_ids).ravel().tolist()))
        return (
            f"{layout.dictionary} markers with ids {ids} are visible but the layout "
            f"{layout.name!r} lists ids {layout.ids}: wrong layout file?"
        )
    for name in _PROBE_DICTIONARIES:
        if name.split("_")[1] == layout.dictionary.split("_")[1]:
            continue
        _, other_ids, _ = make_detector(name).detectMarkers(gray)
        # One id alone is no printed target: a blurred image of the right markers gives an
        # odd false detection in a large dictionary (pre_block blurred by 3.5-4 px: one
        # DICT_ARUCO_ORIGINAL id in 5 of 40 frames tried).
        if other_ids is not None and len(set(np.asarray(other_ids).ravel().tolist())) >= 2:
            family = "_".join(name.split("_")[:2])
            return (
                f"markers of another dictionary ({family}_*) are visible but the layout "
                f"{layout.name!r} says {layout.dictionary}: use the layout that matches "
                "the printed markers"
            )
    return (
        f"no {layout.dictionary} marker is visible: put the printed target "
        f"({layout.name!r}) in view, in focus, well lit and not covered"
    )
