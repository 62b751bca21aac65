"""Image quality figures (issue 11 item 4) on images whose truth is known by construction."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.processing.image_quality import QualityLimits, quality_report, region_quality

CENTRE = np.array([[100.0, 100.0]])
MM_PER_PX = 1.0


def _step(low: int = 60, high: int = 180) -> npt.NDArray[np.uint8]:
    """A heel-like vertical step edge through the centre, grey `low` | `high`."""
    img = np.full((200, 200, 3), low, np.uint8)
    img[:, 100:] = high
    return img


def test_a_sharp_step_is_narrow_and_a_blurred_one_is_wide_in_mm() -> None:
    sharp = region_quality(_step(), CENTRE, MM_PER_PX)
    blurred = region_quality(cv2.GaussianBlur(_step(), (0, 0), 3.0), CENTRE, MM_PER_PX)
    assert sharp is not None and blurred is not None
    assert sharp.edge_width_mm < 3.0
    # a Gaussian blur of sigma 3 px spreads a step's 10-90 % rise over ~2.56 sigma = 7.7 px
    assert 5.5 < blurred.edge_width_mm < 10.0
    problems = quality_report(blurred, None, QualityLimits())["problems"]
    assert any("blurred at the heels" in p for p in problems)
    assert quality_report(sharp, None, QualityLimits())["problems"] == []


def test_contrast_is_relative_so_halving_it_halves_the_figure() -> None:
    full = region_quality(_step(40, 200), CENTRE, MM_PER_PX)
    half = region_quality(_step(80, 160), CENTRE, MM_PER_PX)  # same mean, half the swing
    assert full is not None and half is not None
    assert abs(half.contrast / full.contrast - 0.5) < 0.02


def test_noise_is_measured_in_grey_levels() -> None:
    rng = np.random.default_rng(3)
    flat = np.full((200, 200, 3), 128.0)
    noisy = np.clip(flat + rng.normal(0, 10.0, (200, 200, 1)), 0, 255).astype(np.uint8)
    q = region_quality(np.repeat(noisy[:, :, :1], 3, axis=2), CENTRE, MM_PER_PX)
    assert q is not None
    # the fine grain left after a sigma-1 blur keeps most of white noise's 10 grey levels
    assert 6.0 < q.noise_grey < 11.0
    assert any("noisy" in p for p in quality_report(q, None, QualityLimits())["problems"])


def test_clipped_pixels_are_named_as_exposure() -> None:
    q = region_quality(_step(0, 255), CENTRE, MM_PER_PX)
    assert q is not None and q.clipped_share > 0.9
    assert any("exposed" in p for p in quality_report(q, None, QualityLimits())["problems"])
