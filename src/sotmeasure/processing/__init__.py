"""sotmeasure.processing: from a video file to a MeasurementResult (orchestration only).

`measure_video` is imported lazily so that `import sotmeasure.processing.params` (used by the
CLI to parse options) does not load the pose model's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sotmeasure.processing.params import MeasureParams, Setup, load_setup, resolve_params

if TYPE_CHECKING:
    from sotmeasure.processing.video import measure_video

__all__ = ["MeasureParams", "Setup", "load_setup", "measure_video", "resolve_params"]


def __getattr__(name: str) -> Any:
    if name == "measure_video":
        from sotmeasure.processing.video import measure_video

        return measure_video
    raise AttributeError(name)
