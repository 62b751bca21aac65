"""hard_roll's still first second: the refined heels are as good as on the other clips.

Before the outermost-edge rule, the LEFT heel there stopped at its shaded rim's inner side
(~2-3 px, ~4 mm short) while the right one did not: a +5 mm heel-only LLD error. The
along-axis error (the only direction the heel line uses) is judged per side, since a bias
shared by both heels cancels in the LLD but a one-sided one does not.
"""

from __future__ import annotations

import numpy as np
import pytest
from pose_clip_data import ClipRun

from sotmeasure.pose.types import Landmark

ROLL_STARTS_S = 1.1  # hard_roll rolls from 1.2 s (PROVENANCE.md); keep a margin
REFERENCE_CLIPS = ("pre_block", "post_block", "rotated_body", "stickers")
SLACK_PX = 0.5  # allowed beyond the worst reference clip


def _along_errors(run: ClipRun, t_max_s: float = np.inf) -> dict[str, np.ndarray]:
    """Signed along-caudal errors (px) of refined and raw heels, per side, vs truth."""
    out: dict[str, list[float]] = {"L": [], "R": [], "raw_L": [], "raw_R": []}
    for r in run.results:
        if r.t_s > t_max_s:
            continue
        assert r.points is not None and r.landmarks is not None, (run.clip, r.index, r.rejection)
        truth = run.truth["frames"][r.index]["points_px"]
        for side, lm, pt in (
            ("L", Landmark.LEFT_HEEL, r.points.heel_left_px),
            ("R", Landmark.RIGHT_HEEL, r.points.heel_right_px),
        ):
            t = np.array(truth[f"heel_{side}"])
            out[side].append(float((pt - t) @ run.caudal))
            out[f"raw_{side}"].append(float((r.landmarks.px(lm) - t) @ run.caudal))
    return {k: np.array(v) for k, v in out.items()}


def _worst_reference(runs: dict[str, ClipRun]) -> tuple[float, float]:
    """Worst per-side |median along error| and worst |L - R| median gap over the references."""
    worst_err, worst_gap = 0.0, 0.0
    for clip in REFERENCE_CLIPS:
        e = _along_errors(runs[clip])
        ml, mr = float(np.median(e["L"])), float(np.median(e["R"]))
        print(f"{clip}: along-axis refined heel error median L {ml:+.2f} px, R {mr:+.2f} px")
        worst_err = max(worst_err, abs(ml), abs(mr))
        worst_gap = max(worst_gap, abs(ml - mr))
    return worst_err, worst_gap


@pytest.mark.slow
def test_still_hard_roll_heels_are_as_good_as_on_the_other_clips(
    markerless_runs: dict[str, ClipRun],
) -> None:
    worst_err, worst_gap = _worst_reference(markerless_runs)
    e = _along_errors(markerless_runs["hard_roll"], ROLL_STARTS_S)
    assert e["L"].size >= 10
    ml, mr = float(np.median(e["L"])), float(np.median(e["R"]))
    print(
        f"hard_roll still: refined L {ml:+.2f} px, R {mr:+.2f} px (raw L "
        f"{np.median(e['raw_L']):+.2f}, R {np.median(e['raw_R']):+.2f})"
    )
    for side, m in (("L", ml), ("R", mr)):
        assert abs(m) <= worst_err + SLACK_PX, (side, m, worst_err)
        # better than the model's own landmark, by a margin
        assert np.median(np.abs(e[side])) < np.median(np.abs(e[f"raw_{side}"])) - 1.0, side
    # what the LLD sees: a one-sided error
    assert abs(ml - mr) <= worst_gap + SLACK_PX, (ml, mr, worst_gap)
