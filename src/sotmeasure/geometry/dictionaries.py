"""ArUco dictionary names as written in layout files, resolved to OpenCV dictionaries."""

from __future__ import annotations

import cv2

from sotmeasure.geometry.errors import LayoutError


def known_dictionary_names() -> list[str]:
    """Every predefined dictionary name OpenCV knows (e.g. `DICT_4X4_50`), sorted."""
    return sorted(
        name
        for name in dir(cv2.aruco)
        if name.startswith("DICT_") and isinstance(getattr(cv2.aruco, name), int)
    )


def get_dictionary(name: str) -> cv2.aruco.Dictionary:
    """The OpenCV dictionary called `name`; LayoutError naming the valid ones otherwise."""
    if name not in known_dictionary_names():
        raise LayoutError(
            f"unknown ArUco dictionary {name!r}: use one of OpenCV's predefined names "
            "such as DICT_4X4_50, DICT_5X5_100, DICT_6X6_250, DICT_APRILTAG_36h11"
        )
    return cv2.aruco.getPredefinedDictionary(int(getattr(cv2.aruco, name)))


def dictionary_size(name: str) -> int:
    """How many distinct marker ids the dictionary holds (valid ids are 0..size-1)."""
    return int(get_dictionary(name).bytesList.shape[0])
