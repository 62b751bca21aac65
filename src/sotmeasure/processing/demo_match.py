"""Is this video one of the bundled demo clips? Judged on content, not on bytes.

A capture of the demo source re-encodes the clip, so its hash differs from the bundled file;
its first frame still shows the same picture. Two frames are "the same" when their small
grey thumbnails differ by less than a few grey levels on average: far below the difference
between any two real scenes, far above what re-encoding changes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.capture import CaptureError
from sotmeasure.capture.open import open_source

_THUMB = (64, 36)
#: mean absolute grey difference (0-255) below which two thumbnails show the same picture
_SAME_PICTURE_GREY = 4.0


def _thumbnail(video: Path) -> npt.NDArray[np.float32] | None:
    try:
        with open_source(video) as src:
            for frame in src:
                grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
                return np.asarray(
                    cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA), np.float32
                )
    except CaptureError:
        return None
    return None


def same_first_frame(a: Path, b: Path) -> bool:
    """True when both videos open and their first frames show the same picture."""
    ta, tb = _thumbnail(a), _thumbnail(b)
    if ta is None or tb is None:
        return False
    return float(np.mean(np.abs(ta - tb))) < _SAME_PICTURE_GREY
