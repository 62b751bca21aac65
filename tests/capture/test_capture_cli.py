"""`sotmeasure record | replay | info`: output, exit codes, one-line errors on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest
from capture_frames_util import index_image
from typer.testing import CliRunner, Result

from sotmeasure.cli import app

runner = CliRunner()


def _run(*args: str) -> Result:
    return runner.invoke(app, list(args), terminal_width=200)


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _assert_one_line_error(result: Result, fragment: str) -> None:
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def pose_1_recording(
    tmp_path_factory: pytest.TempPathFactory, pose_1_mp4: Path
) -> tuple[Path, dict[str, Any]]:
    """The real clip recorded through the CLI (120 frames of 576x576)."""
    out = tmp_path_factory.mktemp("cli") / "pose_1_rec"
    return out, _json(_run("record", "--source", str(pose_1_mp4), "--json", str(out)))


def test_record_from_a_real_clip(pose_1_recording: tuple[Path, dict[str, Any]]) -> None:
    _, summary = pose_1_recording
    assert (summary["frames"], summary["width"], summary["height"]) == (120, 576, 576)
    assert summary["fps"] == 30.0
    assert summary["duration_s"] == pytest.approx(4.0, abs=1e-6)
    assert summary["complete"] is True


def test_replay_reports_frames_fps_duration(pose_1_recording: tuple[Path, dict[str, Any]]) -> None:
    out, _ = pose_1_recording
    data = _json(_run("replay", str(out), "--json"))
    assert data["replayed_frames"] == data["frames"] == 120
    assert data["measured_fps"] == pytest.approx(30.0, abs=0.01)
    assert data["timing"] == "fast"
    text = _run("replay", str(out))
    assert text.exit_code == 0
    assert "120 replayed of 120" in text.stdout and "complete" in text.stdout


def test_info_on_each_kind(
    pose_1_recording: tuple[Path, dict[str, Any]], pose_1_mp4: Path, tmp_path: Path
) -> None:
    video = _json(_run("info", str(pose_1_mp4), "--json"))
    assert (video["kind"], video["width"], video["frames"], video["fps"]) == (
        "video",
        576,
        120,
        30.0,
    )
    assert video["duration_s"] == pytest.approx(4.0)

    out, _ = pose_1_recording
    rec = _json(_run("info", str(out), "--json"))
    assert (rec["kind"], rec["frames"], rec["complete"]) == ("recording", 120, True)
    assert rec["meta"]["format_version"] == 1
    assert rec["meta"]["source"].endswith("pose_1.mp4")

    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i}.png"), index_image(i))
    images = _json(_run("info", str(tmp_path), "--json"))
    assert (images["kind"], images["frames"], images["width"], images["fps"]) == (
        "images",
        4,
        160,
        None,
    )

    human = _run("info", str(out))
    assert human.exit_code == 0 and "recording" in human.stdout and "yes" in human.stdout


def test_record_lossless_from_image_folder_with_fps(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(5):
        cv2.imwrite(str(frames / f"f{i}.png"), index_image(i))
    data = _json(
        _run(
            "record",
            "--source",
            str(frames),
            "--fps",
            "5",
            "--lossless",
            "--json",
            str(tmp_path / "r"),
        )
    )
    assert (data["frames"], data["fps"], data["codec"]) == (5, 5.0, "png")
    assert data["duration_s"] == pytest.approx(1.0)


def test_bad_paths_give_one_line_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01junk" * 500)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    _assert_one_line_error(_run("info", str(tmp_path / "nope")), "no such file or folder")
    _assert_one_line_error(_run("info", str(garbage)), "not a video")
    _assert_one_line_error(_run("info", str(empty)), "empty")
    _assert_one_line_error(_run("replay", str(garbage)), "a recording is a folder")
    _assert_one_line_error(_run("replay", str(tmp_path)), "meta.json is missing")
    _assert_one_line_error(
        _run("record", "--camera", "99", "--seconds", "1", str(tmp_path / "r")),
        "camera 99 not found",
    )
    _assert_one_line_error(_run("record", str(tmp_path / "r")), "exactly one of --camera")
    _assert_one_line_error(
        _run("record", "--source", str(garbage), str(tmp_path / "r2")), "not a video"
    )


def test_record_into_a_non_empty_folder(tmp_path: Path, indexed_mp4: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    _assert_one_line_error(
        _run("record", "--source", str(indexed_mp4), str(tmp_path / "busy")), "not empty"
    )


def test_console_script_error_is_one_line_and_non_zero(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it (CliRunner bypasses main())."""
    script = Path(sys.executable).parent / "sotmeasure"
    proc = subprocess.run(
        [str(script), "info", str(tmp_path / "missing.mp4")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip() == f"error: no such file or folder: {tmp_path / 'missing.mp4'}"
