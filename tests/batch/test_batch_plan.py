"""Resume decisions, row flattening and pre/post pairing, without running the pose model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from batch_data import pre_post_dataset

from sotmeasure.batch import check_dataset
from sotmeasure.batch.pairs import LLD_HALF, TILT_HALF, comparisons
from sotmeasure.batch.plan import plan_batch
from sotmeasure.batch.rows import result_columns
from sotmeasure.batch.store import ResultStore
from sotmeasure.batch.task import STATUS_FAILED, STATUS_OK, ItemOutcome
from sotmeasure.batch.worker import base_row
from sotmeasure.measure.compare import REAL_CHANGE, WITHIN_NOISE, Mdc95


def _slugs(tasks: list) -> set[str]:  # type: ignore[type-arg]
    return {t.slug for t in tasks}


def test_rerun_keeps_current_results_and_remeasures_what_changed(tmp_path: Path) -> None:
    data = pre_post_dataset(tmp_path / "data")
    store = ResultStore(tmp_path / "out")
    first = plan_batch(check_dataset(data), store)
    assert len(first.to_measure) == 3 and first.kept == [] and first.invalid == []
    pre, post, broken = first.to_measure
    store.write(ItemOutcome(pre.slug, base_row(pre, STATUS_OK, None)))
    store.write(ItemOutcome(post.slug, base_row(post, STATUS_FAILED, "RuntimeError: boom")))
    store.write(ItemOutcome(broken.slug, base_row(broken, "refused", "not a video")))

    again = plan_batch(check_dataset(data), store)
    # ok and refused are final; a failed item is tried again
    assert set(again.kept) == {pre.slug, broken.slug}
    assert _slugs(again.to_measure) == {post.slug}

    forced = plan_batch(check_dataset(data), store, force=True)
    assert forced.kept == [] and len(forced.to_measure) == 3

    with_frames = plan_batch(check_dataset(data), store, frames=True)
    # the measured item has no per-frame values stored; a refusal has none to store
    assert with_frames.kept == [broken.slug]

    with (data / pre.recording).open("ab") as fh:  # the recording's bytes changed
        fh.write(b"\0")
    changed = plan_batch(check_dataset(data), store)
    assert set(changed.kept) == {broken.slug}
    assert _slugs(changed.to_measure) == {pre.slug, post.slug}


def test_a_changed_setup_changes_the_run_hash(tmp_path: Path) -> None:
    data = pre_post_dataset(tmp_path / "data", broken=False)
    store = ResultStore(tmp_path / "out")
    (task, _) = plan_batch(check_dataset(data), store).to_measure
    store.write(ItemOutcome(task.slug, base_row(task, STATUS_OK, None)))
    planes = (data / "setups" / "rig.toml").read_text().split("setup = ")[1].strip().strip('"')
    text = Path(planes).read_text().replace("heel_plane_mm = 97.0", "heel_plane_mm = 99.0")
    (data / "planes.toml").write_text(text)
    toml = (data / "setups" / "rig.toml").read_text().replace(planes, str(data / "planes.toml"))
    (data / "setups" / "rig.toml").write_text(toml)
    after = plan_batch(check_dataset(data), store)
    assert after.kept == [] and task.slug in _slugs(after.to_measure)
    assert after.to_measure[0].run_hash != task.run_hash


def test_result_columns_flatten_every_number() -> None:
    contract = {
        "lld_mm": 1.5,
        "lld_ci95_mm": [0.5, 2.5],
        "frames_rejected": {"patient moving": 3},
        "error_budget": {
            "systematic": [{"name": "calibration", "lld_u_mm": 0.2, "inputs": {"px": 0.3}}],
            "total_ci95_half": {"lld_mm": 1.0},
        },
        "provenance": {"profile": None, "table_pose": {"markers_used": [1, 2]}},
    }
    cols = result_columns(contract)
    assert cols["lld_ci95_mm.lo"] == 0.5 and cols["lld_ci95_mm.hi"] == 2.5
    assert json.loads(cols["frames_rejected"]) == {"patient moving": 3}
    assert cols["error_budget.systematic.calibration.lld_u_mm"] == 0.2
    assert cols["error_budget.systematic.calibration.inputs.px"] == 0.3
    assert cols["error_budget.total_ci95_half.lld_mm"] == 1.0
    assert cols["provenance.profile"] is None
    assert json.loads(cols["provenance.table_pose.markers_used"]) == [1, 2]
    assert json.loads(cols["result_json"]) == contract


def _result_row(phase: str, lld: float, lld_half: float, tilt: float, status: str = "ok") -> dict:  # type: ignore[type-arg]
    return {
        "subject": "S1",
        "session": "v1",
        "phase": phase,
        "mode": "markerless",
        "label.arm": "A",
        "status": status,
        "reason": None if status == "ok" else "no still window",
        "lld_mm": lld,
        "pelvic_tilt_deg": tilt,
        LLD_HALF: lld_half,
        TILT_HALF: 0.5,
    }


def test_comparisons_use_compare_change_ci_and_verdict() -> None:
    results = pd.DataFrame(
        [
            _result_row("pre", 6.0, 1.2, 2.0),
            _result_row("post", 1.0, 1.6, 1.9),
            _result_row("pre", 3.0, 1.0, 0.0) | {"subject": "S2"},  # no post: no pair
        ]
    )
    (c,) = comparisons(results, Mdc95(lld_mm=3.7, pelvic_tilt_deg=1.0)).to_dict("records")
    assert c["status"] == "compared" and c["label.arm"] == "A"
    assert c["change.lld_mm"] == pytest.approx(-5.0)
    assert c["change.lld_ci95_mm.lo"] == pytest.approx(-5.0 - math.hypot(1.2, 1.6), abs=1e-3)
    assert c["verdict.lld"] == REAL_CHANGE  # |-5.0| > 2.0 (CI) and > 3.7 (MDC95)
    assert c["change.pelvic_tilt_deg"] == pytest.approx(-0.1)
    assert c["verdict.pelvic_tilt"] == WITHIN_NOISE


def test_a_pair_with_a_refused_phase_is_listed_not_compared() -> None:
    results = pd.DataFrame(
        [_result_row("pre", 6.0, 1.2, 2.0), _result_row("post", 0, 0, 0, status="refused")]
    )
    (c,) = comparisons(results).to_dict("records")
    assert c["status"] == "not comparable"
    assert c["reason"] == "post refused: no still window"
    assert "change.lld_mm" not in c
