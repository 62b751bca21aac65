"""Frame rejections are typed (issue 12): code switches on the kind, users read the sentence."""

from __future__ import annotations

import pytest

from sotmeasure.pose import quality as q
from sotmeasure.web.live_reading import (
    HEELS_NOT_VISIBLE,
    HIPS_NOT_VISIBLE,
    STICKERS_NOT_FOUND,
    WHOLE_BODY,
    quality_word,
)


def test_a_rejection_reads_as_its_sentence_with_the_frames_detail() -> None:
    r = q.heel_not_located("refined-mask")
    assert r.kind is q.RejectionKind.HEEL_NOT_LOCATED
    assert r.text == f"heel outline not found on the image: {q.REFINED_MASK_ONLY}"
    assert str(q.REJECT_HIPS_NOT_VISIBLE) == q.RejectionKind.HIPS_NOT_VISIBLE.value


def test_raw_landmark_status_gives_its_reason_without_the_status_wrapper() -> None:
    r = q.heel_not_located("raw-landmark (outline runs on past the heel)")
    assert r.detail == "outline runs on past the heel"


def test_a_frame_found_after_following_another_person_says_so_in_its_cause() -> None:
    """The refusal's cause (its text up to the first ';') names the other person, keeping
    the kind: code still counts the frame as a heel failure."""
    r = q.after_following_another_person(q.heel_not_located("raw-landmark (runs on)"))
    assert r.kind is q.RejectionKind.HEEL_NOT_LOCATED and r.kind.is_heel_failure
    cause = r.text.split(";", 1)[0]
    assert "runs on" in cause and "another person" in cause
    assert "another person" in q.after_following_another_person(q.REJECT_HIPS_NOT_VISIBLE).text


@pytest.mark.parametrize(
    ("rejection", "word"),
    [
        (q.REJECT_NO_PERSON, WHOLE_BODY),
        (q.Rejection(q.RejectionKind.TWO_ON_TABLE), WHOLE_BODY),
        (q.REJECT_HIPS_NOT_VISIBLE, HIPS_NOT_VISIBLE),
        (q.REJECT_HEELS_HIDDEN, HEELS_NOT_VISIBLE),
        (q.REJECT_HEELS_DISAGREE, HEELS_NOT_VISIBLE),
        (q.heel_not_located("refined-mask"), HEELS_NOT_VISIBLE),
        (q.REJECT_PSIS_STICKERS, STICKERS_NOT_FOUND),
    ],
)
def test_the_live_indicator_follows_the_rejection_kind(
    rejection: q.Rejection, word: object
) -> None:
    assert quality_word(rejection) == word


def test_only_unconfirmed_heel_outlines_count_as_heel_failures() -> None:
    failures = {k for k in q.RejectionKind if k.is_heel_failure}
    assert failures == {q.RejectionKind.HEEL_NOT_LOCATED, q.RejectionKind.HEELS_DISAGREE}
