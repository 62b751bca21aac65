"""The `measure` / `compare` contract on the rendered fixtures, through the real CLI.

Each clip goes through the pose model at most once per test session (session fixtures);
in-process runs are used where a second run is the point (determinism) or where the
MeasurementResult objects are needed (report).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixture_data import SESSIONS, load_truth
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.measure.compare import REAL_CHANGE, compare
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.result import MeasurementResult
from sotmeasure.processing import load_setup, measure_video, resolve_params

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"
LAYOUT = SESSIONS / "pre_block" / "layout.json"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("sotmeasure")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sotmeasure.cli"]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "120"},
        check=False,
    )


def _video(clip: str) -> str:
    return str(SESSIONS / clip / "video.mp4")


OPTS = ("--target", str(LAYOUT), "--camera", str(PROFILE), "--setup", str(SETUP))


@pytest.fixture(scope="session")
def pre_cli() -> dict[str, Any]:
    proc = _cli("measure", _video("pre_block"), *OPTS, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def compare_cli() -> dict[str, Any]:
    proc = _cli("compare", _video("pre_block"), _video("post_block"), *OPTS, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def in_process() -> dict[str, MeasurementResult]:
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    layout, profile = load_layout(LAYOUT), load_profile(PROFILE)
    return {
        clip: measure_video(_video(clip), layout, profile, params)
        for clip in ("pre_block", "post_block")
    }


def test_measure_json_contract_keys_and_types(pre_cli: dict[str, Any]) -> None:
    d = pre_cli
    for key in ("lld_mm", "lld_table_mm", "pelvic_tilt_deg", "body_axis_deg"):
        assert isinstance(d[key], float), key
    for key in ("lld_ci95_mm", "pelvic_tilt_ci95_deg"):
        lo, hi = d[key]
        assert isinstance(lo, float) and lo < hi
    assert d["lld_ci95_mm"][0] <= d["lld_mm"] <= d["lld_ci95_mm"][1]
    assert d["short_side"] in ("left", "right", "none")
    assert isinstance(d["frames_used"], int) and d["frames_used"] >= 80  # 3 s at 30 fps
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in d["frames_rejected"].items())
    assert d["calibration"] == "camera+pose"
    assert {c["name"] for c in d["error_budget"]["systematic"]} == {
        "calibration",
        "plane_height",
        "heel_resolution",
        "hip_points",
        "heel_height_difference",  # issue 11: an unknown heel-height difference is carried
        "hip_refinement",  # issue 11: unrefined (raw-landmark) hips widen the budget
        "pelvic_obliquity",  # the markerless hip line does not follow the pelvis's tilt
    }
    assert "ci_method" in d
    assert d["window_end_s"] - d["window_start_s"] == pytest.approx(3.0, abs=0.05)
    prov = d["provenance"]
    assert len(prov["model"]["sha256"]) == 64
    assert len(prov["layout"]["sha256"]) == 64
    assert len(prov["profile"]["sha256"]) == 64
    assert len(prov["video"]["sha256"]) == 64
    assert prov["parameters"]["heel_plane_mm"] == 97.0  # from the setup file
    assert prov["software_version"]


def test_sign_convention_on_pre_block(pre_cli: dict[str, Any]) -> None:
    """pre_block: right leg longer (true LLD +6.0 mm) -> positive LLD, short side left."""
    assert load_truth("pre_block")["short_side"] == "left"
    assert pre_cli["lld_mm"] > 0
    assert pre_cli["short_side"] == "left"


def test_no_person_exits_2_with_one_line_and_empty_stdout() -> None:
    proc = _cli("measure", _video("tight_framing"), *OPTS, "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "no person found" in lines[0]


def test_same_video_twice_gives_identical_json(
    pre_cli: dict[str, Any], in_process: dict[str, MeasurementResult]
) -> None:
    again = json.loads(json.dumps(in_process["pre_block"].to_dict()))
    for d in (again, pre_cli):
        d["provenance"].pop("measured_at_utc")
    assert again == pre_cli


def test_compare_contract_and_verdict(compare_cli: dict[str, Any]) -> None:
    d = compare_cli
    assert set(d) == {"pre", "post", "change", "mdc95", "verdict"}
    assert set(d["change"]) >= {"lld_mm", "lld_ci95_mm", "pelvic_tilt_deg", "pelvic_tilt_ci95_deg"}
    true_change = load_truth("post_block")["lld_mm"] - load_truth("pre_block")["lld_mm"]  # -5.0
    assert d["change"]["lld_mm"] < 0  # the heels came closer together after blocking
    # The pre/post target of issue 5: change error <= 1.5 mm.
    assert abs(d["change"]["lld_mm"] - true_change) <= 1.5
    assert d["verdict"]["lld"] == REAL_CHANGE
    assert d["verdict"]["pelvic_tilt"] in ("real change", "within noise")
    assert d["mdc95"]["lld_mm"] == 3.7


def test_roll_is_refused_not_averaged() -> None:
    """hard_roll never lies still for 3 s: refused, naming the longest still stretch."""
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    with pytest.raises(MeasurementError, match="longest still stretch") as exc:
        measure_video(_video("hard_roll"), load_layout(LAYOUT), load_profile(PROFILE), params)
    assert exc.value.exit_code == 2


def test_report_folder(in_process: dict[str, MeasurementResult], tmp_path: Path) -> None:
    from sotmeasure.report.folder import write_comparison_report

    c = compare(in_process["pre_block"], in_process["post_block"])
    written = write_comparison_report(
        tmp_path, c, Path(_video("pre_block")), Path(_video("post_block"))
    )
    for name in ("pre_frame", "post_frame", "pre_series", "post_series"):
        assert Path(written[name]).stat().st_size > 10_000
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["change"]["lld_mm"] == pytest.approx(c.lld_change_mm, abs=1e-3)
    assert len(report["pre"]["frames"]) == 120
    md = (tmp_path / "report.md").read_text().lower()
    assert "not palpated bony landmarks" in md
    for word in ("diagnos", "treat ", "recommend you", "healthy", "disease"):
        assert word not in md.replace("no diagnosis", "").replace("no treatment", "")
    assert "<h1>" in (tmp_path / "report.html").read_text()


def test_a_blurred_recording_is_refused_for_the_image_not_for_its_symptom(tmp_path: Path) -> None:
    """A recording too blurred to show the heel outline: the refusal leads with the measured
    image problem (the cause), not with the heel outline it hides (the symptom)."""
    import cv2

    src = cv2.VideoCapture(_video("pre_block"))
    fps = src.get(cv2.CAP_PROP_FPS)
    out_path = tmp_path / "blurred.mp4"
    out = cv2.VideoWriter(str(out_path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (1280, 720))
    for _ in range(45):  # 1.5 s: enough frames to judge the heels
        ok, frame = src.read()
        assert ok
        out.write(cv2.GaussianBlur(frame, (0, 0), 2.0))  # edges ~5 px = ~9 mm wide
    out.release()
    src.release()
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    with pytest.raises(MeasurementError) as exc:
        measure_video(str(out_path), load_layout(LAYOUT), load_profile(PROFILE), params)
    assert str(exc.value).startswith("the image is not good enough: image too blurred")
    assert exc.value.exit_code == 2
