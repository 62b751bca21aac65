"""The cameras a setup may use: the ones this server sees, and the configured stand-in.

A room's camera is chosen on its setup (`setups.camera`); the list is what the server's
operating system offers (`capture.cameras.list_cameras`) plus the installation's configured
source when that is a recorded file standing in for a camera (demo installs and tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sotmeasure.capture.cameras import list_cameras
from sotmeasure.capture.open import open_source, source_kind
from sotmeasure.processing.setup import bundled_demo_file
from sotmeasure.services.errors import InvalidInputError
from sotmeasure.settings import Settings

#: The ChArUco board the page calibrates with unless a board file is sent.
DEFAULT_BOARD = ("targets", "charuco_7x5.json")


@dataclass(frozen=True, slots=True)
class CameraChoice:
    spec: str
    label: str
    width: int | None
    height: int | None
    fps: float | None
    is_camera: bool


def camera_choices(settings: Settings) -> list[CameraChoice]:
    """Every camera the server sees, then the configured recorded stand-in (if any)."""
    choices = [
        CameraChoice(c.spec, f"camera {c.spec}", c.width, c.height, c.fps, True)
        for c in list_cameras()
    ]
    configured = (settings.camera_source or "").strip()
    if configured and configured.lower() != "demo" and source_kind(configured) != "webcam":
        path = Path(configured).expanduser()
        if path.exists():
            with open_source(path) as source:
                info = source.info
            choices.append(
                CameraChoice(
                    str(path),
                    f"recorded stand-in: {path.name}",
                    info.width,
                    info.height,
                    info.fps,
                    False,
                )
            )
    return choices


def camera_spec(settings: Settings, chosen: str | None) -> str:
    """The source to open for a setup: its chosen camera, else the installation's."""
    spec = (chosen or settings.camera_source or "").strip()
    if not spec or spec.lower() == "demo":
        raise InvalidInputError(
            "choose this setup's camera first (the bundled demo session is not a camera)"
        )
    return spec


def default_board() -> Path:
    board = bundled_demo_file(*DEFAULT_BOARD)
    if board is None:
        raise InvalidInputError(
            "this installation has no bundled ChArUco board file: send the board JSON"
        )
    return board
