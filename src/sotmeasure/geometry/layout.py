"""Target layouts: which ArUco markers lie where on the table, in table millimetres.

A layout file is the definition of the table frame (docs/MEASUREMENT.md): every
measurement in mm is only as good as these coordinates, so loading is strict and
every error names the field and what is wrong with it. A ChArUco board file is
accepted as a layout too (its markers, with the board lying face up on the table),
and `load_board` reads the same file as a board for intrinsic calibration.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.dictionaries import dictionary_size, get_dictionary
from sotmeasure.geometry.errors import LayoutError
from sotmeasure.provenance import sha256_bytes

FloatArray = npt.NDArray[np.float64]

# How far a corner may sit off the table top, and how far a marker's edges may differ
# from the stated size, before the layout is called wrong. Half a millimetre is below
# anything a measured layout can claim and well above float round-off.
PLANE_TOLERANCE_MM = 0.5
SIZE_TOLERANCE_MM = 0.5
SIZE_TOLERANCE_REL = 0.01

_MARKER_LAYOUT_FIELDS = {
    "name",
    "description",
    "units",
    "frame",
    "table_size_mm",
    "dictionary",
    "marker_size_mm",
    "white_border_mm",
    "corner_order",
    "markers",
}
_BOARD_FIELDS = {
    "type",
    "name",
    "description",
    "squares_x",
    "squares_y",
    "square_length_mm",
    "marker_length_mm",
    "dictionary",
    "marker_ids",
    "legacy_pattern",
    "opencv",
    "board_frame",
    "printed_white_margin_mm",
    "chessboard_corners_board_mm",
}


@dataclass(frozen=True)
class CharucoBoardSpec:
    """A ChArUco board as printed: squares, sizes in mm, dictionary and marker ids."""

    name: str
    squares_x: int
    squares_y: int
    square_length_mm: float
    marker_length_mm: float
    dictionary: str
    marker_ids: tuple[int, ...]
    legacy_pattern: bool
    sha256: str
    printed_white_margin_mm: float = 10.0

    def cv_board(self) -> cv2.aruco.CharucoBoard:
        """The equivalent OpenCV board (board frame: mm, origin at the outer top-left corner)."""
        board = cv2.aruco.CharucoBoard(
            (self.squares_x, self.squares_y),
            self.square_length_mm,
            self.marker_length_mm,
            get_dictionary(self.dictionary),
            np.asarray(self.marker_ids, dtype=np.int32),
        )
        board.setLegacyPattern(self.legacy_pattern)
        return board

    @property
    def size_mm(self) -> tuple[float, float]:
        """Outer size of the chessboard (width along squares_x, height along squares_y)."""
        return (self.squares_x * self.square_length_mm, self.squares_y * self.square_length_mm)


@dataclass(frozen=True)
class TargetLayout:
    """Markers on the table: id -> four corners (ArUco order TL,TR,BR,BL) in table mm.

    `kind` says where it came from: a marker layout file or a ChArUco board lying on the
    table (then `board` holds the board and the table frame is the board's, see
    docs/calibration.md).
    """

    name: str
    dictionary: str
    marker_size_mm: float
    markers: Mapping[int, FloatArray]
    sha256: str
    kind: Literal["markers", "charuco"] = "markers"
    board: CharucoBoardSpec | None = None
    table_size_mm: tuple[float, float] | None = None
    white_border_mm: float | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def ids(self) -> list[int]:
        """Marker ids in ascending order."""
        return sorted(self.markers)

    def corners_mm(self, ids: list[int]) -> FloatArray:
        """Corners of the given markers stacked as (4*len(ids), 3), in the given order."""
        return np.concatenate([self.markers[i] for i in ids], axis=0)


def load_layout(path: str | Path) -> TargetLayout:
    """Read and validate a layout JSON (or a ChArUco board JSON, used as a layout)."""
    path = Path(path)
    data, digest = _read_json(path)
    if data.get("type") is not None:
        board = _parse_board(data, path, digest)
        return layout_from_board(board, path=path)
    return _parse_marker_layout(data, path, digest)


def load_board(path: str | Path) -> CharucoBoardSpec:
    """Read and validate a ChArUco board JSON (format: calibration/targets/charuco_7x5.json)."""
    path = Path(path)
    data, digest = _read_json(path)
    if data.get("type") is None:
        raise LayoutError(
            f'{path}: not a ChArUco board file (no "type": "ChArUco"); '
            "a marker layout cannot be used to calibrate intrinsics"
        )
    return _parse_board(data, path, digest)


def layout_from_board(board: CharucoBoardSpec, *, path: Path | None = None) -> TargetLayout:
    """The board's ArUco markers as a table layout (board lying face up on the table).

    The OpenCV board frame has x to the right, y down the printed page and z into the
    board, i.e. downward when the board lies face up. The table frame needs z up, so the
    board's y becomes table x and its x becomes table y (a proper rotation, no mirror):
    the origin is the board's top-left outer corner, table x runs down the page.
    """
    cv_board = board.cv_board()
    ids = [int(i) for i in np.asarray(cv_board.getIds()).ravel()]
    markers: dict[int, FloatArray] = {}
    for marker_id, corners in zip(ids, cv_board.getObjPoints(), strict=True):
        pts = np.asarray(corners, dtype=np.float64).reshape(4, 3)
        markers[marker_id] = np.column_stack([pts[:, 1], pts[:, 0], np.zeros(4)])
    width, height = board.size_mm
    return TargetLayout(
        name=board.name,
        dictionary=board.dictionary,
        marker_size_mm=board.marker_length_mm,
        markers=markers,
        sha256=board.sha256,
        kind="charuco",
        board=board,
        table_size_mm=(height, width),
        path=path,
    )


# ---------------------------------------------------------------------------- parsing


def _read_json(path: Path) -> tuple[dict[str, Any], str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LayoutError(f"layout file not found: {path}") from None
    except OSError as exc:
        raise LayoutError(f"cannot read layout file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKeyError as exc:
        raise LayoutError(f"{path}: duplicate key {exc.key!r} (duplicate marker id?)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayoutError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: the top level must be a JSON object")
    return data, sha256_bytes(raw)


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json object hook: the stdlib silently keeps the last of two equal keys; we refuse."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _check_fields(data: Mapping[str, Any], allowed: set[str], path: Path) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise LayoutError(
            f"{path}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _require(data: Mapping[str, Any], key: str, path: Path) -> Any:
    if key not in data:
        raise LayoutError(f"{path}: missing field {key!r}")
    return data[key]


def _number(value: Any, where: str, path: Path, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LayoutError(f"{path}: field {where!r} must be a number, got {value!r}")
    if positive and value <= 0:
        raise LayoutError(f"{path}: field {where!r} must be > 0, got {value!r}")
    return float(value)


def _integer(value: Any, where: str, path: Path, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LayoutError(f"{path}: field {where!r} must be an integer, got {value!r}")
    if value < minimum:
        raise LayoutError(f"{path}: field {where!r} must be >= {minimum}, got {value}")
    return value


def _string(value: Any, where: str, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LayoutError(f"{path}: field {where!r} must be a non-empty string, got {value!r}")
    return value


def _dictionary(value: Any, path: Path) -> str:
    name = _string(value, "dictionary", path)
    try:
        get_dictionary(name)
    except LayoutError as exc:
        raise LayoutError(f"{path}: field 'dictionary': {exc}") from None
    return name


def _parse_marker_layout(data: dict[str, Any], path: Path, digest: str) -> TargetLayout:
    _check_fields(data, _MARKER_LAYOUT_FIELDS, path)
    units = data.get("units", "mm")
    if units != "mm":
        raise LayoutError(f"{path}: field 'units' must be \"mm\", got {units!r}")
    name = _string(data["name"], "name", path) if "name" in data else path.stem
    dictionary = _dictionary(_require(data, "dictionary", path), path)
    size = _number(_require(data, "marker_size_mm", path), "marker_size_mm", path, positive=True)
    table_size: tuple[float, float] | None = None
    if "table_size_mm" in data:
        ts = data["table_size_mm"]
        if not isinstance(ts, list) or len(ts) != 2:
            raise LayoutError(f"{path}: field 'table_size_mm' must be [length, width] in mm")
        table_size = (
            _number(ts[0], "table_size_mm[0]", path, positive=True),
            _number(ts[1], "table_size_mm[1]", path, positive=True),
        )
    border = None
    if "white_border_mm" in data:
        border = _number(data["white_border_mm"], "white_border_mm", path)
        if border < 0:
            raise LayoutError(f"{path}: field 'white_border_mm' must be >= 0, got {border}")

    raw_markers = _require(data, "markers", path)
    if not isinstance(raw_markers, dict) or not raw_markers:
        raise LayoutError(f"{path}: field 'markers' must be a non-empty object {{id: 4 corners}}")
    n_ids = dictionary_size(dictionary)
    markers: dict[int, FloatArray] = {}
    for key, corners in raw_markers.items():
        where = f"markers.{key}"
        if not isinstance(key, str) or not key.strip().isdigit():
            raise LayoutError(f"{path}: marker id {key!r} in 'markers' must be a whole number")
        marker_id = int(key)
        if marker_id in markers:
            raise LayoutError(f"{path}: duplicate marker id {marker_id} in 'markers'")
        if marker_id >= n_ids:
            raise LayoutError(
                f"{path}: marker id {marker_id} does not exist in {dictionary} (ids 0-{n_ids - 1})"
            )
        markers[marker_id] = _corners(corners, where, path)
    _check_geometry(markers, size, path)
    return TargetLayout(
        name=name,
        dictionary=dictionary,
        marker_size_mm=size,
        markers=markers,
        sha256=digest,
        kind="markers",
        table_size_mm=table_size,
        white_border_mm=border,
        path=path,
    )


def _corners(value: Any, where: str, path: Path) -> FloatArray:
    if not isinstance(value, list) or len(value) != 4:
        raise LayoutError(f"{path}: field {where!r} must be a list of 4 corners [x, y, z] (mm)")
    rows = []
    for k, corner in enumerate(value):
        if not isinstance(corner, list) or len(corner) != 3:
            raise LayoutError(f"{path}: field '{where}[{k}]' must be [x, y, z] in mm")
        rows.append([_number(c, f"{where}[{k}]", path) for c in corner])
    return np.asarray(rows, dtype=np.float64)


def _check_geometry(markers: Mapping[int, FloatArray], size: float, path: Path) -> None:
    """Planar on the table top, square of the stated size, unmirrored, not overlapping."""
    tol = max(SIZE_TOLERANCE_MM, SIZE_TOLERANCE_REL * size)
    for marker_id, c in markers.items():
        off_plane = np.abs(c[:, 2])
        if off_plane.max() > PLANE_TOLERANCE_MM:
            k = int(off_plane.argmax())
            raise LayoutError(
                f"{path}: field 'markers.{marker_id}[{k}]' has z = {c[k, 2]:g} mm: the layout is "
                "not planar on the table top (every corner must have z = 0)"
            )
        edges = np.linalg.norm(np.roll(c[:, :2], -1, axis=0) - c[:, :2], axis=1)
        diagonals = np.linalg.norm(c[[2, 3], :2] - c[[0, 1], :2], axis=1)
        if np.abs(edges - size).max() > tol or abs(diagonals[0] - diagonals[1]) > tol:
            raise LayoutError(
                f"{path}: field 'markers.{marker_id}' is not a {size:g} mm square "
                f"(edges {', '.join(f'{e:.1f}' for e in edges)} mm): degenerate or mistyped corners"
            )
        x, y = c[:, 0], c[:, 1]
        signed_area = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
        if signed_area > 0:
            raise LayoutError(
                f"{path}: field 'markers.{marker_id}' lists its corners mirrored: use ArUco order "
                "TL, TR, BR, BL as the printed marker is seen from above (image down = +x, "
                "image right = +y)"
            )
    ids = sorted(markers)
    centres = np.array([markers[i][:, :2].mean(axis=0) for i in ids])
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            if np.linalg.norm(centres[a] - centres[b]) < size - tol:
                raise LayoutError(
                    f"{path}: markers {ids[a]} and {ids[b]} overlap (centres "
                    f"{np.linalg.norm(centres[a] - centres[b]):.1f} mm apart, markers {size:g} mm)"
                )


def _parse_board(data: dict[str, Any], path: Path, digest: str) -> CharucoBoardSpec:
    _check_fields(data, _BOARD_FIELDS, path)
    kind = data.get("type")
    if not isinstance(kind, str) or kind.lower() != "charuco":
        raise LayoutError(f"{path}: field 'type' must be \"ChArUco\", got {kind!r}")
    name = _string(data["name"], "name", path) if "name" in data else path.stem
    sx = _integer(_require(data, "squares_x", path), "squares_x", path, minimum=2)
    sy = _integer(_require(data, "squares_y", path), "squares_y", path, minimum=2)
    square = _number(
        _require(data, "square_length_mm", path), "square_length_mm", path, positive=True
    )
    marker = _number(
        _require(data, "marker_length_mm", path), "marker_length_mm", path, positive=True
    )
    if marker >= square:
        raise LayoutError(
            f"{path}: field 'marker_length_mm' ({marker:g}) must be smaller than "
            f"'square_length_mm' ({square:g})"
        )
    dictionary = _dictionary(_require(data, "dictionary", path), path)
    n_markers = (sx * sy) // 2
    ids: tuple[int, ...] = tuple(range(n_markers))
    if "marker_ids" in data:
        raw_ids = data["marker_ids"]
        if not isinstance(raw_ids, list) or len(raw_ids) != n_markers:
            raise LayoutError(
                f"{path}: field 'marker_ids' must list {n_markers} ids for a {sx}x{sy} board"
            )
        ids = tuple(_integer(i, "marker_ids", path, minimum=0) for i in raw_ids)
        if len(set(ids)) != len(ids):
            raise LayoutError(f"{path}: field 'marker_ids' has duplicate ids")
    if max(ids) >= dictionary_size(dictionary):
        raise LayoutError(f"{path}: field 'marker_ids' has ids that {dictionary} does not contain")
    legacy = data.get("legacy_pattern", False)
    if not isinstance(legacy, bool):
        raise LayoutError(f"{path}: field 'legacy_pattern' must be true or false")
    margin = 10.0
    if "printed_white_margin_mm" in data:
        margin = _number(data["printed_white_margin_mm"], "printed_white_margin_mm", path)
    return CharucoBoardSpec(
        name=name,
        squares_x=sx,
        squares_y=sy,
        square_length_mm=square,
        marker_length_mm=marker,
        dictionary=dictionary,
        marker_ids=ids,
        legacy_pattern=legacy,
        sha256=digest,
        printed_white_margin_mm=margin,
    )
