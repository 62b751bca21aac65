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
from collections.abc import Callable, Iterable
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
from sotmeasure.store.media_checks import LengthLimits, VideoInfo, check_length, check_video
from sotmeasure.store.models import SetupVersion

#: The name other modules used for the setup's files (kept for the API's health check).
MeasurementSetup = SetupFiles
__all__ = [
    "MeasurementSetup",
    "ProcessingUnavailableError",
    "ServiceSetupError",
    "check_stored_video",
    "live_pass",
    "live_record",
    "measure_recording",
    "measurement_setup",
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


def measurement_setup(
    settings: Settings, setup_files: SetupFiles | None, mode: str | None
) -> LoadedSetup:
    """The layout, profile and parameters a measurement with a stored setup version's
    files (None: the installation setup) in `mode` is measured with."""
    if setup_files is None:
        return LoadedSetup.from_settings(settings, mode=mode)
    return load_files(setup_files, mode=checked_mode(mode or settings.measure_mode))


def check_stored_video(
    settings: Settings, video: Path, setup: LoadedSetup, *, stored_version: bool
) -> None:
    """What a stored video must pass before it is measured with `setup` (a failure is the
    measurement's failure reason): decodable, within the length limits, and the bundled
    demo setup only for the demo clips."""
    _checked_length(settings, video)
    _refuse_demo_setup(video, setup, stored_version=stored_version)


def _checked_length(settings: Settings, video: Path) -> VideoInfo:
    limits = LengthLimits(settings.max_recording_frames, settings.max_recording_s)
    info = check_video(video, max_side_px=settings.max_video_side_px)
    check_length(info, limits)  # before the pose model loads (cheap: container figures)
    return info


def _refuse_demo_setup(video: Path, setup: LoadedSetup, *, stored_version: bool) -> None:
    refusal = demo_setup_refusal(video, setup)
    if refusal is not None and stored_version:
        raise ServiceSetupError(
            "this setup's camera profile is the bundled demo calibration of a rendered test "
            "rig (demo calibration): calibrate your camera on the setup's page"
        )
    if refusal is not None:
        raise refusal


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
    info = _checked_length(settings, video)
    setup = measurement_setup(settings, setup_files, mode)
    _refuse_demo_setup(video, setup, stored_version=setup_files is not None)
    result = measure_video(
        video,
        setup.layout,
        setup.profile,
        setup.params,
        progress=GuardedProgress(progress, info, limits, settings.measurement_time_limit_s),
        demo_calibration=setup.is_demo,
    )
    return result.to_record()


def live_record(
    settings: Settings, video: Path, setup: LoadedSetup, live: Any, *, stored_version: bool
) -> ResultRecord:
    """The result of a live pass (processing/live.py) over the frames of the stored
    `video`: the same checks and the same statistics as `measure_recording` of that
    file, so the same record (apart from its timestamp)."""
    from sotmeasure.processing.video import result_of_pass

    check_stored_video(settings, video, setup, stored_version=stored_version)
    result = result_of_pass(
        video,
        setup.layout,
        setup.profile,
        setup.params,
        setup.is_demo,
        live.pose,
        live.run,
    )
    return result.to_record()


def live_pass(
    setup: LoadedSetup,
    frames: Iterable[Any],
    again: Iterable[Any],
    *,
    planned_frames: int,
    size: tuple[int, int],
    should_stop: Callable[[], bool],
) -> Any:
    """Measure a recording's frames as they are recorded (processing/live.py) with
    `setup`; the pass for `live_record`, or `LiveMismatchError` / a measurement error."""
    from sotmeasure.processing.live import live_pass as run

    return run(
        frames,
        again,
        setup.layout,
        setup.profile,
        setup.params,
        planned_frames=planned_frames,
        size=size,
        should_stop=should_stop,
    )
