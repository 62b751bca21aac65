"""When a recording's heels are not measured at all, though some frames passed the heel checks.

The frame-level heel checks (pose/heel_refine.py, the pipeline's two-heel check) judge one
image at a time, but what makes them fail is usually the scene, and the scene is the same in
every frame of a still recording: a towel edge beyond a heel, a hand holding a foot. Frames
that pass the checks in such a scene are marginal passes of the same problem, so the whole
recording's heels are refused when

- a third or more of the frames showing the patient failed a heel check (any cause), or
- a straight edge was found running across a heel in at least `STRAIGHT_EDGE_SHARE` of them
  (and in `STRAIGHT_EDGE_MIN_FRAMES` frames). A line lies there, within the edge search's
  reach of the heel; where the check did not fire, the search may have taken that line.
  Seen (docs/robustness.md, dark bands 5-10 mm beyond a heel on rotated_body): with 17-33 of
  120 frames rejected for it, the rest gave a heel 6-7 px (~11 mm) beyond the truth marked
  "refined-edge" and the LLD was 11 mm off with a CI missing the truth. On the 88 measured
  runs of bench/robustness.py the check fired in at most 2 of 120 frames.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sotmeasure.measure.errors import MeasurementError
from sotmeasure.pose.heel_refine import RAW_STRAIGHT_EDGE
from sotmeasure.pose.quality import Rejection
from sotmeasure.processing.frame_step import FrameMeasurement

#: Heel failures (any cause) in at least this share of the patient's frames: refused.
MAX_HEEL_FAILURE_SHARE = 1.0 / 3.0
#: A straight edge across a heel in at least this share (and this many) of those frames.
STRAIGHT_EDGE_SHARE = 0.05
STRAIGHT_EDGE_MIN_FRAMES = 3
_MAX_HEEL_CAUSES = 3

_ADVICE = (
    "check that nothing and nobody (another person's hands) touches or covers the feet, that "
    "no edge (a towel, a line on the floor) lies just beyond the heels, and that the heels are "
    "sharp and well lit"
)


def is_heel_failure(track: FrameMeasurement) -> bool:
    """The frame's image did not confirm a heel (not: the heel was out of view)."""
    return track.rejection is not None and track.rejection.kind.is_heel_failure


def unreliable_heels(tracks: Sequence[FrameMeasurement]) -> MeasurementError | None:
    """The refusal of a recording whose heels the scene makes unmeasurable, else None."""
    seen = [t for t in tracks if t.px is not None or is_heel_failure(t)]
    if not seen:
        return None
    failed = Counter(t.rejection.text for t in seen if t.rejection and is_heel_failure(t))
    straight = sum(
        1 for t in seen if t.rejection is not None and t.rejection.detail == RAW_STRAIGHT_EDGE
    )
    if straight >= max(STRAIGHT_EDGE_MIN_FRAMES, STRAIGHT_EDGE_SHARE * len(seen)):
        return MeasurementError(
            f"the heels cannot be measured in this recording: in {straight} of {len(seen)} "
            f"frames showing the patient {RAW_STRAIGHT_EDGE.removesuffix('?)')}), so the "
            "heel found in the other frames may be that edge too; move the towel or cover "
            f"the line, then record again; {_ADVICE}"
        )
    total = sum(failed.values())
    if total < MAX_HEEL_FAILURE_SHARE * len(seen):
        return None
    # Every cause that took a tenth of the failures: one foot's outline may run into a
    # person while the other's edge is faint, and the user needs both to fix the scene.
    causes = [(r, n) for r, n in failed.most_common(_MAX_HEEL_CAUSES) if n >= 0.1 * total]
    because = ", ".join(f"{n} because {r}" for r, n in causes)
    return MeasurementError(
        f"the heels cannot be measured in this recording: {total} of {len(seen)} frames "
        f"showing the patient were rejected ({because}); {_ADVICE}"
    )


def larger_other_rejection(tracks: Sequence[FrameMeasurement]) -> tuple[Rejection, int] | None:
    """The most common rejection other than a heel failure and its frame count, if it took
    more frames than the heel failures did: then the heels are not the recording's main
    problem, and a heel refusal must say so first.

    Seen (held-out clip rand9859_03, a practitioner's hands on the pelvis): 78 of 120 frames
    rejected for the hand, 18 for a heel outline, and the refusal spoke only of the heels.
    """
    heel_failures = sum(is_heel_failure(t) for t in tracks)
    others = [t.rejection for t in tracks if t.rejection is not None and not is_heel_failure(t)]
    if not others:
        return None
    text, count = Counter(r.text for r in others).most_common(1)[0]
    if count <= heel_failures:
        return None
    return next(r for r in others if r.text == text), count
