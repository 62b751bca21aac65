"""Which camera the live page uses, and frame sources that behave like a live camera.

`SOTMEASURE_CAMERA_SOURCE` names a webcam (index or /dev/video*), a video file or a
recording folder; "demo" (the default) is the bundled demo session: the pre clip for the
pre phase and the post clip for the post phase, replayed in real time. Files and folders
are replayed in real time and loop, so a preview of a file looks like a camera; the page
always says which source it shows ("demo source: recorded session").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import CaptureError
from sotmeasure.capture.frame import Frame
from sotmeasure.capture.open import open_source, source_kind
from sotmeasure.store.models import Phase

DEMO = "demo"


class CameraSourceError(CaptureError):
    """The configured camera source cannot be used (missing demo data, bad spec)."""


@dataclass(frozen=True, slots=True)
class LiveSpec:
    """One concrete thing to open: a webcam, a file, or a demo clip for one phase."""

    spec: str
    is_demo: bool
    is_camera: bool
    label: str  # what the page shows, e.g. "demo source: recorded session (pre clip)"

    @property
    def loops(self) -> bool:
        return not self.is_camera


def demo_clip(phase: Phase) -> Path:
    """The bundled demo video of a phase (package `sotmeasure.demo_data`)."""
    try:
        clip = resources.files("sotmeasure") / "demo_data" / phase.value / "video.mp4"
        if clip.is_file():
            return Path(str(clip))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    raise CameraSourceError(
        f"the bundled demo session has no {phase.value} clip in this installation: "
        "set SOTMEASURE_CAMERA_SOURCE to a webcam index or a video"
    )


def resolve_live_spec(camera_source: str, phase: Phase) -> LiveSpec:
    """The source for `phase` under the configured camera source (the phase matters only
    for the demo, whose pre and post phases are two recorded clips)."""
    text = (camera_source or DEMO).strip()
    if text.lower() == DEMO:
        return LiveSpec(
            str(demo_clip(phase)),
            is_demo=True,
            is_camera=False,
            label=f"demo source: recorded session ({phase.value} clip, replayed in real time)",
        )
    kind = source_kind(text)
    if kind == "webcam":
        return LiveSpec(text, is_demo=False, is_camera=True, label=f"camera {text}")
    path = Path(text).expanduser()
    if not path.exists():
        raise CameraSourceError(f"the configured camera source does not exist: {path}")
    return LiveSpec(
        str(path),
        is_demo=False,
        is_camera=False,
        label=f"recorded source: {path.name} (replayed in real time, looping)",
    )


class RealtimeLoop(FrameSource):
    """A file or recording replayed at its own pace, forever (or once with loop=False).

    Frames carry the time since the replay started, so times keep increasing across loop
    boundaries (the pose model's video mode and the Recorder both need that).
    """

    def __init__(self, spec: str, *, loop: bool = True) -> None:
        self._inner = open_source(spec, timing="fast")
        self._loop = loop

    @property
    def info(self) -> SourceInfo:
        return self._inner.info

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        offset = 0.0
        index = 0
        fps = self._inner.info.fps or 30.0
        while True:
            last_t = 0.0
            produced = 0
            for frame in self._inner:
                t_s = offset + frame.t_s
                delay = start + t_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                yield Frame(image=frame.image, index=index, t_s=t_s)
                index += 1
                produced += 1
                last_t = frame.t_s
            if not self._loop or produced == 0:
                return
            offset += last_t + 1.0 / fps

    def close(self) -> None:
        self._inner.close()


def open_live(spec: LiveSpec, *, loop: bool = True) -> FrameSource:
    """Open a live-like source: the camera itself, or the file replayed in real time."""
    if spec.is_camera:
        return open_source(spec.spec)
    return RealtimeLoop(spec.spec, loop=loop)
