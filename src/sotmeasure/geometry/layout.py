"""Target layouts: which ArUco markers lie where on the table, in table millimetres.

A layout file is the definition of the table frame (docs/MEASUREMENT.md): every
measurement in mm is only as good as these coordinates, so loading is strict and
every error names the field and what is wrong with it. A ChArUco board file is
accepted as a layout too (its markers, with the board lying face up on the table),
and `load_board` reads the same file as a board for intrinsic calibration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from sotmeasure.formats import Number, problem_sentence, versioned_model
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

Positive = Annotated[float, Strict(), Field(gt=0)]
Corner = tuple[Number, Number, Number]


class MarkerLayoutV1(BaseModel):
    """A marker layout file, format version 1 (calibration/targets/table_8_markers.json).

    Shape and types only; the geometry (planar, square, unmirrored, not overlapping) and
    the marker ids (whole numbers the dictionary has) are checked after validation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: StrictInt = 1
    name: StrictStr | None = None
    description: Any = None
    units: Literal["mm"] = "mm"
    frame: Any = None
    table_size_mm: tuple[Positive, Positive] | None = None
    dictionary: StrictStr
    marker_size_mm: Positive
    white_border_mm: Annotated[float, Strict(), Field(ge=0)] | None = None
    corner_order: Any = None
    markers: dict[str, tuple[Corner, Corner, Corner, Corner]] = Field(min_length=1)

    @field_validator("markers", mode="before")
    @classmethod
    def _four_corners(cls, value: Any) -> Any:
        """Say what a marker needs in words, not as a missing tuple entry."""
        if isinstance(value, dict):
            for key, corners in value.items():
                if not isinstance(corners, list) or len(corners) != 4:
                    raise ValueError(f"marker {key} must be a list of 4 corners [x, y, z] (mm)")
                for k, corner in enumerate(corners):
                    if not isinstance(corner, list) or len(corner) != 3:
                        raise ValueError(f"marker {key} corner [{k}] must be [x, y, z] in mm")
        return value


class CharucoBoardV1(BaseModel):
    """A ChArUco board file, format version 1 (calibration/targets/charuco_7x5.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: StrictInt = 1
    type: StrictStr
    name: StrictStr | None = None
    description: Any = None
    squares_x: Annotated[int, Strict(), Field(ge=2)]
    squares_y: Annotated[int, Strict(), Field(ge=2)]
    square_length_mm: Positive
    marker_length_mm: Positive
    dictionary: StrictStr
    marker_ids: list[Annotated[int, Strict(), Field(ge=0)]] | None = None
    legacy_pattern: StrictBool = False
    opencv: Any = None
    board_frame: Any = None
    printed_white_margin_mm: Annotated[float, Strict(), Field(ge=0)] = 10.0
    chessboard_corners_board_mm: Any = None

    @field_validator("type")
    @classmethod
    def _charuco(cls, value: str) -> str:
        if value.lower() != "charuco":
            raise ValueError('must be "ChArUco"')
        return value


#: Format version -> model (a file without `format_version` is version 1).
LAYOUT_MODELS: dict[int, type[MarkerLayoutV1]] = {1: MarkerLayoutV1}
BOARD_MODELS: dict[int, type[CharucoBoardV1]] = {1: CharucoBoardV1}

Doc = TypeVar("Doc", bound=BaseModel)


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


def _validated(data: dict[str, Any], models: Mapping[int, type[Doc]], path: Path) -> Doc:
    """The file's model for its version, validated; LayoutError naming the field otherwise."""
    try:
        return versioned_model(data, models).model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        why = problem_sentence(exc) if isinstance(exc, ValidationError) else str(exc)
        raise LayoutError(f"{path}: {why}") from None


def _dictionary(name: str, path: Path) -> str:
    try:
        get_dictionary(name)
    except LayoutError as exc:
        raise LayoutError(f"{path}: field 'dictionary': {exc}") from None
    return name


def _parse_marker_layout(data: dict[str, Any], path: Path, digest: str) -> TargetLayout:
    doc = _validated(data, LAYOUT_MODELS, path)
    dictionary = _dictionary(doc.dictionary, path)
    n_ids = dictionary_size(dictionary)
    markers: dict[int, FloatArray] = {}
    for key, corners in doc.markers.items():
        if not key.strip().isdigit():
            raise LayoutError(f"{path}: marker id {key!r} in 'markers' must be a whole number")
        marker_id = int(key)
        if marker_id in markers:
            raise LayoutError(f"{path}: duplicate marker id {marker_id} in 'markers'")
        if marker_id >= n_ids:
            raise LayoutError(
                f"{path}: marker id {marker_id} does not exist in {dictionary} (ids 0-{n_ids - 1})"
            )
        markers[marker_id] = np.asarray(corners, dtype=np.float64)
    _check_geometry(markers, doc.marker_size_mm, path)
    return TargetLayout(
        name=doc.name or path.stem,
        dictionary=dictionary,
        marker_size_mm=doc.marker_size_mm,
        markers=markers,
        sha256=digest,
        kind="markers",
        table_size_mm=doc.table_size_mm,
        white_border_mm=doc.white_border_mm,
        path=path,
    )


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
    doc = _validated(data, BOARD_MODELS, path)
    if doc.marker_length_mm >= doc.square_length_mm:
        raise LayoutError(
            f"{path}: field 'marker_length_mm' ({doc.marker_length_mm:g}) must be smaller than "
            f"'square_length_mm' ({doc.square_length_mm:g})"
        )
    dictionary = _dictionary(doc.dictionary, path)
    sx, sy = doc.squares_x, doc.squares_y
    n_markers = (sx * sy) // 2
    ids: tuple[int, ...] = tuple(range(n_markers))
    if doc.marker_ids is not None:
        if len(doc.marker_ids) != n_markers:
            raise LayoutError(
                f"{path}: field 'marker_ids' must list {n_markers} ids for a {sx}x{sy} board"
            )
        ids = tuple(doc.marker_ids)
        if len(set(ids)) != len(ids):
            raise LayoutError(f"{path}: field 'marker_ids' has duplicate ids")
    if max(ids) >= dictionary_size(dictionary):
        raise LayoutError(f"{path}: field 'marker_ids' has ids that {dictionary} does not contain")
    return CharucoBoardSpec(
        name=doc.name or path.stem,
        squares_x=sx,
        squares_y=sy,
        square_length_mm=doc.square_length_mm,
        marker_length_mm=doc.marker_length_mm,
        dictionary=dictionary,
        marker_ids=ids,
        legacy_pattern=doc.legacy_pattern,
        sha256=digest,
        printed_white_margin_mm=doc.printed_white_margin_mm,
    )
