"""Cameras: a missing one is a named error at once (CI has none), never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from sotmeasure.capture import CameraNotFoundError, Negotiated, WebcamSource, open_source

# A guard against a hang, not a speed assertion: the real cost is milliseconds.
pytestmark = pytest.mark.timeout(20)

HAS_CAMERA = Path("/dev/video0").exists()


def test_missing_camera_index() -> None:
    with pytest.raises(CameraNotFoundError, match=r"camera 99 not found \(/dev/video99"):
        WebcamSource(99)


def test_missing_camera_device_path() -> None:
    with pytest.raises(CameraNotFoundError, match="/dev/video99 does not exist"):
        WebcamSource("/dev/video99")


def test_a_device_that_is_not_a_camera() -> None:
    with pytest.raises(CameraNotFoundError, match="/dev/null"):
        WebcamSource("/dev/null")


def test_negative_index() -> None:
    with pytest.raises(CameraNotFoundError, match=">= 0"):
        WebcamSource(-1)


@pytest.mark.parametrize("spec", [99, "99", "/dev/video99"])
def test_open_source_dispatches_camera_specs(spec: int | str) -> None:
    with pytest.raises(CameraNotFoundError):
        open_source(spec)


def test_negotiated_reports_what_was_not_granted() -> None:
    granted = Negotiated(1280, 720, 30.0, 1280, 720, 30.0)
    other_mode = Negotiated(1920, 1080, 60.0, 1280, 720, 30.0)
    unasked = Negotiated(None, None, None, 640, 480, None)
    assert granted.matches_request
    assert not other_mode.matches_request
    assert unasked.matches_request


@pytest.mark.skipif(not HAS_CAMERA, reason="no camera at /dev/video0 (normal on CI)")
def test_real_camera_reports_requested_and_actual() -> None:
    with WebcamSource(0, width=640, height=480) as cam:
        frame = next(iter(cam))
        assert cam.negotiated.requested_width == 640
        assert (frame.width, frame.height) == (cam.negotiated.width, cam.negotiated.height)
        assert frame.t_s >= 0
