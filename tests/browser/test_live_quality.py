"""The live preview's quality words and overlay on the rendered fixture clips.

Runs the pose model on a few dozen single frames (not whole clips), like the preview does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sotmeasure.capture.frame import Frame
from sotmeasure.capture.open import open_source
from sotmeasure.settings import Settings
from sotmeasure.web import live_reading as words
from sotmeasure.web.live_analysis import LiveAnalyser, LiveSetup
from sotmeasure.web.live_reading import LiveReading
from sotmeasure.web.overlay import HEEL_COLOUR, HIP_COLOUR, draw_live

SESSIONS = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"
ON_PAD = SESSIONS.parent / "sessions_v2" / "feet_on_pad_rotated_foot"
HANDS_AT_HIPS = SESSIONS.parent / "sessions_v2" / "thighs_touching_practitioner_at_hips"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> LiveSetup:
    """The bundled demo setup (layout, camera, plane heights), as a fresh install uses it."""
    return LiveSetup.from_settings(Settings(data_dir=tmp_path_factory.mktemp("live")))


def _readings(setup: LiveSetup, clip: str | Path, every: int) -> Iterator[tuple[int, LiveReading]]:
    with LiveAnalyser(setup) as analyser, open_source(SESSIONS / clip / "video.mp4") as src:
        for frame in src:
            if frame.index % every == 0:
                yield frame.index, analyser.analyse(frame)


def test_no_person_in_view_says_whole_body(setup: LiveSetup) -> None:
    _index, reading = next(_readings(setup, "tight_framing", 1))
    assert reading.quality == words.WHOLE_BODY
    assert reading.lld_mm is None and not reading.points_px


def test_no_table_markers_says_markers_not_found(setup: LiveSetup) -> None:
    image = np.full((360, 640, 3), 90, np.uint8)  # an empty grey view: no target in it
    with LiveAnalyser(setup) as analyser:
        reading = analyser.analyse(Frame(image=image, index=0, t_s=0.0))
    assert reading.quality == words.MARKERS_NOT_FOUND
    assert "target not found" in reading.detail


def test_a_rolling_patient_reads_hold_still_then_steady(setup: LiveSetup) -> None:
    """hard_roll: still until 1.2 s, rolls ~12 deg until 2.6 s, then lies still again."""
    seen = dict(_readings(setup, "hard_roll", 6))
    before = [seen[i].quality for i in seen if i <= 30]
    during = [seen[i].quality for i in seen if 42 <= i <= 78]
    after = [seen[i].quality for i in seen if i >= 96]
    assert set(before) == {words.OK_WORD}
    assert during.count(words.HOLD_STILL) >= 3
    assert set(after) == {words.OK_WORD}


def test_feet_resting_on_the_table_read_feet_must_hang(setup: LiveSetup) -> None:
    """Before: "heels not visible", detail "the foot's outline runs on past the heel
    (something touches the foot)"; the heels lie ~200 mm short of the table's end."""
    seen = [r for _i, r in _readings(setup, ON_PAD, 10)]
    assert not any(r.ready for r in seen)
    later = seen[3:]  # a few rejected frames agree first
    assert [r.quality for r in later] == [words.FEET_ON_TABLE] * len(later)
    before = float(later[0].detail.split("the heels lay about ")[1].split(" mm")[0])
    assert 150.0 <= before <= 300.0, later[0].detail
    assert "rest on the table" in later[0].detail


def test_a_hand_on_the_pelvis_reads_hips_not_visible_saying_why(setup: LiveSetup) -> None:
    """A practitioner's hands on the pelvis: before, the preview read "steady: ready to
    measure" while the model placed a hip under a hand (pose/patient_choice.py)."""
    seen = [r for _i, r in _readings(setup, HANDS_AT_HIPS, 15)]
    covered = [r for r in seen if "a hand lies on the pelvis" in r.detail]
    assert len(covered) >= len(seen) - 1, [r.detail for r in seen]
    assert {r.quality for r in covered} == {words.HIPS_NOT_VISIBLE}
    assert not any(r.ready for r in covered)


def test_overlay_draws_heels_and_hips_where_they_are(setup: LiveSetup) -> None:
    """The overlay puts amber discs on the heels and blue ones on the hips, and the live
    numbers of a still patient are near the clip's truth (pre_block: LLD +6.0 mm)."""
    readings = [r for _i, r in _readings(setup, "pre_block", 10)]
    last = readings[-1]
    assert last.ready and last.lld_mm is not None
    assert abs(last.lld_mm - 6.0) < 4.0  # single-frame medians: a guide, not the measurement
    with open_source(SESSIONS / "pre_block" / "video.mp4") as src:
        image = next(iter(src)).image
    out = draw_live(image, last, 640, "demo source")
    scale = 640 / image.shape[1]
    band = out.shape[0] - round(image.shape[0] * scale)
    top = round(44 * 640 / 900)
    assert 0 < top < band  # caption bands above and below: nothing of the picture is covered
    for name, colour in (("heel_left", HEEL_COLOUR), ("hip_right", HIP_COLOUR)):
        x, y = last.points_px[name]
        pixel = out[top + round(y * scale), round(x * scale)]
        assert np.abs(pixel.astype(int) - np.array(colour)).max() < 40, name
