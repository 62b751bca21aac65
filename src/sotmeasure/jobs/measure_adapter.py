"""The single seam between the service and the measurement code (sotmeasure.processing).

Everything the service needs from the measure area goes through here: running a
measurement on a stored video with this installation's setup (target layout, camera
profile, plane heights) and comparing two stored results. Imports of the measurement code
are lazy so that the API starts (and /health says what is missing) without loading the
pose model.

Setup resolution, per file: the path in Settings, else the bundled demo file (package
`demo_data/`, then the source tree's `calibration/`). The demo setup is the rendered test
rig; a clinic sets its own paths. Which files were used is in every result's provenance.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

from sotmeasure.errors import SotmeasureError
from sotmeasure.settings import Settings

log = logging.getLogger(__name__)

_SOURCE_TREE_CALIBRATION = Path(__file__).resolve().parents[3] / "calibration"
DEMO_LAYOUT = ("targets", "table_8_markers.json")
DEMO_PROFILE = ("profiles", "rendered_overhead_1280x720.toml")
DEMO_SETUP = ("setups", "rendered_table.toml")


class ProcessingUnavailableError(SotmeasureError):
    """This installation cannot measure (the processing module is missing)."""


class ServiceSetupError(SotmeasureError):
    """The measurement setup (layout, camera profile, plane heights) is missing."""


@dataclass(frozen=True, slots=True)
class MeasurementSetup:
    """Which files describe this installation's table, camera and plane heights."""

    layout_path: Path
    profile_path: Path | None
    setup_path: Path | None
    source: str  # "configured" | "bundled demo" | "mixed"

    def describe(self) -> dict[str, Any]:
        return {
            "layout": self.layout_path.name,
            "profile": self.profile_path.name if self.profile_path else None,
            "setup": self.setup_path.name if self.setup_path else None,
            "source": self.source,
        }


def processing_available() -> bool:
    """True when `sotmeasure.processing` can be imported (reported by /health)."""
    try:
        return importlib.util.find_spec("sotmeasure.processing") is not None
    except (ImportError, ValueError):
        return False


def _bundled(folder: str, name: str) -> Path | None:
    """A demo file shipped in the package (demo_data/) or present in the source tree."""
    try:
        packaged = resources.files("sotmeasure") / "demo_data" / name
        if packaged.is_file():
            return Path(str(packaged))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    candidate = _SOURCE_TREE_CALIBRATION / folder / name
    return candidate if candidate.is_file() else None


def resolve_setup(settings: Settings) -> MeasurementSetup:
    """The configured files, else the bundled demo files; never a made-up calibration."""
    sources: set[str] = set()

    def pick(configured: Path | None, demo: tuple[str, str], what: str) -> Path | None:
        if configured is not None:
            if not configured.is_file():
                raise ServiceSetupError(f"the {what} file does not exist: {configured}")
            sources.add("configured")
            return configured
        found = _bundled(*demo)
        if found is not None:
            sources.add("bundled demo")
        return found

    layout = pick(settings.layout_path, DEMO_LAYOUT, "target layout")
    if layout is None:
        raise ServiceSetupError(
            "no target layout is configured: set SOTMEASURE_LAYOUT_PATH to your table's layout"
        )
    profile = (
        None
        if settings.homography_only
        else pick(settings.profile_path, DEMO_PROFILE, "camera profile")
    )
    if profile is None and not settings.homography_only:
        raise ServiceSetupError(
            "no camera profile is configured: set SOTMEASURE_PROFILE_PATH, or "
            "SOTMEASURE_HOMOGRAPHY_ONLY=true to measure without one (the result says so)"
        )
    setup = pick(settings.setup_path, DEMO_SETUP, "setup")
    source = sources.pop() if len(sources) == 1 else "mixed"
    return MeasurementSetup(layout, profile, setup, source)


def measure_recording(settings: Settings, video: Path, progress: Any) -> dict[str, Any]:
    """Measure one stored video; the `measure --json` dict with per-frame values."""
    if not processing_available():
        raise ProcessingUnavailableError(
            "measurement processing is not available in this installation"
        )
    from sotmeasure.geometry.layout import load_layout
    from sotmeasure.geometry.profile import load_profile
    from sotmeasure.processing import load_setup, measure_video, resolve_params

    setup = resolve_setup(settings)
    layout = load_layout(setup.layout_path)
    profile = load_profile(setup.profile_path) if setup.profile_path else None
    params = resolve_params(
        mode=settings.measure_mode,
        setup=load_setup(setup.setup_path) if setup.setup_path else None,
        heel_plane_mm=settings.heel_plane_mm,
        hip_plane_mm=settings.hip_plane_mm,
    )
    result = measure_video(video, layout, profile, params, progress=progress)
    return result.to_dict(include_frames=True)


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A stored result dict seen through the attributes `measure.compare.compare` reads.

    Why: the database keeps the JSON contract, not the MeasurementResult object; compare()
    only needs the estimates, the CI half-widths and to_dict(), which the JSON holds.
    """

    data: dict[str, Any]

    @property
    def lld_mm(self) -> float:
        return float(self.data["lld_mm"])

    @property
    def lld_half_mm(self) -> float:
        low, high = self.data["lld_ci95_mm"]
        return (float(high) - float(low)) / 2.0

    @property
    def pelvic_tilt_deg(self) -> float:
        return float(self.data["pelvic_tilt_deg"])

    @property
    def tilt_half_deg(self) -> float:
        low, high = self.data["pelvic_tilt_ci95_deg"]
        return (float(high) - float(low)) / 2.0

    def to_dict(self, *, include_frames: bool = False) -> dict[str, Any]:
        out = dict(self.data)
        if not include_frames:
            out.pop("frames", None)
        return out


def compare_results(
    pre: dict[str, Any], post: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The `compare --json` dict of two stored results, with this installation's MDC95."""
    try:
        from sotmeasure.measure.compare import Mdc95, compare
        from sotmeasure.measure.result import MeasurementResult
    except ImportError as exc:
        raise ProcessingUnavailableError(
            "pre/post comparison is not available in this installation"
        ) from exc
    mdc = Mdc95()
    if settings.mdc95_lld_mm is not None or settings.mdc95_tilt_deg is not None:
        mdc = Mdc95(
            lld_mm=settings.mdc95_lld_mm if settings.mdc95_lld_mm is not None else mdc.lld_mm,
            pelvic_tilt_deg=settings.mdc95_tilt_deg
            if settings.mdc95_tilt_deg is not None
            else mdc.pelvic_tilt_deg,
            source="this installation's settings (SOTMEASURE_MDC95_*)",
        )
    comparison = compare(
        cast(MeasurementResult, StoredResult(pre)),
        cast(MeasurementResult, StoredResult(post)),
        mdc,
    )
    return comparison.to_dict(include_frames=False)
