"""`sotmeasure batch --serial` on real clips: numbers, tables, refusals, resume, exit codes.

The pose model runs on each clip once here (module fixture); the rerun and the --force run
only touch the cheap corrupt item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from batch_data import numbers, pre_post_dataset, row, stored_numbers, write_manifest
from typer.testing import CliRunner

from fixture_data import load_truth
from sotmeasure.cli import app

pytestmark = pytest.mark.slow


def _batch(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["batch", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("serial")
    data = pre_post_dataset(root / "data")
    out = root / "results"
    code, output = _batch(str(data), "--out", str(out), "--serial", "--frames")
    return {"data": data, "out": out, "code": code, "output": output}


def _results(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "results.parquet").set_index(["subject", "session", "phase"])


def test_batch_measures_every_item_and_refusals_do_not_stop_it(
    serial_run: dict[str, Any],
) -> None:
    assert serial_run["code"] == 0, serial_run["output"]  # a refusal is a result
    r = _results(serial_run["out"])
    assert len(r) == 3 and r.index.is_unique
    pre, post = r.loc[("P1", "v1", "pre")], r.loc[("P1", "v1", "post")]
    assert pre["status"] == "ok" and post["status"] == "ok"
    assert abs(pre["lld_mm"] - load_truth("pre_block")["lld_mm"]) < 1.5
    assert abs(post["lld_mm"] - load_truth("post_block")["lld_mm"]) < 1.5
    assert pre["lld_ci95_mm.lo"] <= pre["lld_mm"] <= pre["lld_ci95_mm.hi"]
    assert pre["frames_used"] >= 60 and pre["label.condition"] == "blocks"
    assert pre["recording_sha256"] == pre["provenance.video.sha256"]
    assert len(pre["provenance.model.sha256"]) == 64 and pre["software_version"]
    bad = r.loc[("P2", "v1", "pre")]
    assert bad["status"] == "refused" and "cannot read p2_pre.mp4" in bad["reason"]
    assert "refused: P2/v1/pre: cannot read" in serial_run["output"]


def test_batch_numbers_equal_measuring_alone(
    serial_run: dict[str, Any], alone: dict[str, dict[str, Any]]
) -> None:
    r = _results(serial_run["out"])
    for phase, clip in (("pre", "pre_block"), ("post", "post_block")):
        stored = stored_numbers(r.loc[("P1", "v1", phase), "result_json"])
        assert stored == numbers(alone[clip])


def test_comparison_and_per_frame_tables(serial_run: dict[str, Any]) -> None:
    (c,) = pd.read_parquet(serial_run["out"] / "comparisons.parquet").to_dict("records")
    true_change = load_truth("post_block")["lld_mm"] - load_truth("pre_block")["lld_mm"]
    assert c["status"] == "compared"
    assert abs(c["change.lld_mm"] - true_change) <= 1.5
    assert c["change.lld_ci95_mm.lo"] < c["change.lld_mm"] < c["change.lld_ci95_mm.hi"]
    # the budget components pre and post share cancel, as in `sotmeasure compare`: the true
    # -5 mm change is a real change, not lost in two independent +/-8 mm intervals
    assert c["verdict.lld"] == "real change"
    assert c["change.lld_ci95_mm.hi"] - c["change.lld_ci95_mm.lo"] < 10.0
    frames = pd.read_parquet(serial_run["out"] / "frames.parquet")
    assert sorted(frames.groupby("phase").size().items()) == [("post", 120), ("pre", 120)]
    r = _results(serial_run["out"])
    in_window = frames[(frames["phase"] == "pre") & frames["in_window"]]
    assert len(in_window) == r.loc[("P1", "v1", "pre"), "frames_used"]


def test_rerun_keeps_everything_and_force_remeasures(
    serial_run: dict[str, Any], tmp_path: Path
) -> None:
    items = sorted((serial_run["out"] / "items").glob("*.parquet"))
    before = {p.name: p.stat().st_mtime_ns for p in items}
    code, output = _batch(
        str(serial_run["data"]), "--out", str(serial_run["out"]), "--serial", "--frames"
    )
    assert code == 0, output
    assert {p.name: p.stat().st_mtime_ns for p in items} == before  # nothing rewritten
    assert len(_results(serial_run["out"])) == 3
    # --force on a one-item dataset (the corrupt video: cheap to re-measure)
    data = tmp_path / "data"
    (data / "recordings").mkdir(parents=True)
    (data / "setups").mkdir()
    (data / "setups" / "rig.toml").write_text((serial_run["data"] / "setups/rig.toml").read_text())
    (data / "recordings" / "x.mp4").write_bytes(b"junk")
    write_manifest(data, [row("P9", "v1", "pre", "recordings/x.mp4")])
    out = tmp_path / "out"
    _batch(str(data), "--out", str(out), "--serial")
    (item,) = (out / "items").glob("*.parquet")
    first = item.stat().st_mtime_ns
    _batch(str(data), "--out", str(out), "--serial")
    assert item.stat().st_mtime_ns == first
    code, output = _batch(str(data), "--out", str(out), "--serial", "--force")
    assert code == 0 and item.stat().st_mtime_ns != first
    assert "measured now: refused" in output


def test_invalid_items_are_stored_with_their_reason_and_exit_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pre_post_dataset(data, broken=False)
    write_manifest(data, [row("P3", "v1", "pre", "recordings/missing.mp4", setup="nosuch")])
    code, output = _batch(str(data), "--out", str(tmp_path / "out"), "--serial")
    assert code == 1, output
    assert "invalid: P3/v1/pre" in output
    (r,) = pd.read_parquet(tmp_path / "out" / "results.parquet").to_dict("records")
    assert r["status"] == "invalid"
    assert "recordings/missing.mp4 not found" in r["reason"]
    assert "unknown setup 'nosuch'" in r["reason"]
