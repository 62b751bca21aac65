"""The single seam between the service and the measurement code (sotmeasure.processing).

Everything the service needs from the measure area goes through here: running a
measurement on a stored video with this installation's setup (target layout, camera
profile, plane heights from Settings) and comparing two stored results. Imports are lazy
so that the API starts (and says so in /health) even where processing is not installed.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sotmeasure.errors import SotmeasureError
from sotmeasure.settings import Settings

log = logging.getLogger(__name__)


class ProcessingUnavailableError(SotmeasureError):
    """This installation cannot measure (the processing module is missing)."""


class SetupError(SotmeasureError):
    """The measurement setup (layout, camera profile) is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class MeasurementSetup:
    """Where the table targets and camera model of this installation come from."""

    layout_path: Path
    profile_path: Path | None
    heel_plane_mm: float | None
    hip_plane_mm: float | None


def processing_available() -> bool:
    """True when `sotmeasure.processing` can be imported (reported by /health)."""
    try:
        return importlib.util.find_spec("sotmeasure.processing") is not None
    except (ImportError, ValueError):
        return False


def _bundled(*names: str) -> Path | None:
    """The first bundled demo-data file with one of these names, if the package ships it."""
    try:
        root = resources.files("sotmeasure") / "demo_data"
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    for name in names:
        candidate = root / name
        if candidate.is_file():
            return Path(str(candidate))
    return None


def resolve_setup(settings: Settings) -> MeasurementSetup:
    """The configured setup, else the bundled demo setup; never a made-up calibration."""
    layout = settings.layout_path or _bundled("layout.json")
    if layout is None:
        raise SetupError(
            "no target layout is configured: set SOTMEASURE_LAYOUT_PATH to your table's layout JSON"
        )
    if not layout.is_file():
        raise SetupError(f"the target layout file does not exist: {layout}")
    profile = settings.profile_path or _bundled("camera.toml", "profile.toml")
    if profile is not None and not profile.is_file():
        raise SetupError(f"the camera profile file does not exist: {profile}")
    return MeasurementSetup(layout, profile, settings.heel_plane_mm, settings.hip_plane_mm)


def measure_recording(settings: Settings, video: Path, progress: Any) -> dict[str, Any]:
    """Measure one stored video; returns the `measure --json` dict (with per-frame values)."""
    if not processing_available():
        raise ProcessingUnavailableError(
            "measurement processing is not available in this installation"
        )
    raise ProcessingUnavailableError("measurement processing is not wired in yet")


def compare_results(
    pre: dict[str, Any], post: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The `compare --json` dict of two stored results, with this installation's MDC95."""
    raise ProcessingUnavailableError("pre/post comparison is not available in this installation")
