"""Limits on one measurement: the recording's length and the time it may take.

Checked twice: before processing, from the container's frame count and rate (cheap: no
frame is decoded beyond the first), and while the pose pass streams, in the progress
callback that the pipeline calls after every frame: the frame budget catches containers
that state no frame count, the deadline catches everything else. Raising there stops the
pipeline's threads (processing/video.py closes them) and the worker fails the row with the
message as its reason; a retry measures again under the limits then in force.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sotmeasure.errors import SotmeasureError
from sotmeasure.store.media_checks import LengthLimits, RecordingTooLongError, VideoInfo

#: The worker's callback: (done, total, what) from the pipeline, or (fraction).
ProgressFn = Callable[..., None]


class MeasurementTimeLimitError(SotmeasureError):
    """The measurement ran longer than SOTMEASURE_MEASUREMENT_TIME_LIMIT_S."""


class GuardedProgress:
    """A progress callback that stops the measurement at the frame budget or the deadline."""

    def __init__(
        self,
        progress: ProgressFn | None,
        info: VideoInfo,
        limits: LengthLimits,
        time_limit_s: float,
    ) -> None:
        self._progress = progress
        self._time_limit_s = time_limit_s
        self._deadline = time.monotonic() + time_limit_s
        by_duration = limits.max_duration_s * info.fps if info.fps > 0 else float("inf")
        self._max_frames = min(float(limits.max_frames), by_duration)
        self._limits = limits

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        done = args[0] if len(args) >= 2 and isinstance(args[0], int) else None
        if done is not None and done > self._max_frames:
            raise RecordingTooLongError(
                f"the recording is longer than this installation measures (at most "
                f"{self._limits.max_frames} frames and {self._limits.max_duration_s:g} s; "
                "SOTMEASURE_MAX_RECORDING_FRAMES, SOTMEASURE_MAX_RECORDING_S): stopped after "
                f"{done - 1} frames of it"
            )
        if time.monotonic() > self._deadline:
            where = f" at frame {done}" if done is not None else ""
            raise MeasurementTimeLimitError(
                f"the measurement took longer than the limit of {self._time_limit_s:g} s "
                f"(SOTMEASURE_MEASUREMENT_TIME_LIMIT_S) and was stopped{where}; a shorter "
                "recording, or a higher limit, lets it finish"
            )
        if self._progress is not None:
            self._progress(*args, **kwargs)
