"""The robustness bench's instruments (bench/perturb.py, bench/robustness.py), in measured units.

The bench judges the measurement code, so its own parts are checked here: each image change
does what docs/robustness.md says (contrast halved, the band 5-10 mm beyond the heel in table
mm, the downscaled camera still maps table points onto the markers it sees), and the
classifier applies the issue's rules, edge cases included. No pose model runs here (< 30 s).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import perturb  # noqa: E402  (bench/ is a folder of scripts, not a package)
import robustness  # noqa: E402
from fixture_data import SESSIONS  # noqa: E402

PRE = SESSIONS / "pre_block"


@pytest.fixture(scope="module")
def ctx() -> perturb.ClipContext:
    truth = json.loads((PRE / "truth.json").read_text())
    cam = json.loads((PRE / "camera.json").read_text())
    return perturb.ClipContext("pre_block", truth, cam, 30.0, len(truth["frames"]))


def _linear_mean(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return perturb.srgb_to_linear(img)[mask].mean(axis=0)


# --- photometric changes -------------------------------------------------------------------


def test_contrast_half_halves_the_standard_deviation(frame0: np.ndarray) -> None:
    out = perturb.halve_contrast(frame0)
    assert out.std() / frame0.std() == pytest.approx(0.5, abs=0.01)
    assert out.mean() == pytest.approx(frame0.mean(), abs=0.5)


@pytest.mark.parametrize("ev", [-1.5, 1.0])
def test_exposure_scales_linear_light_by_two_to_the_ev(frame0: np.ndarray, ev: float) -> None:
    out = perturb.exposure(frame0, ev)
    # pixels that neither clip at white nor sit in the 8-bit shadow quantisation
    ok = (frame0.min(axis=2) > 40) & (frame0.max(axis=2) < 255 * 2 ** (-max(ev, 0) / 2.2) - 3)
    ratio = _linear_mean(out, ok) / _linear_mean(frame0, ok)
    np.testing.assert_allclose(ratio, 2.0**ev, rtol=0.03)


def test_defocus_has_the_stated_sigma() -> None:
    delta = np.zeros((41, 41, 3), np.uint8)
    delta[20, 20] = 255
    psf = perturb.defocus(delta, 1.5)[:, :, 0].astype(np.float64)
    _, xs = np.mgrid[:41, :41]
    sigma_x = np.sqrt((psf * (xs - 20) ** 2).sum() / psf.sum())
    assert sigma_x == pytest.approx(1.5, abs=0.1)


def test_noise_has_the_stated_sigma_and_is_deterministic() -> None:
    flat = np.full((200, 200, 3), 128, np.uint8)
    field = perturb.noise_field(flat.shape, 6.0, np.random.default_rng(1))
    a = perturb.add_noise(flat, field, np.random.default_rng([1, 2]))
    b = perturb.add_noise(flat, field, np.random.default_rng([1, 2]))
    c = perturb.add_noise(flat, field, np.random.default_rng([1, 3]))
    assert (a - 128.0).std() == pytest.approx(6.0, rel=0.03)
    assert abs(np.corrcoef(a[:, :-1, 0].ravel(), a[:, 1:, 0].ravel())[0, 1]) < 0.05  # iid
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_noise_jpeg_is_deterministic_per_clip_and_frame(
    frame0: np.ndarray, ctx: perturb.ClipContext
) -> None:
    fn = perturb.CHANGES["noise_jpeg"].build(ctx)
    assert np.array_equal(fn(frame0, 3), fn(frame0, 3))
    assert not np.array_equal(fn(frame0, 3), fn(frame0, 4))
    rms = np.sqrt(((fn(frame0, 3).astype(float) - frame0) ** 2).mean())
    assert 3.0 < rms < 12.0  # noise sigma 6, partly smoothed by JPEG q25, plus its loss


def test_colour_cast_gains_in_linear_light(frame0: np.ndarray) -> None:
    gains = (0.75, 1.0, 1.25)
    out = perturb.colour_cast(frame0, gains)
    ok = (frame0.min(axis=2) > 40) & (frame0.max(axis=2) < 200)
    np.testing.assert_allclose(_linear_mean(out, ok) / _linear_mean(frame0, ok), gains, rtol=0.03)


def test_exposure_drift_spans_the_stated_ev(frame0: np.ndarray, ctx: perturb.ClipContext) -> None:
    fn = perturb.CHANGES["exposure_drift"].build(ctx)
    first, last = fn(frame0, 0), fn(frame0, ctx.n_frames)
    ok = (frame0.min(axis=2) > 40) & (frame0.max(axis=2) < 150)
    ratio = _linear_mean(last, ok) / _linear_mean(first, ok)
    np.testing.assert_allclose(ratio, 2.0**1.2, rtol=0.04)


# --- geometric changes ---------------------------------------------------------------------


def test_dark_band_lies_5_to_10_mm_beyond_the_truth_heel(ctx: perturb.ClipContext) -> None:
    fr = ctx.truth["frames"][0]
    heel = np.array(fr["points_mm"]["heel_L"])
    mask = perturb.band_mask(ctx.camera, heel, fr["body_axis_deg"])
    ys, xs = np.nonzero(mask >= 0.5)
    assert len(xs) > 50
    table = ctx.camera.unproject(np.column_stack([xs, ys]).astype(float), heel[2])
    ang = np.radians(fr["body_axis_deg"])
    a = np.array([np.cos(ang), np.sin(ang)])
    along = (table[:, :2] - heel[:2]) @ a
    across = (table[:, :2] - heel[:2]) @ np.array([-a[1], a[0]])
    px_mm = 1.0 / ctx.camera.px_per_mm(heel)  # one pixel, in mm: the raster's resolution
    assert along.min() >= 5.0 - px_mm and along.max() <= 10.0 + px_mm
    assert np.abs(across).max() <= 50.0 + px_mm
    # and it really darkens the image there
    img = np.full((*mask.shape, 3), 200, np.uint8)
    assert perturb.darken(img, mask, 0.6)[ys, xs].mean() < 200 * (1 - 0.6 * 0.5) + 1


def test_downscaled_profile_maps_table_points_onto_the_markers_it_sees(
    frame0: np.ndarray, ctx: perturb.ClipContext
) -> None:
    scale = 0.5
    cam_json = perturb.scaled_camera_json(ctx.camera_json, scale)
    small = cv2.resize(
        frame0, (cam_json["width"], cam_json["height"]), interpolation=cv2.INTER_AREA
    )
    layout = json.loads((PRE / "layout.json").read_text())["markers"]
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector = cv2.aruco.ArucoDetector(
        cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50), params
    )
    corners, ids, _ = detector.detectMarkers(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    assert ids is not None and len(ids) >= 6
    cam = perturb.Camera.from_json(cam_json)
    errors = [
        np.linalg.norm(c.reshape(4, 2) - cam.project(np.array(layout[str(i)])), axis=1)
        for c, i in zip(corners, ids.ravel(), strict=True)
    ]
    assert float(np.mean(np.concatenate(errors))) < 0.5
    # exactly: the rescaled intrinsics move every projection by x' = s (x + 0.5) - 0.5
    pts = np.array([[900.0, 200.0, 97.0], [1800.0, 500.0, 0.0]])
    np.testing.assert_allclose(
        cam.project(pts), scale * (ctx.camera.project(pts) + 0.5) - 0.5, atol=1e-6
    )


def test_second_person_is_beside_the_patient_not_on_them(
    frame0: np.ndarray, ctx: perturb.ClipContext
) -> None:
    pts = ctx.truth["frames"][0]["points_px"]
    for name in ("person_feet", "person_hips"):
        out = perturb.CHANGES[name].build(ctx)(frame0, 0)
        changed = np.abs(out.astype(int) - frame0).max(axis=2) > 30
        assert changed.sum() > 5000, name  # a whole figure, not a speck
        for p in ("heel_L", "heel_R", "hip_L", "hip_R"):
            x, y = (round(v) for v in pts[p])
            assert not changed[y - 10 : y + 11, x - 10 : x + 11].any(), (name, p)


def test_changed_clip_folder_is_complete_and_rescaled(tmp_path: Path) -> None:
    """A 6-frame copy of pre_block through the downscale change: video, truth and camera
    all describe the half-size image."""
    src = tmp_path / "src" / "tiny"
    src.mkdir(parents=True)
    for name in ("truth.json", "camera.json", "layout.json"):
        (src / name).write_bytes((PRE / name).read_bytes())
    cap = cv2.VideoCapture(str(PRE / "video.mp4"))
    writer = cv2.VideoWriter(
        str(src / "video.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), 30, (1280, 720)
    )
    for _ in range(6):
        writer.write(cap.read()[1])
    writer.release()
    cap.release()
    out = perturb.changed_clip(src, "downscale", tmp_path / "cache")
    assert out == perturb.changed_clip(src, "downscale", tmp_path / "cache")  # cached
    check = cv2.VideoCapture(str(out / "video.mp4"))
    assert int(check.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    assert (check.get(cv2.CAP_PROP_FRAME_WIDTH), check.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 360)
    check.release()
    truth = json.loads((out / "truth.json").read_text())
    assert truth["size"] == [640, 360]
    fx = json.loads((PRE / "camera.json").read_text())["K"][0][0]
    assert json.loads((out / "camera.json").read_text())["K"][0][0] == pytest.approx(fx / 2)


# --- classification --------------------------------------------------------------------------


def _row(lld: float, ci: tuple[float, float], tilt: float = 1.0, tci=(0.0, 2.0)) -> dict[str, Any]:
    return {
        "lld_mm": lld,
        "lld_ci95_mm": list(ci),
        "true_lld_mm": 5.0,
        "tilt_deg": tilt,
        "tilt_ci95_deg": list(tci),
        "true_tilt_deg": 1.0,
        "patient_offset_mm": 10.0,
        "expected_refusal_causes": None,
        "mode": "markerless",
    }


@pytest.mark.parametrize(
    ("lld", "ci", "expected"),
    [
        (5.5, (3.0, 8.0), "right"),  # small error, CI covers
        (7.9, (5.2, 10.6), "right"),  # |err| 2.9 <= 3, CI misses by 0.2 <= 0.5: edge rule
        (8.1, (5.2, 11.0), "honest-wide"),  # |err| 3.1 > 3, CI misses by 0.2: honest
        (12.0, (0.0, 20.0), "honest-wide"),  # large error, wide CI
        (6.0, (5.6, 6.4), "confident-wrong"),  # small error but CI misses by 0.6 > 0.5
        (-4.0, (-6.0, -2.0), "confident-wrong"),  # short side flipped, narrow CI
    ],
)
def test_lld_classes_follow_the_rules(lld: float, ci: tuple[float, float], expected: str) -> None:
    assert robustness.judge_row(_row(lld, ci))["lld_class"] == expected


@pytest.mark.parametrize(
    ("tilt", "tci", "expected"),
    [
        (2.4, (1.15, 3.0), "right"),  # |err| 1.4 <= 1.5, CI misses by 0.15 <= 0.2
        (2.6, (1.1, 3.0), "honest-wide"),  # |err| 1.6 > 1.5, misses by 0.1
        (1.5, (1.25, 1.75), "confident-wrong"),  # misses by 0.25 > 0.2
    ],
)
def test_tilt_classes_follow_the_rules(
    tilt: float, tci: tuple[float, float], expected: str
) -> None:
    assert robustness.judge_row(_row(5.0, (4.0, 6.0), tilt, tci))["tilt_class"] == expected


def test_coverage_is_strict_and_refusal_reasons_are_judged_on_the_cause() -> None:
    judged = robustness.judge_row(_row(7.9, (5.2, 10.6)))
    assert judged["lld_class"] == "right" and judged["lld_covers"] is False
    refusal = {
        "expected_refusal_causes": robustness.PERSON,
        "refused": "no still stretch of 3.0 s: the longest is 1.4 s; record again with the "
        "patient lying still (a second person may be in view)",
    }
    assert robustness.judge_row(refusal)["reason_ok"] is False  # the cause is "no still stretch"
    refusal["refused"] = "too few usable frames: 90 rejected because two people on the table"
    assert robustness.judge_row(refusal)["reason_ok"] is True
    refusal["expected_refusal_causes"] = None  # nothing should make this input refuse
    assert robustness.judge_row(refusal)["reason_ok"] is False


@pytest.mark.parametrize(("where", "accepted"), [("feet", True), ("hips", False)])
def test_hands_at_the_heels_are_a_true_cause_when_a_person_stands_at_the_feet(
    where: str, accepted: bool
) -> None:
    """As for sessions_v2/practitioner_at_feet: the person's hands touch the feet, and the
    refusal names the touched outline (held-out clip rand9973_06)."""
    truth = {"v2": {"second_person": {"where": where}, "feet": {"mode": "hanging"}}}
    refusal = {
        "expected_refusal_causes": robustness.rendered_reasons(truth),
        "refused": "the heels cannot be measured in this recording: 120 of 120 frames showing "
        "the patient were rejected (120 because heel outline not found on the image: the "
        "foot's outline runs on past the heel (something touches the foot)); check ...",
    }
    assert robustness.judge_row(refusal)["reason_ok"] is accepted


def test_off_patient_flags_and_totals() -> None:
    rows = [_row(5.5, (3.0, 8.0)), _row(6.0, (5.6, 6.4)), {"refused": "x", "mode": "markerless"}]
    rows[0]["patient_offset_mm"] = 100.0  # a heel on the toes: off the patient, nobody else
    rows[1]["patient_offset_mm"] = 400.0
    rows[1]["second_person"] = True  # ... and here someone else was in view
    rows[2]["expected_refusal_causes"] = "x"
    for r in rows:
        r.update(robustness.judge_row(r))
    assert rows[0]["off_patient"] and not rows[0]["second_person_measured"]
    assert rows[1]["off_patient"] and rows[1]["second_person_measured"]
    t = robustness.totals(rows)
    assert t["lld"]["classes"] == {"right": 1, "honest-wide": 0, "confident-wrong": 1, "refused": 1}
    assert t["lld"]["right_share"] == pytest.approx(1 / 3)
    assert t["lld"]["coverage"] == pytest.approx(1 / 2)
    assert t["markerless_lld_2mm_share"] == pytest.approx(1.0)
    assert t["off_patient"] == 2 and t["second_person_measured"] == 1
    assert t["refusals_reason_ok"] == 1
    checks = {c["target"]: c for c in robustness.target_checks(t)}
    assert checks["lld confident-wrong runs"]["missed_by"] == 1
    assert checks["lld CI95 coverage"]["missed_by"] == pytest.approx(0.4)


def test_plan_covers_every_change_and_every_clip_once_clean(tmp_path: Path) -> None:
    args = robustness.parse_args(["--rendered", str(tmp_path)])
    runs = robustness.plan(args)
    clean = [r.id for r in runs if r.change is None]
    assert len(clean) == len(set(clean))
    assert "sessions/stickers[stickers]" in clean and "sessions_v2/practitioner_at_feet" in clean
    for change in perturb.CHANGES:
        assert sum(r.change == change for r in runs) >= 3, change
    quick = robustness.plan(robustness.parse_args(["--quick", "--rendered", str(tmp_path)]))
    assert {r.change for r in quick if r.clip_dir.name == "pre_block"} >= set(perturb.CHANGES)


def test_saved_run_reprints_table_totals_and_targets(tmp_path: Path, capsys) -> None:
    rows = [_row(5.5, (3.0, 8.0)), {"refused": "no person found: x", "mode": "markerless"}]
    rows[1]["expected_refusal_causes"] = robustness.VISIBILITY
    for r, rid in zip(rows, ("sessions/a", "sessions/b:defocus"), strict=True):
        r.update(id=rid, group="sessions", change=None, seconds=1.0)
        r.update(robustness.judge_row(r))
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"runs": rows, "wall_s": 60.0, "jobs": 2}))
    assert robustness.main(["--from-json", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "reason ok: no person found" in out
    assert "lld right share" in out and "MISSED by 35.0%" in out  # 1 of 2 right: 50 % vs 85 %


def test_runs_that_are_not_right_are_counted_under_their_cause() -> None:
    """bench/robustness_why.py: the truth decides before the refusal text (an on-pad clip
    refused for "runs on" counts as feet on the table), a lifted heel explains an
    honest-wide LLD, and markerless tilt is the hip line."""
    import robustness_why as why

    base = {"clip": "c", "mode": "markerless", "true_feet": "hanging"}
    rows = [
        base
        | {"lld_class": "honest-wide", "tilt_class": "honest-wide", "lld_err": 5.5}
        | {"true_heel_height_difference_mm": -11.8},
        base
        | {"lld_class": "right", "tilt_class": "right", "lld_err": 2.5}
        | {"true_heel_height_difference_mm": 0.2},
        base
        | {"lld_class": "refused", "tilt_class": "refused", "true_feet": "on_pad"}
        | {"refused": "the heels cannot be measured: the foot's outline runs on past the heel"},
        base
        | {"lld_class": "refused", "tilt_class": "refused"}
        | {
            "refused": "the heels cannot be measured in this recording: in 7 of 120 frames "
            "the edge at the heel runs straight across it; check that nobody (another person)"
        },
    ]
    out = why.why_not_right(rows)
    assert out["lld"]["honest-wide"] == {"one heel >= 5 mm higher (parallax; in the CI)": 1}
    assert out["lld"]["refused"] == {why.ON_PAD: 1, "a straight edge (towel, line) at a heel": 1}
    assert out["tilt"]["honest-wide"] == {
        "markerless: the pose model's hip line, not the pelvis": 1
    }
    assert sum(out["ml_over_2mm"]["measured"].values()) == 2  # 5.5 and 2.5 mm
