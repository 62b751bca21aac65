"""Fixtures for the capture tests: small videos with known content, made per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from capture_frames_util import write_video

REPO_VIDEOS = Path(__file__).resolve().parents[1] / "fixtures" / "videos"


@pytest.fixture
def indexed_mp4(tmp_path: Path) -> Path:
    """12 frames at 10 fps (mp4v in MP4); frame i shows index i."""
    return write_video(tmp_path / "indexed.mp4", 12, fps=10.0)


@pytest.fixture
def indexed_avi(tmp_path: Path) -> Path:
    """30 frames at 10 fps (Motion-JPEG in AVI, index at the end); frame i shows i."""
    return write_video(tmp_path / "indexed.avi", 30, fps=10.0, fourcc="MJPG")


@pytest.fixture(scope="session")
def pose_1_mp4() -> Path:
    """A real 576x576, 30 fps, 120-frame H.264 clip (see tests/fixtures/videos/PROVENANCE.md)."""
    return REPO_VIDEOS / "pose_1.mp4"
