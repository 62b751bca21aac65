"""The result in plain words (report/wording.py, issue 17 item 4): the short side only when
the LLD's CI excludes zero, the change said as a bigger or smaller difference with its CI,
verdicts that name only what was measured, the markerless tilt caveat, the person's name."""

from __future__ import annotations

import pytest

from sotmeasure.measure.compare import REAL_CHANGE, WITHIN_NOISE
from sotmeasure.report.wording import (
    change_words,
    person_name,
    short_side_words,
    tilt_caveat,
    verdict_words,
)


@pytest.mark.parametrize(
    ("side", "ci", "expected"),
    [
        ("left", (-2.2, 4.3), "not determined"),  # issue 17 row 6
        ("left", (3.1, 8.9), "left"),
        ("right", (-7.0, -0.4), "right"),
        ("right", (-3.0, 0.0), "not determined"),
        ("none", (0.1, 0.6), "none"),
        (None, None, "-"),
    ],
)
def test_short_side_is_not_determined_when_the_ci_includes_zero(
    side: str | None, ci: tuple[float, float] | None, expected: str
) -> None:
    assert short_side_words(side, ci) == expected


def test_a_smaller_difference_is_said_with_the_ci_of_that_amount() -> None:
    # pre +5.6 mm, post +1.0 mm: change -4.6 mm, CI -7.1 to -2.1 mm
    words = change_words("lld", 5.6, 1.0, (-7.1, -2.1))
    assert words == "The difference between the legs got smaller by 4.6 mm (95% CI 2.1 to 7.1 mm)."


def test_a_bigger_difference_on_the_negative_side() -> None:
    # pre -2.0, post -5.0: the difference (right side short) grew by 3.0 mm
    words = change_words("lld", -2.0, -5.0, (-4.5, -1.5))
    assert words == "The difference between the legs got bigger by 3.0 mm (95% CI 1.5 to 4.5 mm)."


def test_a_ci_across_zero_is_kept_honest() -> None:
    words = change_words("lld", 3.0, 2.0, (-3.5, 1.5))
    assert words == (
        "The difference between the legs got smaller by 1.0 mm (95% CI -1.5 to 3.5 mm)."
    )


def test_a_change_of_side_is_said_as_such() -> None:
    words = change_words("lld", 3.0, -2.0, (-7.0, -3.0))
    assert words.startswith("The difference between the legs changed sides: from +3.0 mm to -2.0")
    assert "change -5.0 mm" in words


def test_tilt_change_words_use_degrees() -> None:
    assert change_words("tilt", 1.0, 1.8, (0.1, 1.5)) == (
        "The pelvic tilt got bigger by 0.8 deg (95% CI 0.1 to 1.5 deg)."
    )


def test_verdicts_name_only_what_was_measured() -> None:
    real = verdict_words("lld", REAL_CHANGE)
    noise = verdict_words("tilt", WITHIN_NOISE)
    assert real == (
        "The measured leg length difference changed by more than the measurement's noise."
    )
    assert noise == "The measured pelvic tilt changed within the measurement's noise."
    for text in (real, noise):
        for claim in ("treatment", "worked", "improv", "correct", "real change", "effective"):
            assert claim not in text.lower()


def test_the_tilt_caveat_belongs_to_markerless_only() -> None:
    caveat = tilt_caveat("markerless")
    assert caveat is not None and "not the PSIS" in caveat
    assert tilt_caveat(None) == caveat  # an old row without a mode is treated as markerless
    assert tilt_caveat("stickers") is None


def test_a_person_is_named_by_name_and_by_e_mail_only_without_one() -> None:
    assert person_name("Dr Ada Example", "ada@clinic.example") == "Dr Ada Example"
    assert person_name("  ", "ada@clinic.example") == "ada@clinic.example"
    assert person_name(None, "ada@clinic.example") == "ada@clinic.example"
