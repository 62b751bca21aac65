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

from sotmeasure.geometry.errors import ProfileError
from sotmeasure.provenance import sha256_bytes

FloatArray = npt.NDArray[np.float64]

PROFILE_KEYS = (
    "name",
    "image_size_px",
    "matrix",
    "distortion",
    "rms_reprojection_px",
    "created_utc",
    "board",
)


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
    cam = doc.get("camera")
    if not isinstance(cam, dict):
        raise ProfileError(f"{path}: no [camera] table")
    extra = sorted(set(doc) - {"camera"}) + sorted(
        f"camera.{k}" for k in set(cam) - set(PROFILE_KEYS)
    )
    if extra:
        raise ProfileError(
            f"{path}: unknown key(s) {', '.join(extra)}; [camera] holds exactly "
            f"{', '.join(PROFILE_KEYS)}"
        )
    for key in PROFILE_KEYS:
        if key not in cam:
            raise ProfileError(f"{path}: missing key camera.{key}")

    name = _text(cam["name"], "name", path)
    size = cam["image_size_px"]
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise ProfileError(f"{path}: camera.image_size_px must be [width, height] in pixels")
    matrix = _matrix(cam["matrix"], path)
    distortion = _floats(cam["distortion"], "distortion", 5, path)
    rms = _float(cam["rms_reprojection_px"], "rms_reprojection_px", path)
    if rms < 0:
        raise ProfileError(f"{path}: camera.rms_reprojection_px must be >= 0")
    created = cam["created_utc"]
    if isinstance(created, dt.datetime | dt.date):
        created = created.isoformat()
    created = _text(created, "created_utc", path)
    board = _text(cam["board"], "board", path)
    return CameraProfile(
        name=name,
        image_size_px=(int(size[0]), int(size[1])),
        matrix=matrix,
        distortion=distortion,
        rms_reprojection_px=rms,
        created_utc=created,
        board=board,
        sha256=sha256_bytes(raw),
    )


def _text(value: Any, key: str, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{path}: camera.{key} must be a non-empty string")
    return value


def _float(value: Any, key: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProfileError(f"{path}: camera.{key} must be a number, got {value!r}")
    return float(value)


def _floats(value: Any, key: str, n: int, path: Path) -> FloatArray:
    if not isinstance(value, list) or len(value) != n:
        raise ProfileError(f"{path}: camera.{key} must be a list of {n} numbers")
    return np.array([_float(v, key, path) for v in value], dtype=np.float64)


def _matrix(value: Any, path: Path) -> FloatArray:
    if not isinstance(value, list) or len(value) != 3:
        raise ProfileError(f"{path}: camera.matrix must be 3 rows of 3 numbers")
    m = np.vstack([_floats(row, "matrix", 3, path) for row in value])
    if m[0, 0] <= 0 or m[1, 1] <= 0 or m[1, 0] != 0 or m[2, 0] != 0 or m[2, 1] != 0:
        raise ProfileError(
            f"{path}: camera.matrix must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0"
        )
    if not np.allclose(m[2], [0.0, 0.0, 1.0]):
        raise ProfileError(f"{path}: camera.matrix last row must be [0, 0, 1]")
    return m
