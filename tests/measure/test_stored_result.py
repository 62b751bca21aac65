"""The stored result: typed, versioned, lossless to and from JSON; old rows still load."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from sotmeasure.measure.compare import Mdc95, compare
from sotmeasure.measure.error_budget import BudgetComponent
from sotmeasure.measure.frame_values import FrameValues
from sotmeasure.measure.result import (
    RESULT_VERSION,
    FrameRecord,
    MeasurementResult,
    ResultRecord,
    assemble_result,
)
from sotmeasure.measure.window import StillWindow
from sotmeasure.processing.budget import unseen_obliquity_component
from sotmeasure.report.wording import budget_sentences
from sotmeasure.services.comparison import StoredComparison

STORED = Path(__file__).resolve().parents[1] / "fixtures" / "stored_results"


def _stored(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((STORED / name).read_text(encoding="utf-8"))
    return data


def _result(lld: float, tilt: float, wobble: float = 0.37) -> MeasurementResult:
    frames = [
        FrameRecord(
            i,
            i / 30,
            FrameValues(lld + wobble * math.sin(i), lld, tilt + wobble * math.cos(i), 0.5),
            "heels not visible" if i == 3 else None,
            0.1,
        )
        for i in range(40)
    ]
    return assemble_result(
        frames=frames,
        window=StillWindow(0, 39, 0.0, 39 / 30, 0.1, 5.0),
        components=[BudgetComponent("calibration", 0.6137, 0.1981, "test", {"x": 0.12345})],
        calibration="camera+pose",
        mode="markerless",
        provenance={"software_version": "test", "parameters": {"window_s": 3.0}},
        window_points_px={"heel_l": (100.123, 200.456)},
    )


def test_a_fresh_result_round_trips_exactly() -> None:
    result = _result(4.1234567, 1.2345678)
    record = result.to_record()
    stored = record.to_dict()
    assert stored == {"result_version": RESULT_VERSION, **result.to_dict(include_frames=True)}
    again = ResultRecord.from_dict(json.loads(json.dumps(stored)))
    assert again == record
    assert again.to_dict() == stored
    assert record.lld_mm == round(result.lld_mm, 3)
    assert record.frames is not None and len(record.frames) == 40
    assert record.frames_rejected == {"heels not visible": 1}
    assert record.window_points_px == {"heel_l": (100.12, 200.46)}
    assert record.error_budget is not None and record.error_budget.systematic is not None
    assert record.error_budget.systematic[0].name == "calibration"


def test_a_measured_row_stored_before_versioning_loads_and_upgrades() -> None:
    old = _stored("measured_v1.json")
    assert "result_version" not in old
    record = ResultRecord.from_dict(old)
    assert record.result_version == RESULT_VERSION
    assert record.unparsed == {}  # every part of a measured row has its type
    assert record.lld_mm == old["lld_mm"] and record.short_side == "left"
    assert record.frames is not None and len(record.frames) == old["frames_total"]
    assert record.window_frame_indices and record.representative_frame is not None
    assert record.error_budget is not None and record.error_budget.total_ci95_half is not None
    assert record.to_dict() == {**old, "result_version": RESULT_VERSION}
    assert ResultRecord.from_dict(record.to_dict()) == record


@pytest.mark.parametrize("name", ["imported_v1.json", "imported_minimal_v1.json"])
def test_imported_rows_keep_their_own_formats(name: str) -> None:
    old = _stored(name)
    record = ResultRecord.from_dict(old)
    assert record.to_dict() == {**old, "result_version": RESULT_VERSION}
    assert record.lld_half_mm == pytest.approx((old["lld_ci95_mm"][1] - old["lld_ci95_mm"][0]) / 2)
    if name == "imported_minimal_v1.json":
        assert record.frames_used is None and record.unparsed == {"frames_used": "eighty"}
    else:  # {"lld_half_mm": 1.0} is not this tool's budget: kept, read as an empty budget
        assert record.error_budget is not None and record.error_budget.statistical is None
    budget_sentences(record)  # a budget in another format gives fewer sentences, no error


def test_a_stored_result_must_keep_its_estimates_inside_the_ci() -> None:
    bad = {**_stored("imported_minimal_v1.json"), "lld_ci95_mm": [1.0, 2.0]}
    with pytest.raises(ValueError, match="must contain"):
        ResultRecord.from_dict(bad)
    with pytest.raises(ValueError, match="version"):
        ResultRecord.from_dict({**bad, "result_version": RESULT_VERSION + 1})


def test_stored_comparison_matches_the_measure_comparison() -> None:
    pre, post = _result(6.0, 2.0), _result(1.0, 0.5)
    mdc = Mdc95()
    fresh = compare(pre, post, mdc).to_dict()
    stored = StoredComparison(pre.to_record(), post.to_record(), mdc).to_dict()
    # the stored comparison also says which numbers it used (automatic unless assisted)
    assert set(stored) == set(fresh) | {"numbers_used"}
    assert {p: n["numbers"] for p, n in stored["numbers_used"].items()} == {
        "pre": "automatic",
        "post": "automatic",
    }
    assert stored["verdict"] == fresh["verdict"] and stored["mdc95"] == fresh["mdc95"]
    assert set(stored["change"]) == set(fresh["change"])
    for key in ("lld_mm", "pelvic_tilt_deg"):
        assert stored["change"][key] == pytest.approx(fresh["change"][key], abs=2e-3)
    assert stored["change"]["ci_method"] == fresh["change"]["ci_method"]
    assert stored["pre"] == {"result_version": RESULT_VERSION, **fresh["pre"]}


def test_one_wording_of_the_budget() -> None:
    sentences = budget_sentences(_result(4.0, 1.0).to_record())
    assert sentences[0].startswith("Overall, LLD is known to within")
    assert any("Camera calibration" in s for s in sentences)
    assert sentences[-1] == "Frames not used: 1 frame(s): heels not visible."


def test_the_unseen_pelvic_obliquity_is_worded_with_its_tilt_only() -> None:
    """A markerless result's budget names the obliquity the model cannot see: no LLD, and
    the tilt half-width of a +-10 deg rectangular bound (1.96 x 5.77 = 11.3 deg)."""
    data = _result(4.0, 1.0).to_record().to_dict()
    obliquity = unseen_obliquity_component(10.0)
    data["error_budget"]["systematic"].append(
        {
            "name": obliquity.name,
            "lld_u_mm": obliquity.lld_u_mm,
            "pelvic_tilt_u_deg": obliquity.pelvic_tilt_u_deg,
            "detail": obliquity.detail,
            "inputs": obliquity.inputs,
        }
    )
    words = budget_sentences(ResultRecord.from_dict(data))
    line = next(w for w in words if w.startswith("Pelvic obliquity the pose model cannot see"))
    assert "±0.0 mm LLD, ±11.3 deg tilt (95%)" in line
    assert "PSIS stickers" in line


def test_a_demo_calibration_result_says_so_first_and_names_image_problems() -> None:
    """Issue 11: a result measured with the bundled demo calibration says so on every page
    and report that words it; image-quality problems are named too."""
    data = _result(6.0, 2.0).to_record().to_dict()
    data["provenance"] = {
        **data["provenance"],
        "demo_calibration": "measured with the bundled demo calibration",
        "image_quality": {"problems": ["image too blurred at the heels (edges 7.0 mm wide)"]},
    }
    words = budget_sentences(ResultRecord.from_dict(data))
    assert words[0].startswith("Demo calibration:")
    assert any("blurred at the heels" in w for w in words)
    plain = budget_sentences(_result(6.0, 2.0).to_record())
    assert not any(w.startswith("Demo calibration") for w in plain)
