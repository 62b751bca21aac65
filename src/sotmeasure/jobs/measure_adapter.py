"""The single seam between the service and the measurement code (sotmeasure.processing).

Everything the service needs from the measure area goes through here: running a
measurement on a stored video with this installation's setup (target layout, camera
profile, plane heights); the pre/post comparison of stored results is
`services.comparison`. Imports of the measurement code
are lazy so that the API starts (and /health says what is missing) without loading the
pose model.

A measurement queued with a clinic's setup version (services/setups.py) is measured with
that version's files (`setup_version_files`, the same loader as the settings' files);
one without (older rows, an installation without setups) with the installation setup.
Installation setup resolution, per file: the path in Settings, else the bundled demo file (package
`demo_data/`, then the source tree's `calibration/`). The demo setup is the rendered test
rig; a clinic sets its own paths. Which files were used is in every result's provenance.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.limits import GuardedProgress
from sotmeasure.measure.result import ResultRecord
from sotmeasure.processing.params import checked_mode, rgb_from_hex, setup_toml
from sotmeasure.processing.setup import (
    LoadedSetup,
    ServiceSetupError,
    SetupFiles,
    demo_setup_refusal,
    load_files,
    resolve_setup,
    stored_version_files,
)
from sotmeasure.settings import Settings
from sotmeasure.store.media_checks import LengthLimits, check_length, check_video
from sotmeasure.store.models import SetupVersion

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


def setup_version_files(settings: Settings, version: SetupVersion) -> SetupFiles:
    """A stored setup version as files under the data folder (written once per version)."""
    text = setup_toml(
        name=f"{version.setup.name} v{version.version} (setup {version.setup_id})",
        plane_uncertainty_mm=version.plane_uncertainty_mm,
        planes_mm={
            "markerless": (version.markerless_heel_plane_mm, version.markerless_hip_plane_mm),
            "stickers": (version.stickers_heel_plane_mm, version.stickers_hip_plane_mm),
        },
        heel_sticker_rgb=rgb_from_hex(version.heel_sticker_rgb),
        psis_sticker_rgb=rgb_from_hex(version.psis_sticker_rgb),
    )
    return stored_version_files(
        settings.data_dir / "setups" / f"version-{version.id}",
        layout_json=version.layout_json,
        profile_toml=version.profile_toml,
        setup_toml=text,
    )


def measure_recording(
    settings: Settings,
    video: Path,
    progress: Any,
    setup_files: SetupFiles | None = None,
    *,
    mode: str | None = None,
) -> ResultRecord:
    """Measure one stored video with a stored setup version's files (None: the installation
    setup) in `mode` (the measurement's choice; None: the installation's default mode); the
    result as the store keeps it (with per-frame values).

    A stored version's plane heights are its own: the installation's SOTMEASURE_*_PLANE_MM
    overrides apply to the installation setup only."""
    if not processing_available():
        raise ProcessingUnavailableError(
            "measurement processing is not available in this installation"
        )
    from sotmeasure.processing import measure_video

    limits = LengthLimits(settings.max_recording_frames, settings.max_recording_s)
    info = check_video(video, max_side_px=settings.max_video_side_px)
    check_length(info, limits)  # before the pose model loads (cheap: container figures)
    setup = (
        LoadedSetup.from_settings(settings, mode=mode)
        if setup_files is None
        else load_files(setup_files, mode=checked_mode(mode or settings.measure_mode))
    )
    refusal = demo_setup_refusal(video, setup)
    if refusal is not None and setup_files is not None:
        raise ServiceSetupError(
            "this setup's camera profile is the bundled demo calibration of a rendered test "
            "rig (demo calibration): calibrate your camera on the setup's page"
        )
    if refusal is not None:
        raise refusal
    result = measure_video(
        video,
        setup.layout,
        setup.profile,
        setup.params,
        progress=GuardedProgress(progress, info, limits, settings.measurement_time_limit_s),
        demo_calibration=setup.is_demo,
    )
    return result.to_record()
