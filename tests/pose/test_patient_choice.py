"""The patient is the person lying on the table (issue 11): choice and plausibility, in mm.

Poses are built in table millimetres and seen through a simple overhead mapping (2 mm per
pixel), so each case states its geometry in the units the rules use.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from sotmeasure.pose.patient_choice import (
    TableOutline,
    choose_patient,
)
from sotmeasure.pose.quality import Rejection, RejectionKind
from sotmeasure.pose.types import Landmark, PoseLandmarks

MM_PER_PX = 2.0
TABLE = TableOutline(2000.0, 700.0)
FloatArray = npt.NDArray[np.float64]


def _to_table(px: FloatArray, _z: float) -> FloatArray:
    return np.column_stack([px * MM_PER_PX, np.zeros(len(px))])


def _person(joints_mm: dict[Landmark, tuple[float, float]]) -> PoseLandmarks:
    pts = np.full((33, 2), 100.0)
    for lm, (x, y) in joints_mm.items():
        pts[lm] = (x / MM_PER_PX, y / MM_PER_PX)
    return PoseLandmarks(
        points_px=pts,
        visibility=np.ones(33),
        in_frame=np.ones(33, dtype=bool),
        image_size=(1600, 1000),
    )


def _prone(dx: float = 0.0, dy: float = 0.0, swap: bool = False) -> PoseLandmarks:
    """A prone adult: hips at x = 1100 mm, heels at 2040 mm (feet over the end)."""
    left_y, right_y = (450.0, 250.0) if swap else (250.0, 450.0)
    joints = {}
    for (hip, knee, ankle, heel), y in (
        ((Landmark.LEFT_HIP, Landmark.LEFT_KNEE, Landmark.LEFT_ANKLE, Landmark.LEFT_HEEL), left_y),
        (
            (Landmark.RIGHT_HIP, Landmark.RIGHT_KNEE, Landmark.RIGHT_ANKLE, Landmark.RIGHT_HEEL),
            right_y,
        ),
    ):
        joints[hip] = (1100.0 + dx, y + dy)
        joints[knee] = (1530.0 + dx, y + dy)
        joints[ankle] = (1950.0 + dx, y + dy)
        joints[heel] = (2040.0 + dx, y + dy)
    return _person(joints)


def _standing_at_feet() -> PoseLandmarks:
    """A practitioner standing beyond the foot end, seen from above: everything bunched."""
    joints = {}
    for lm, (x, y) in {
        Landmark.LEFT_HIP: (2350.0, 260.0),
        Landmark.RIGHT_HIP: (2350.0, 440.0),
        Landmark.LEFT_KNEE: (2380.0, 270.0),
        Landmark.RIGHT_KNEE: (2380.0, 430.0),
        Landmark.LEFT_ANKLE: (2400.0, 280.0),
        Landmark.RIGHT_ANKLE: (2400.0, 420.0),
        Landmark.LEFT_HEEL: (2390.0, 280.0),
        Landmark.RIGHT_HEEL: (2390.0, 420.0),
    }.items():
        joints[lm] = (x, y)
    return _person(joints)


def test_the_patient_is_chosen_when_alone() -> None:
    choice = choose_patient([_prone()], _to_table, TABLE)
    assert (choice.index, choice.rejection) == (0, None)


def test_a_practitioner_at_the_feet_is_never_the_patient_even_when_listed_first() -> None:
    choice = choose_patient([_standing_at_feet(), _prone()], _to_table, TABLE)
    assert choice.index == 1


def test_a_person_off_the_table_alone_is_refused() -> None:
    choice = choose_patient([_standing_at_feet()], _to_table, TABLE)
    assert choice.index is None
    assert choice.rejection == Rejection(RejectionKind.NO_PATIENT_ON_TABLE)


def test_a_body_lying_beside_the_table_is_not_the_patient() -> None:
    choice = choose_patient([_prone(dy=900.0)], _to_table, TABLE)
    assert choice.rejection == Rejection(RejectionKind.NO_PATIENT_ON_TABLE)


def test_two_bodies_on_the_table_are_refused_as_ambiguous() -> None:
    choice = choose_patient([_prone(), _prone(dy=150.0, dx=-200.0)], _to_table, TABLE)
    assert choice.rejection == Rejection(RejectionKind.TWO_ON_TABLE)


def test_one_body_reported_twice_is_one_patient() -> None:
    choice = choose_patient([_prone(), _prone(dx=10.0)], _to_table, TABLE)
    assert choice.index == 0


@pytest.mark.parametrize(
    ("pose", "words"),
    [
        (_prone(swap=True), "swapped"),
    ],
)
def test_a_pose_that_is_not_a_prone_body_is_rejected_with_its_reason(
    pose: PoseLandmarks, words: str
) -> None:
    choice = choose_patient([pose], _to_table, TABLE)
    assert choice.index is None
    assert choice.rejection is not None
    assert choice.rejection.kind is RejectionKind.IMPLAUSIBLE
    assert words in choice.rejection.text


def test_a_heel_snapped_onto_the_knee_is_implausible() -> None:
    pose = _prone()
    pts = pose.points_px.copy()
    pts[Landmark.LEFT_HEEL] = pts[Landmark.LEFT_KNEE] + (50.0 / MM_PER_PX, 0.0)
    bad = PoseLandmarks(pts, pose.visibility, pose.in_frame, pose.image_size)
    choice = choose_patient([bad], _to_table, TABLE)
    assert choice.rejection is not None and "left heel" in choice.rejection.text


def test_without_a_table_outline_the_body_tests_still_choose() -> None:
    choice = choose_patient([_standing_at_feet(), _prone()], _to_table, None)
    assert choice.index == 1


def _with_wrists(
    pose: PoseLandmarks, left: tuple[float, float], right: tuple[float, float]
) -> PoseLandmarks:
    """`pose` with its wrists moved to these table mm."""
    pts = pose.points_px.copy()
    pts[Landmark.LEFT_WRIST] = np.array(left) / MM_PER_PX
    pts[Landmark.RIGHT_WRIST] = np.array(right) / MM_PER_PX
    return PoseLandmarks(pts, pose.visibility, pose.in_frame, pose.image_size)


# `_prone` has its hip joints at y = 250 and 450 mm, x = 1100 mm; its mid-line at y = 350.
ARMS_ALONG_THE_SIDES = ((1120.0, 250.0 - 110.0), (1090.0, 450.0 + 110.0))


def test_wrists_beside_the_body_leave_the_patient_measurable() -> None:
    choice = choose_patient([_with_wrists(_prone(), *ARMS_ALONG_THE_SIDES)], _to_table, TABLE)
    assert (choice.index, choice.rejection) == (0, None)


@pytest.mark.parametrize(
    "left_wrist",
    [
        (1050.0, 300.0),  # on the buttock, 50 mm medial of the hip joint
        (1100.0, 250.0 - 40.0),  # 40 mm beyond the hip joint: on the hip, not beside it
        (950.0, 350.0),  # on the sacrum, 150 mm cranial of the hip line
    ],
)
def test_a_hand_on_the_pelvis_rejects_the_frame_without_a_search_for_someone_else(
    left_wrist: tuple[float, float],
) -> None:
    pose = _with_wrists(_prone(), left_wrist, ARMS_ALONG_THE_SIDES[1])
    choice = choose_patient([pose], _to_table, TABLE)
    assert choice.index is None
    assert choice.rejection == Rejection(RejectionKind.HAND_ON_PELVIS)
    assert "hand lies on the pelvis" in choice.rejection.text
    # The tracked person is the patient: asking the crowd model again would find the same.
    assert not choice.worth_asking_everyone


@pytest.mark.parametrize(
    "left_wrist",
    [
        (600.0, 330.0),  # under the head: 500 mm cranial of the hips
        (1400.0, 350.0),  # between the thighs, 300 mm caudal of the hip line
    ],
)
def test_a_hand_far_from_the_hip_line_is_not_on_the_pelvis(
    left_wrist: tuple[float, float],
) -> None:
    pose = _with_wrists(_prone(), left_wrist, ARMS_ALONG_THE_SIDES[1])
    assert choose_patient([pose], _to_table, TABLE).index == 0


def test_nobody_on_the_table_is_worth_a_search_of_the_whole_image() -> None:
    choice = choose_patient([_standing_at_feet()], _to_table, TABLE)
    assert choice.worth_asking_everyone
