"""Pre/post change, verdicts and the JSON shape of results, on hand-built results."""

from __future__ import annotations

import math

import pytest

from sotmeasure.measure.compare import REAL_CHANGE, WITHIN_NOISE, Mdc95, compare, verdict
from sotmeasure.measure.error_budget import (
    BudgetComponent,
    calibration_component,
    plane_height_component,
)
from sotmeasure.measure.frame_values import FrameValues
from sotmeasure.measure.result import FrameRecord, MeasurementResult, assemble_result
from sotmeasure.measure.window import StillWindow


def _result(lld: float, tilt: float, stat_half: float) -> MeasurementResult:
    """A result whose 95% half-width is exactly `stat_half` mm / `stat_half/4` deg."""
    frames = [
        FrameRecord(i, i / 30, FrameValues(lld, lld, tilt, 0.5), None, 0.0) for i in range(30)
    ]
    res = assemble_result(
        frames=frames,
        window=StillWindow(0, 29, 0.0, 1.0, 0.0),
        components=[BudgetComponent("fixed", stat_half / 1.96, stat_half / 4 / 1.96, "test")],
        calibration="camera+pose",
        mode="markerless",
        provenance={"software_version": "test"},
    )
    return res


def test_constant_window_has_zero_statistical_width_and_budget_only_ci() -> None:
    r = _result(6.0, 2.0, 1.0)
    assert r.lld_mm == 6.0
    assert r.budget.lld_stat_half_mm == 0.0
    assert r.lld_ci95_mm == pytest.approx((5.0, 7.0))
    assert r.short_side == "left"


def test_change_ci_and_verdicts() -> None:
    pre, post = _result(6.0, 2.0, 1.0), _result(1.0, 0.5, 1.0)
    c = compare(pre, post)
    assert c.lld_change_mm == pytest.approx(-5.0)
    assert c.lld_change_half_mm == pytest.approx(math.sqrt(2.0))
    assert c.lld_verdict == REAL_CHANGE  # 5 > 1.41 and 5 > 3.7
    assert c.tilt_change_deg == pytest.approx(-1.5)
    assert c.tilt_verdict == REAL_CHANGE  # 1.5 > 0.35 and 1.5 > 1.0
    d = c.to_dict()
    assert d["change"]["lld_ci95_mm"] == pytest.approx(
        [-5 - math.sqrt(2), -5 + math.sqrt(2)], abs=1e-3
    )
    assert d["verdict"] == {"lld": REAL_CHANGE, "pelvic_tilt": REAL_CHANGE}
    assert d["mdc95"]["lld_mm"] == 3.7
    assert "MEASUREMENT.md" in d["mdc95"]["source"]
    assert set(d) == {"pre", "post", "change", "mdc95", "verdict"}


def test_change_below_mdc_or_ci_is_noise() -> None:
    assert verdict(3.0, 1.0, 3.7) == WITHIN_NOISE  # below MDC
    assert verdict(5.0, 6.0, 3.7) == WITHIN_NOISE  # inside its own CI
    assert verdict(-5.0, 1.0, 3.7) == REAL_CHANGE
    c = compare(
        _result(6.0, 2.0, 1.0), _result(1.0, 0.5, 1.0), Mdc95(lld_mm=6.0, pelvic_tilt_deg=2.0)
    )
    assert c.lld_verdict == WITHIN_NOISE and c.tilt_verdict == WITHIN_NOISE


def test_result_json_contract_keys_and_types() -> None:
    d = _result(-3.0, -1.0, 1.0).to_dict()
    for key in ("lld_mm", "lld_table_mm", "pelvic_tilt_deg", "body_axis_deg"):
        assert isinstance(d[key], float)
    for key in ("lld_ci95_mm", "pelvic_tilt_ci95_deg"):
        assert len(d[key]) == 2 and d[key][0] < d[key][1]
    assert d["short_side"] == "right"
    assert d["frames_used"] == 30 and d["frames_rejected"] == {}
    assert d["calibration"] in ("camera+pose", "homography-only")
    assert "frames" not in d
    assert len(_result(1, 1, 1).to_dict(include_frames=True)["frames"]) == 30


def test_budget_components_hand_computed() -> None:
    cal = calibration_component(reprojection_mm=0.8, reprojection_px=0.5, hip_separation_mm=220)
    assert cal.lld_u_mm == 0.8
    assert cal.pelvic_tilt_u_deg == pytest.approx(math.degrees(math.atan(0.8 / 220)))
    plane = plane_height_component([0.3, -0.6], [0.02, 0.05], 10.0, 97.0, 168.0)
    assert plane.lld_u_mm == pytest.approx(0.6 / math.sqrt(3))
    assert plane.pelvic_tilt_u_deg == pytest.approx(0.05 / math.sqrt(3))
