"""MediaPipe PoseLandmarker backend, running offline from the model bundled in the package."""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from collections.abc import Sequence
from importlib import resources
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.pose.errors import PoseInputError, PoseModelError
from sotmeasure.pose.estimator import PoseEstimator
from sotmeasure.pose.types import N_LANDMARKS, PoseLandmarks, points_in_frame

if TYPE_CHECKING:
    from mediapipe.tasks.python.vision import PoseLandmarker

log = logging.getLogger(__name__)

BUNDLED_MODEL = "pose_landmarker_full_offline.task"
DEFAULT_IN_FRAME_MARGIN_PX = 2.0

RunningMode = Literal["video", "image"]


#: mediapipe.tasks.python.vision imports its drawing helpers at once, and with them
#: matplotlib.pyplot: ~0.8 s of the ~1.1 s the mediapipe import takes (a fifth of a 4 s
#: `sotmeasure measure`). Nothing here draws with them, so they load on first use instead.
_DRAWING_MODULES = frozenset(
    {
        "mediapipe.tasks.python.vision.drawing_styles",
        "mediapipe.tasks.python.vision.drawing_utils",
    }
)


class _DrawingOnFirstUse(importlib.abc.MetaPathFinder):
    """Finds mediapipe's drawing modules as usual, with a loader that runs them on first
    attribute access (importlib.util.LazyLoader); every other module it leaves alone."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _DRAWING_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _import_mediapipe() -> None:
    """Import mediapipe without running its drawing modules (see `_DRAWING_MODULES`)."""
    if "mediapipe" in sys.modules:
        return
    finder = _DrawingOnFirstUse()
    sys.meta_path.insert(0, finder)
    try:
        import mediapipe  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


def bundled_model_bytes() -> bytes:
    """The full PoseLandmarker bundle shipped inside the package (no download, ever)."""
    return resources.files("sotmeasure.pose").joinpath("models", BUNDLED_MODEL).read_bytes()


class MediaPipePoseEstimator(PoseEstimator):
    """BlazePose GHUM via MediaPipe Tasks.

    VIDEO mode (the default) tracks the person from frame to frame, which is both faster
    (~11 ms vs ~18 ms a frame here) and steadier; it needs strictly increasing timestamps.
    IMAGE mode treats every image on its own (photos, unrelated frames).
    The model is read into memory once so its sha256 is of exactly the bytes that run.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        running_mode: RunningMode = "video",
        output_segmentation: bool = False,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        in_frame_margin_px: float = DEFAULT_IN_FRAME_MARGIN_PX,
        num_poses: int = 1,
    ) -> None:
        if running_mode not in ("video", "image"):
            raise ValueError(f"running_mode must be 'video' or 'image', got {running_mode!r}")
        if model_path is None:
            data = bundled_model_bytes()
            self._model_name = BUNDLED_MODEL
        else:
            path = Path(model_path)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise PoseModelError(f"cannot read the pose model {path}: {exc.strerror}") from exc
            self._model_name = path.name
        self._model_sha256 = hashlib.sha256(data).hexdigest()
        self._running_mode = running_mode
        self._output_segmentation = output_segmentation
        self._margin = in_frame_margin_px
        self._last_t_ms: int | None = None
        # Imported here, not at module level: mediapipe (and the matplotlib it pulls in)
        # costs about a second, which every server start and CLI call would pay before it
        # needs a pose at all.
        _import_mediapipe()
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions
        from mediapipe.tasks.python.vision.core.vision_task_running_mode import (
            VisionTaskRunningMode,
        )

        options = PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=data),
            running_mode=(
                VisionTaskRunningMode.VIDEO
                if running_mode == "video"
                else VisionTaskRunningMode.IMAGE
            ),
            num_poses=num_poses,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_segmentation_masks=output_segmentation,
        )
        try:
            self._landmarker: PoseLandmarker | None = PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise PoseModelError(
                f"the pose model {self._model_name} could not be loaded as a PoseLandmarker "
                f"bundle: {exc}"
            ) from exc
        log.debug(
            "loaded %s (sha256 %s, %s mode)", self._model_name, self._model_sha256, running_mode
        )

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def model_sha256(self) -> str:
        return self._model_sha256

    @property
    def running_mode(self) -> RunningMode:
        return self._running_mode

    def estimate(self, image_bgr: npt.NDArray[np.uint8], t_ms: int) -> PoseLandmarks | None:
        found = self.estimate_all(image_bgr, t_ms)
        return found[0] if found else None

    def estimate_all(self, image_bgr: npt.NDArray[np.uint8], t_ms: int) -> list[PoseLandmarks]:
        """Up to `num_poses` people, each with its own landmarks and person mask."""
        if self._landmarker is None:
            raise PoseInputError("the pose estimator was already closed")
        if image_bgr.dtype != np.uint8 or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise PoseInputError(f"expected an HxWx3 uint8 BGR image, got {image_bgr.shape}")
        rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        return self.estimate_all_rgb(rgb, t_ms)

    def estimate_all_rgb(self, image_rgb: npt.NDArray[np.uint8], t_ms: int) -> list[PoseLandmarks]:
        """`estimate_all` of an RGB image: no conversion here (PosePipeline.model_input
        makes the RGB image ahead of the model, in another thread)."""
        if self._landmarker is None:
            raise PoseInputError("the pose estimator was already closed")
        if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise PoseInputError(f"expected an HxWx3 uint8 RGB image, got {image_rgb.shape}")
        h, w = image_rgb.shape[:2]
        rgb = np.ascontiguousarray(image_rgb)
        import mediapipe as mp  # cached after the constructor's import

        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self._running_mode == "video":
            t = int(t_ms)
            if self._last_t_ms is not None and t <= self._last_t_ms:
                raise PoseInputError(
                    f"frame times must increase in video mode ({t} ms after {self._last_t_ms} ms)"
                )
            self._last_t_ms = t
            result = self._landmarker.detect_for_video(mp_image, t)
        else:
            result = self._landmarker.detect(mp_image)
        masks = result.segmentation_masks or []
        people = []
        for k, lms in enumerate(result.pose_landmarks or []):
            if len(lms) != N_LANDMARKS:
                raise PoseModelError(f"the pose model returned {len(lms)} landmarks, expected 33")
            pts = np.array([[lm.x * w, lm.y * h] for lm in lms], dtype=np.float64)
            vis = np.array([lm.visibility or 0.0 for lm in lms], dtype=np.float64)
            seg = None
            if self._output_segmentation and k < len(masks):
                # A copy: numpy_view() points into memory the mask Image frees when it is
                # collected (right after this call), and the mask is read later, maybe in
                # another thread (processing/stream.py).
                raw = np.array(masks[k].numpy_view(), dtype=np.float32, copy=True)
                seg = np.asarray(
                    raw.reshape(h, w) if raw.size == h * w else cv2.resize(raw, (w, h)),
                    dtype=np.float32,
                )
            people.append(
                PoseLandmarks(
                    points_px=pts,
                    visibility=vis,
                    in_frame=points_in_frame(pts, (w, h), self._margin),
                    image_size=(w, h),
                    segmentation=seg,
                )
            )
        return people

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
