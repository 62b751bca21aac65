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
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sotmeasure.errors import SotmeasureError
from sotmeasure.processing.setup import (
    LoadedSetup,
    ServiceSetupError,
    SetupFiles,
    demo_setup_refusal,
    installation_mdc,
    resolve_setup,
)
from sotmeasure.settings import Settings

if TYPE_CHECKING:
    from sotmeasure.measure.error_budget import ErrorBudget

#: The name other modules used for the setup's files (kept for the API's health check).
MeasurementSetup = SetupFiles
__all__ = [
    "MeasurementSetup",
    "ProcessingUnavailableError",
    "ServiceSetupError",
    "compare_results",
    "measure_recording",
    "processing_available",
    "resolve_setup",
]

log = logging.getLogger(__name__)


class ProcessingUnavailableError(SotmeasureError):
    """This installation cannot measure (the processing module is missing)."""


def processing_available() -> bool:
    """True when `sotmeasure.processing` can be imported (reported by /health)."""
    try:
        return importlib.util.find_spec("sotmeasure.processing") is not None
    except (ImportError, ValueError):
        return False


def measure_recording(settings: Settings, video: Path, progress: Any) -> dict[str, Any]:
    """Measure one stored video; the `measure --json` dict with per-frame values."""
    if not processing_available():
        raise ProcessingUnavailableError(
            "measurement processing is not available in this installation"
        )
    from sotmeasure.processing import measure_video

    setup = LoadedSetup.from_settings(settings)
    refusal = demo_setup_refusal(video, setup)
    if refusal is not None:
        raise refusal
    result = measure_video(
        video,
        setup.layout,
        setup.profile,
        setup.params,
        progress=progress,
        demo_calibration=setup.is_demo,
    )
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
    def budget(self) -> ErrorBudget:
        from sotmeasure.measure.error_budget import ErrorBudget

        return ErrorBudget.from_dict(self.data["error_budget"])

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
        from sotmeasure.measure.compare import compare
        from sotmeasure.measure.result import MeasurementResult
    except ImportError as exc:
        raise ProcessingUnavailableError(
            "pre/post comparison is not available in this installation"
        ) from exc
    mdc = installation_mdc(settings)
    comparison = compare(
        cast(MeasurementResult, StoredResult(pre)),
        cast(MeasurementResult, StoredResult(post)),
        mdc,
    )
    return comparison.to_dict(include_frames=False)
