"""`sotmeasure dataset check`: every problem named, exit codes, nothing measured."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from batch_data import copy_clip, row, write_manifest, write_setup_folder, write_setup_toml
from typer.testing import CliRunner

from sotmeasure.batch import check_dataset
from sotmeasure.cli import app
from sotmeasure.provenance import sha256_file


def _check_cli(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["dataset", "check", str(folder)])
    return result.exit_code, result.output


def test_a_clean_dataset_passes_with_both_setup_forms(tmp_path: Path) -> None:
    write_setup_toml(tmp_path, "rig")
    write_setup_folder(tmp_path, "rig_folder")
    rec = copy_clip(tmp_path, "pre_block", "a.mp4")
    write_manifest(
        tmp_path,
        [
            row("S1", "v1", "pre", rec, sha256=sha256_file(tmp_path / rec)),
            row("S1", "v1", "post", rec, setup="rig_folder", mode="markerless"),
        ],
    )
    check = check_dataset(tmp_path)
    assert check.problems == []
    assert set(check.setups) == {"rig", "rig_folder"}
    assert len(check.recording_sha256) == 2
    code, out = _check_cli(tmp_path)
    assert code == 0, out
    assert "2 item(s), 2 setup(s), no problems" in out


def test_every_problem_is_named_and_exit_is_non_zero(tmp_path: Path) -> None:
    write_setup_toml(tmp_path, "rig")
    bad = tmp_path / "setups" / "badcam.toml"
    bad.write_text('target = "nowhere.json"\n')
    rec = copy_clip(tmp_path, "pre_block", "a.mp4")
    write_manifest(
        tmp_path,
        [
            row("S1", "v1", "pre", rec, sha256="0" * 64),  # hash mismatch (line 2)
            row("S1", "v1", "post", "recordings/missing.mp4"),  # missing file (3)
            row("S2", "v1", "mid", rec),  # bad phase (4)
            row("S3", "v1", "pre", rec, setup="nosuch"),  # unknown setup (5)
            row("S4", "v1", "pre", rec),  # duplicate key (6, 7)
            row("S4", "v1", "pre", rec),
            row("S5", "v1", "pre", rec, mode="xray"),  # bad mode (8)
        ],
    )
    check = check_dataset(tmp_path)
    text = [str(p) for p in check.problems]
    expected = [
        "setups/badcam: setup badcam.toml: target file not found: nowhere.json",
        "manifest.csv:2: sha256 mismatch for recordings/a.mp4",
        "manifest.csv:3: recording recordings/missing.mp4 not found",
        "manifest.csv:4: phase 'mid' is not one of pre, post",
        "manifest.csv:5: unknown setup 'nosuch' (setups/ has: rig)",
        "manifest.csv:6: duplicate key S4/v1/pre (rows manifest.csv:6, manifest.csv:7)",
        "manifest.csv:7: duplicate key S4/v1/pre",
        "manifest.csv:8: mode 'xray' is not one of markerless, stickers",
    ]
    for start in expected:
        assert any(t.startswith(start) for t in text), (start, text)
    assert len(text) == len(expected)
    code, out = _check_cli(tmp_path)
    assert code == 1
    assert out.count("problem: ") == len(expected)
    assert "8 problem(s) in 7 item(s)" in out


def test_missing_columns_and_missing_manifest(tmp_path: Path) -> None:
    assert "no manifest.csv or manifest.parquet" in str(check_dataset(tmp_path).problems[0])
    (tmp_path / "manifest.csv").write_text("subject,phase,recording\nS1,pre,a.mp4\n")
    (problem,) = check_dataset(tmp_path).problems
    assert "missing column(s) session, setup" in problem.message
    assert _check_cli(tmp_path)[0] == 1


def test_parquet_manifest_keeps_ids_as_text(tmp_path: Path) -> None:
    write_setup_toml(tmp_path)
    rec = copy_clip(tmp_path, "post_block", "b.mp4")
    frame = pd.DataFrame([row("007", "01", "post", rec, arm="A")])
    frame.to_parquet(tmp_path / "manifest.parquet")
    check = check_dataset(tmp_path)
    assert check.problems == []
    (item,) = check.items
    assert (item.subject, item.session, item.labels) == ("007", "01", {"arm": "A"})


@pytest.mark.parametrize("content", ["target = 3\n", 'target = "x.json"\nlens = "y"\n'])
def test_malformed_setup_toml_is_a_problem(tmp_path: Path, content: str) -> None:
    (tmp_path / "setups").mkdir()
    (tmp_path / "setups" / "rig.toml").write_text(content)
    rec = copy_clip(tmp_path, "pre_block", "a.mp4")
    write_manifest(tmp_path, [row("S1", "v1", "pre", rec)])
    messages = [str(p) for p in check_dataset(tmp_path, hashes=False).problems]
    assert messages[0].startswith("setups/rig: setup rig.toml:")
    assert messages[1] == "manifest.csv:2: setup 'rig' is broken (above)"
