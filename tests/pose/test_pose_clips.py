"""The pipeline on the rendered prone clips: refined heels beat raw landmarks, sides are
right, stickers are sub-pixel, a pelvis-to-feet framing is refused with a clear reason."""

from __future__ import annotations

import numpy as np
import pytest
from pose_clip_data import ClipRun

from sotmeasure.pose import quality
from sotmeasure.pose.types import Landmark

REFINED_CLIPS = ("pre_block", "post_block", "rotated_body", "stickers", "hard_roll")
STILL = {"hard_roll": (1.1, 2.7)}  # rolling interval (s) excluded: motion blur, not a test case


def _still(run: ClipRun) -> list:
    lo, hi = STILL.get(run.clip, (np.inf, -np.inf))
    return [r for r in run.results if not lo <= r.t_s <= hi]


#: Issue 11: a frame whose heel outline the image does not confirm is rejected, not
#: measured; on the clean still clips that may cost a few frames, never most of them.
MIN_LOCATED_SHARE = 0.85


def _heel_errors(run: ClipRun) -> tuple[np.ndarray, np.ndarray]:
    raw, ref = [], []
    still = _still(run)
    located = [r for r in still if r.points is not None and r.landmarks is not None]
    rejected = [r.rejection for r in still if r.points is None]
    assert len(located) >= MIN_LOCATED_SHARE * len(still), (run.clip, rejected[:3])
    for r in located:
        assert r.points is not None and r.landmarks is not None
        truth = run.truth["frames"][r.index]["points_px"]
        for side, lm, pt in (
            ("L", Landmark.LEFT_HEEL, r.points.heel_left_px),
            ("R", Landmark.RIGHT_HEEL, r.points.heel_right_px),
        ):
            t = np.array(truth[f"heel_{side}"])
            raw.append(np.hypot(*(r.landmarks.px(lm) - t)))
            ref.append(np.hypot(*(pt - t)))
    return np.array(raw), np.array(ref)


@pytest.mark.slow
@pytest.mark.parametrize("clip", REFINED_CLIPS)
def test_refined_heels_are_closer_to_the_true_heel_than_raw_landmarks(
    markerless_runs: dict[str, ClipRun], clip: str
) -> None:
    raw, ref = _heel_errors(markerless_runs[clip])
    print(f"{clip}: heel error median raw {np.median(raw):.2f} px, refined {np.median(ref):.2f} px")
    assert np.median(ref) < np.median(raw)
    # and good enough to matter: a few px at 0.55-0.85 px/mm is a few mm
    assert np.median(ref) <= 3.0


@pytest.mark.slow
@pytest.mark.parametrize("clip", REFINED_CLIPS)
def test_heels_report_edge_refinement_on_overhead_clips(
    markerless_runs: dict[str, ClipRun], clip: str
) -> None:
    statuses = [
        s for r in _still(markerless_runs[clip]) if r.points for s in r.points.heel_status.values()
    ]
    assert statuses.count("refined-edge") >= 0.9 * len(statuses)


@pytest.mark.slow
def test_oblique_view_from_the_feet_keeps_raw_heels_and_says_why(
    markerless_runs: dict[str, ClipRun],
) -> None:
    run = markerless_runs["oblique_distorted"]
    for r in run.results:
        assert r.points is not None, r.rejection
        for status in r.points.heel_status.values():
            assert status.startswith("raw-landmark (oblique view")


@pytest.mark.slow
@pytest.mark.parametrize("clip", [*REFINED_CLIPS, "oblique_distorted"])
def test_left_and_right_are_the_patients_sides(
    markerless_runs: dict[str, ClipRun], clip: str
) -> None:
    run = markerless_runs[clip]
    for r in run.results:
        assert r.points is not None
        t = run.truth["frames"][r.index]["points_px"]
        for name, left, right in (
            ("heel", r.points.heel_left_px, r.points.heel_right_px),
            ("hip", r.points.hip_left_px, r.points.hip_right_px),
        ):
            tl, tr = np.array(t[f"{name}_L"]), np.array(t[f"{name}_R"])
            assert np.hypot(*(left - tl)) < np.hypot(*(left - tr)), (clip, r.index, name)
            assert np.hypot(*(right - tr)) < np.hypot(*(right - tl)), (clip, r.index, name)


@pytest.mark.slow
def test_tight_framing_gives_the_no_person_reason_in_every_frame(
    markerless_runs: dict[str, ClipRun],
) -> None:
    results = markerless_runs["tight_framing"].results
    assert len(results) >= 50
    assert all(r.points is None for r in results)
    assert {r.rejection for r in results} == {quality.REJECT_NO_PERSON}
    assert "head and shoulders" in quality.REJECT_NO_PERSON.text


@pytest.mark.slow
def test_sticker_centres_are_within_one_pixel_of_truth(sticker_run: ClipRun) -> None:
    errs = []
    for r in sticker_run.results:
        assert r.points is not None, r.rejection
        assert r.points.heel_status == {"left": "sticker", "right": "sticker"}
        t = sticker_run.truth["frames"][r.index]["points_px"]
        for name, got in (
            ("heel_sticker_L", r.points.heel_left_px),
            ("heel_sticker_R", r.points.heel_right_px),
            ("psis_sticker_L", r.points.hip_left_px),
            ("psis_sticker_R", r.points.hip_right_px),
        ):
            errs.append(np.hypot(*(got - np.array(t[name]))))
    errs_a = np.array(errs)
    print(f"sticker centre error median {np.median(errs_a):.2f} px, max {errs_a.max():.2f} px")
    assert errs_a.max() < 1.0


@pytest.mark.slow
def test_sticker_mode_runs_without_the_pose_model(sticker_run: ClipRun) -> None:
    assert all(r.landmarks is None for r in sticker_run.results)
