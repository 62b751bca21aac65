"""From a setup's files and a mode to what `measure_video` takes, and the hash of it.

Used in three places that must agree: `dataset check` (can the files be loaded?), the
driver (the run hash that decides whether a stored result is still current) and the worker
(the measurement itself). All three go through the pipeline's one setup loader
(`sotmeasure.processing.setup.load_files`), as `measure --target --camera --setup` does.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING

from sotmeasure import __version__
from sotmeasure.processing.setup import SOURCE_CONFIGURED, LoadedSetup, SetupFiles, load_files

if TYPE_CHECKING:
    from sotmeasure.batch.setups import DatasetSetup

#: What the measurement of one item depends on, loaded (layout, profile, parameters).
Configured = LoadedSetup


def configure(files: DatasetSetup, mode: str) -> Configured:
    """Load the setup's files like `measure --target --camera --setup --mode` does.

    The files are the researcher's own choice (SOURCE_CONFIGURED), even where they are the
    rendered rig's: a dataset names its setup explicitly. Raises the loaders'
    SotmeasureError subclasses (LayoutError, ProfileError, SetupError).
    """
    return load_files(
        SetupFiles(files.target, files.camera, files.setup, SOURCE_CONFIGURED),
        mode=mode,  # type: ignore[arg-type]
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
