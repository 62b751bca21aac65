"""Every frame's result of a pose pass, kept as columns of numbers until the window is chosen.

Why: the still window is chosen after the pass, so every frame's points, values and
rejection are kept to the end. As one `FrameMeasurement` per frame (with its `FramePoints`,
`BodyPoints`, nine small arrays and a dict) that was ~1.7 KiB per frame: 30 MiB for a
10-minute video, and the only part of a measurement's memory that grew with the video's
length (docs/reliability.md, "Memory while measuring a 10-minute upload"). Here a frame is
~250 bytes of numbers in a few growing columns, and the texts (rejections, how each point
was found) are stored once per distinct text.

`KeptFrames` is a sequence of `FrameMeasurement`: reading a frame rebuilds it with the same
numbers (every float stored as the float64 it was, so measurements do not change). What is
not kept: the model's 33 landmarks (they served the frame's image-quality sample) and the
image patches (`ImageMotion` has compared and dropped them), as before.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt

from sotmeasure.measure.frame_values import FrameValues
from sotmeasure.pose.pipeline import BodyPoints, FramePoints, Mode
from sotmeasure.pose.quality import Rejection
from sotmeasure.processing.frame_step import FrameMeasurement

FloatArray = npt.NDArray[np.float64]

# Which of a frame's optional parts are there (bits of its `_parts` entry).
_HAS_PX, _HAS_MM, _HAS_VALUES, _HAS_MOTION = 1, 2, 4, 8

#: How the points of a frame were found: heel_status left, right, hip_status, mode.
_Statuses = tuple[str, str, str, Mode]


T = TypeVar("T")


class _Texts(Generic[T]):
    """Each distinct value stored once; a frame keeps its number (0 = None)."""

    def __init__(self) -> None:
        self._values: list[T | None] = [None]
        self._codes: dict[T, int] = {}

    def code(self, value: T | None) -> int:
        if value is None:
            return 0
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self._values)
            self._values.append(value)
        return found

    def value(self, code: int) -> T | None:
        return self._values[code]


#: Frames per block of the columns (a block is allocated whole, ~1 MiB).
_BLOCK = 4096
# Columns of one block: name -> numbers per frame.
_WIDTHS = {"px": 8, "mm": 12, "values": 4, "motion": 4, "t_s": 1}


class KeptFrames(Sequence[FrameMeasurement]):
    """The frames of a pass, appended in order; read back as `FrameMeasurement`s."""

    def __init__(self) -> None:
        self._blocks: list[dict[str, FloatArray]] = []
        self._index = array("q")
        self._parts = array("B")
        self._rejection = array("I")
        self._status = array("I")
        self._rejections: _Texts[Rejection] = _Texts()
        self._statuses: _Texts[_Statuses] = _Texts()

    def append(self, step: FrameMeasurement) -> None:
        """Keep one frame (the next in order)."""
        body = step.points.points
        if (body is None) != (step.px is None):
            raise ValueError("a kept frame has pixel points exactly when it has body points")
        k = len(self)
        if k % _BLOCK == 0:
            self._blocks.append({n: np.zeros((_BLOCK, w)) for n, w in _WIDTHS.items()})
        row, block = k % _BLOCK, self._blocks[-1]
        block["t_s"][row, 0] = step.t_s
        parts = 0
        for name, values, bit in (
            ("px", step.px, _HAS_PX),
            ("mm", step.mm, _HAS_MM),
            ("values", None if step.values is None else _values_array(step.values), _HAS_VALUES),
            ("motion", step.image_motion_mm, _HAS_MOTION),
        ):
            if values is not None:
                block[name][row] = np.ravel(values)
                parts |= bit
        self._index.append(step.index)
        self._parts.append(parts)
        self._rejection.append(self._rejections.code(step.rejection))
        self._status.append(self._statuses.code(None if body is None else _statuses_of(body)))

    def __len__(self) -> int:
        return len(self._index)

    @overload
    def __getitem__(self, k: int) -> FrameMeasurement: ...

    @overload
    def __getitem__(self, k: slice) -> list[FrameMeasurement]: ...

    def __getitem__(self, k: int | slice) -> FrameMeasurement | list[FrameMeasurement]:
        if isinstance(k, slice):
            return [self._frame(i) for i in range(*k.indices(len(self)))]
        n = len(self)
        if not -n <= k < n:
            raise IndexError("frame index out of range")
        return self._frame(k % n)

    def __iter__(self) -> Iterator[FrameMeasurement]:
        for k in range(len(self)):
            yield self._frame(k)

    def _frame(self, k: int) -> FrameMeasurement:
        parts, block, row = self._parts[k], self._blocks[k // _BLOCK], k % _BLOCK
        px = block["px"][row].reshape(4, 2).copy() if parts & _HAS_PX else None
        mm = block["mm"][row].reshape(4, 3).copy() if parts & _HAS_MM else None
        values = FrameValues(*block["values"][row].tolist()) if parts & _HAS_VALUES else None
        motion = block["motion"][row].copy() if parts & _HAS_MOTION else None
        rejection = self._rejections.value(self._rejection[k])
        index, t_s = self._index[k], float(block["t_s"][row, 0])
        statuses = self._statuses.value(self._status[k])
        if px is None or statuses is None:
            points = FramePoints(index, t_s, None, rejection)
        else:
            left, right, hip, mode = statuses
            body = BodyPoints(
                px[0].copy(),
                px[1].copy(),
                px[2].copy(),
                px[3].copy(),
                heel_status={"left": left, "right": right},
                mode=mode,
                hip_status=hip,
            )
            points = FramePoints(index, t_s, body, None)
        return FrameMeasurement(
            index, t_s, px, mm, values, rejection, points, image_motion_mm=motion
        )


def _values_array(v: FrameValues) -> FloatArray:
    return np.array(
        [v.lld_mm, v.lld_table_mm, v.pelvic_tilt_deg, v.body_axis_deg], dtype=np.float64
    )


def _statuses_of(body: BodyPoints) -> _Statuses:
    return (body.heel_status["left"], body.heel_status["right"], body.hip_status, body.mode)
