"""From a setup's files and a mode to what `measure_video` takes, and the hash of it.

Used in three places that must agree: `dataset check` (can the files be loaded?), the
driver (the run hash that decides whether a stored result is still current) and the worker
(the measurement itself). All three go through the same public loaders as `measure`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from sotmeasure import __version__
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.processing import load_setup, resolve_params

if TYPE_CHECKING:
    from sotmeasure.batch.setups import SetupFiles
    from sotmeasure.geometry.layout import TargetLayout
    from sotmeasure.geometry.profile import CameraProfile
    from sotmeasure.processing import MeasureParams


@dataclass(frozen=True, slots=True)
class Configured:
    """Everything the measurement of one item depends on, loaded."""

    layout: TargetLayout
    profile: CameraProfile | None
    params: MeasureParams


def configure(files: SetupFiles, mode: str) -> Configured:
    """Load the setup's files like `measure --target --camera --setup --mode` does.

    Raises the loaders' SotmeasureError subclasses (LayoutError, ProfileError, SetupError).
    """
    setup = load_setup(files.setup) if files.setup is not None else None
    return Configured(
        layout=load_layout(files.target),
        profile=load_profile(files.camera) if files.camera is not None else None,
        params=resolve_params(mode=mode, setup=setup),  # type: ignore[arg-type]
    )


@cache
def model_sha256() -> str:
    """sha256 of the bundled pose model: a new model must re-measure every item."""
    from sotmeasure.pose.mediapipe_backend import bundled_model_bytes

    return hashlib.sha256(bundled_model_bytes()).hexdigest()


def run_hash(configured: Configured) -> str:
    """sha256 over software version, pose model, parameters, layout and profile hashes.

    A stored result is reused only when this and the recording's hash are unchanged: an
    upgrade or a recalibration re-measures exactly the items it affects.
    """
    identity = {
        "software_version": __version__,
        "model_sha256": model_sha256(),
        "parameters": configured.params.to_dict(),
        "layout_sha256": configured.layout.sha256,
        "profile_sha256": None if configured.profile is None else configured.profile.sha256,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
