"""Camera profiles: intrinsics and lens distortion in a small TOML file.

The file has exactly one `[camera]` table with the keys below, so that any tool (or a
person with a text editor) can write one:

    [camera]
    name = "..."
    image_size_px = [w, h]
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortion = [k1, k2, p1, p2, k3]      # OpenCV order
    rms_reprojection_px = 0.18
    created_utc = "2025-01-01T12:00:00Z"
    board = "..."                           # what it was calibrated with

Intrinsics only hold at the resolution they were measured at: `for_size` rescales to
another resolution of the same aspect ratio and refuses anything else, so a profile is
never silently applied to an image it does not describe.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from sotmeasure.formats import Number, problem_sentence, versioned_model
from sotmeasure.geometry.errors import ProfileError
from sotmeasure.provenance import sha256_bytes

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CameraProfile:
    """Pinhole intrinsics + (k1, k2, p1, p2, k3) distortion at one image size."""

    name: str
    image_size_px: tuple[int, int]
    matrix: FloatArray
    distortion: FloatArray
    rms_reprojection_px: float
    created_utc: str
    board: str
    sha256: str = ""

    def __post_init__(self) -> None:
        if self.matrix.shape != (3, 3):
            raise ProfileError(f"camera profile {self.name!r}: matrix must be 3x3")
        if self.distortion.shape != (5,):
            raise ProfileError(f"camera profile {self.name!r}: distortion must have 5 values")

    @property
    def width(self) -> int:
        return self.image_size_px[0]

    @property
    def height(self) -> int:
        return self.image_size_px[1]

    def for_size(self, width: int, height: int) -> CameraProfile:
        """This profile for images of `width` x `height`: rescaled, or ProfileError.

        Only a pure scale of the whole image is allowed (same aspect ratio exactly):
        a different aspect ratio means the camera cropped its sensor differently and
        the principal point and field of view are unknown. Distortion coefficients act
        on normalised coordinates and do not change with scale. Pixel centres follow
        OpenCV (pixel (0,0) is centred at 0.0), so c' = (c + 0.5) * s - 0.5.
        """
        w0, h0 = self.image_size_px
        if (width, height) == (w0, h0):
            return self
        if width <= 0 or height <= 0 or width * h0 != height * w0:
            raise ProfileError(
                f"camera profile {self.name!r} was made at {w0}x{h0} but the images are "
                f"{width}x{height} (another aspect ratio): calibrate the camera at this "
                "resolution (sotmeasure calibration intrinsics)"
            )
        s = width / w0
        m = self.matrix.copy()
        m[0, 0] *= s
        m[1, 1] *= s
        m[0, 1] *= s
        m[0, 2] = (m[0, 2] + 0.5) * s - 0.5
        m[1, 2] = (m[1, 2] + 0.5) * s - 0.5
        return replace(
            self,
            name=f"{self.name} (rescaled from {w0}x{h0} to {width}x{height})",
            image_size_px=(width, height),
            matrix=m,
            rms_reprojection_px=self.rms_reprojection_px * s,
        )

    def to_toml_dict(self) -> dict[str, Any]:
        """The `[camera]` table exactly as written to disk."""
        return {
            "camera": {
                "name": self.name,
                "image_size_px": [int(self.width), int(self.height)],
                "matrix": [[float(v) for v in row] for row in self.matrix],
                "distortion": [float(v) for v in self.distortion],
                "rms_reprojection_px": float(self.rms_reprojection_px),
                "created_utc": self.created_utc,
                "board": self.board,
            }
        }


def utc_now_iso() -> str:
    """Current UTC time as an ISO 8601 string with a Z suffix, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def save_profile(profile: CameraProfile, path: str | Path) -> str:
    """Write `profile` as TOML (creating folders); returns the sha256 of the bytes written."""
    path = Path(path)
    data = tomli_w.dumps(profile.to_toml_dict()).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256_bytes(data)


Row = tuple[Number, Number, Number]


class CameraSectionV1(BaseModel):
    """The `[camera]` table of a profile, format version 1 (the module docstring's keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr
    image_size_px: tuple[StrictInt, StrictInt]
    matrix: tuple[Row, Row, Row]
    distortion: tuple[Number, Number, Number, Number, Number]
    rms_reprojection_px: Number
    created_utc: StrictStr | dt.datetime | dt.date
    board: StrictStr

    @field_validator("name", "board")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a non-empty string")
        return value

    @field_validator("image_size_px")
    @classmethod
    def _positive_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) <= 0:
            raise ValueError("must be [width, height] in pixels")
        return value

    @field_validator("matrix")
    @classmethod
    def _pinhole(cls, value: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
        m = np.array(value, dtype=np.float64)
        if not np.all(np.isfinite(m)):
            raise ValueError("must hold finite numbers")
        if m[0, 0] <= 0 or m[1, 1] <= 0 or m[1, 0] != 0 or m[2, 0] != 0 or m[2, 1] != 0:
            raise ValueError("must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0")
        if not np.allclose(m[2], [0.0, 0.0, 1.0]):
            raise ValueError("last row must be [0, 0, 1]")
        return value

    @field_validator("distortion")
    @classmethod
    def _finite(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(math.isfinite(v) for v in value):
            raise ValueError("must hold finite numbers")
        return value

    @field_validator("rms_reprojection_px")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("must be a number >= 0")
        return value


class ProfileFileV1(BaseModel):
    """A camera profile file, format version 1: one `[camera]` table and nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: StrictInt = 1
    camera: CameraSectionV1


#: Format version -> model (a file without `format_version` is version 1).
PROFILE_MODELS: dict[int, type[ProfileFileV1]] = {1: ProfileFileV1}


def load_profile(path: str | Path) -> CameraProfile:
    """Read and validate a camera profile TOML; ProfileError naming the key otherwise."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(f"camera profile not found: {path}") from None
    except OSError as exc:
        raise ProfileError(f"cannot read camera profile {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None
    try:
        model = versioned_model(doc, PROFILE_MODELS)
        cam = model.model_validate(doc).camera
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        why = problem_sentence(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ProfileError(f"{path}: {why}") from None
    created = cam.created_utc
    return CameraProfile(
        name=cam.name,
        image_size_px=cam.image_size_px,
        matrix=np.array(cam.matrix, dtype=np.float64),
        distortion=np.array(cam.distortion, dtype=np.float64),
        rms_reprojection_px=float(cam.rms_reprojection_px),
        created_utc=created if isinstance(created, str) else created.isoformat(),
        board=cam.board,
        sha256=sha256_bytes(raw),
    )
