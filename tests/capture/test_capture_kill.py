"""A recorder killed with SIGKILL mid-recording still replays up to its last written frame.

Guarantee tested (and the one the Recorder makes): every frame whose `index,t_s` row
reached timestamps.csv is in video.avi and replays with its content and time. The
recorder syncs the frame before it writes the row, so at most the one frame being
written at the moment of the kill is lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from capture_frames_util import decode_index
from typer.testing import CliRunner

from sotmeasure.capture import RecordingSource, load_recording
from sotmeasure.cli import app

pytestmark = pytest.mark.timeout(120)

MIN_ROWS = 15

_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[2])
from capture_frames_util import HEIGHT, WIDTH, index_image
from sotmeasure.capture import Frame, Recorder

rec = Recorder(sys.argv[1], fps=20.0, size=(WIDTH, HEIGHT), source_description="kill-test")
for i in range(250):
    rec.write(Frame(image=index_image(i), index=i, t_s=i * 0.05))
    time.sleep(0.02)
rec.close()
"""


def _rows(path: Path) -> int:
    try:
        return max(0, path.read_text().count("\n") - 1)
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def killed_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Run a recorder in a child process, SIGKILL it after >= MIN_ROWS frames."""
    out = tmp_path_factory.mktemp("killed") / "rec"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(out), str(Path(__file__).parent)],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while _rows(out / "timestamps.csv") < MIN_ROWS:
            if child.poll() is not None:
                err = child.stderr.read().decode() if child.stderr else ""
                raise AssertionError(f"recorder child exited early: {err}")
            if time.monotonic() > deadline:
                raise AssertionError("recorder child wrote too few frames in 90 s")
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL, "the recorder finished before it was killed"
    return out, _rows(out / "timestamps.csv")


def test_killed_recording_is_marked_incomplete(killed_recording: tuple[Path, int]) -> None:
    out, rows = killed_recording
    rec = load_recording(out)
    assert not rec.complete
    assert rec.meta.status == "recording"
    assert rec.meta.video_sha256 is None
    assert rows >= MIN_ROWS


def test_killed_recording_replays_every_frame_with_a_timestamp(
    killed_recording: tuple[Path, int],
) -> None:
    out, rows = killed_recording
    with RecordingSource(out) as src:
        frames = list(src)
    assert len(frames) == rows
    assert [decode_index(f.image) for f in frames] == list(range(rows))
    assert [f.t_s for f in frames] == pytest.approx([i * 0.05 for i in range(rows)], abs=1e-6)


def test_cli_reports_the_cut_off_recording(killed_recording: tuple[Path, int]) -> None:
    out, rows = killed_recording
    result = CliRunner().invoke(app, ["replay", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert '"complete": false' in result.stdout
    assert f'"replayed_frames": {rows}' in result.stdout
