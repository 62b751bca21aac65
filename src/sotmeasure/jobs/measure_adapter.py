"""The single seam between the service and the measurement code (sotmeasure.processing).

Everything the service needs from the measure area goes through here: running a
measurement on a stored video with this installation's setup (target layout, camera
profile, plane heights); the pre/post comparison of stored results is
`services.comparison`. Imports of the measurement code
are lazy so that the API starts (and /health says what is missing) without loading the
pose model.

Setup resolution, per file: the path in Settings, else the bundled demo file (package
`demo_data/`, then the source tree's `calibration/`). The demo setup is the rendered test
rig; a clinic sets its own paths. Which files were used is in every result's provenance.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from sotmeasure.errors import SotmeasureError
from sotmeasure.measure.result import ResultRecord
from sotmeasure.processing.setup import (
    LoadedSetup,
    ServiceSetupError,
    SetupFiles,
    demo_setup_refusal,
    resolve_setup,
)
from sotmeasure.settings import Settings

#: The name other modules used for the setup's files (kept for the API's health check).
MeasurementSetup = SetupFiles
__all__ = [
    "MeasurementSetup",
    "ProcessingUnavailableError",
    "ServiceSetupError",
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


def measure_recording(settings: Settings, video: Path, progress: Any) -> ResultRecord:
    """Measure one stored video; the result as the store keeps it (with per-frame values)."""
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
    return result.to_record()
