"""Heel refinement finds the silhouette, not a shaded rim's inner side.

A rendered (or real) heel's outline is a darker shaded rim. Where the rim's colour is close
to the background's, the skin-to-rim step is the strongest edge, 2-4 px short of the
silhouette: several mm. The refinement must take the outermost strong edge.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from sotmeasure.pose.heel_refine import (
    STATUS_EDGE,
    HeelRefineParams,
    _may_hold_straight_stretch,
    _straight,
    _straight_by_pairs,
    refine_heel,
)

SUPER = 8  # supersampling factor of the synthetic render (anti-aliased outline)
CENTRE = np.array([100.0, 100.0])
RADIUS_PX = 40.0
BACKGROUND_BGR = (140, 148, 152)
# hard_roll's left heel: a rim darker than the skin and close to the background, so the
# rim-to-background step is ~3/4 of the skin-to-rim one (measured on frames 0-35)
RIM_BGR = (118, 136, 164)
SKIN_BGR = (125, 152, 196)


def _heel_image(rim_px: float) -> np.ndarray:
    """A disc 'heel' (caudal = +x) with a shaded rim, rendered anti-aliased."""
    n = 200 * SUPER
    fine = (np.arange(n) + 0.5) / SUPER - 0.5  # fine pixel centres in frame pixels
    xx, yy = np.meshgrid(fine, fine)
    r = np.hypot(xx - CENTRE[0], yy - CENTRE[1])
    img = np.empty((n, n, 3), np.float32)
    img[:] = BACKGROUND_BGR
    img[r <= RADIUS_PX] = RIM_BGR
    img[r <= RADIUS_PX - rim_px] = SKIN_BGR
    small = cv2.resize(img, (200, 200), interpolation=cv2.INTER_AREA)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def _disc_mask(radius_px: float) -> np.ndarray:
    yy, xx = np.mgrid[0:200, 0:200]
    return (np.hypot(xx - CENTRE[0], yy - CENTRE[1]) <= radius_px).astype(np.float32)


@pytest.mark.parametrize("rim_px", [2.0, 3.0, 4.0])
@pytest.mark.parametrize("mask_radius", [None, 38.5, 41.5])  # no mask, mask short, mask long
def test_refined_heel_is_the_rims_outer_edge(rim_px: float, mask_radius: float | None) -> None:
    image = _heel_image(rim_px)
    mask = None if mask_radius is None else _disc_mask(mask_radius)
    res = refine_heel(image, np.array([128.0, 101.0]), np.array([80.0, 101.0]), (1.0, 0.0), mask)
    assert res.status == STATUS_EDGE
    silhouette_x = CENTRE[0] + RADIUS_PX
    assert abs(res.point_px[0] - silhouette_x) <= 0.6, (rim_px, mask_radius, res.point_px)


def test_the_strongest_edge_alone_would_stop_at_the_rims_inner_side() -> None:
    """The synthetic case reproduces the failure the outermost-edge rule fixes."""
    image = _heel_image(3.0)
    strongest = replace(HeelRefineParams(), outer_edge_fraction=1.0)
    res = refine_heel(
        image, np.array([128.0, 101.0]), np.array([80.0, 101.0]), (1.0, 0.0), params=strongest
    )
    assert res.point_px[0] < CENTRE[0] + RADIUS_PX - 1.5


def test_a_straight_edge_across_the_heel_width_is_named() -> None:
    """Only a straight edge (no round heel) in the search region: refused by name."""
    image = np.full((200, 200, 3), BACKGROUND_BGR, np.uint8)
    image[:, :141] = SKIN_BGR
    mask = np.zeros((200, 200), np.float32)
    mask[:, :141] = 1.0
    res = refine_heel(image, np.array([128.0, 101.0]), np.array([80.0, 101.0]), (1.0, 0.0), mask)
    assert res.status.startswith("raw-landmark")
    assert "straight" in res.status


# Crossings (lateral offset px, depth px) measured on sessions_v2/socks_wide_pelvis with a dark
# band 5-10 mm beyond the heels (bench/perturb.py dark_band), frame 60, 1080p, s ~ 65 px.
BAND_O = np.arange(-29.0, 22.0)
BAND_E = np.array(
    [-0.1] + [0.9] * 7 + [6.9, 6.9] + [6.6] * 18 + [6.4] * 18 + [6.1, 6.1] + [1.1] * 3
)
ROUND_O = np.arange(-19.0, 28.0)
ROUND_E = np.array(
    [-9.3, -9.3, -8.3, -7.3, -7.3, -6.3, -5.3, -3.3, -3.3, -3.3, -2.5, -2.4, -2.5, -2.5, -2.5,
     -2.5, -2.5, -1.5, -1.5, -1.5, -1.5, -1.5, -1.6, -1.5, -0.5, -1.5, -1.5, -1.5, -0.5, -0.5,
     -1.8, -2.8, -1.8, -1.8, -2.8, -3.8, -2.8, -2.8, -4.8, -4.8, -4.8, -5.8, -6.8, -6.8, -6.8,
     -8.8, -8.8]
)  # fmt: skip


def test_a_band_across_the_middle_with_the_heel_sides_beside_it_is_straight() -> None:
    """The band's 40 crossings lie on one line; the heel's sides beside it pulled a fit of
    all crossings off the band (median residual 0.7 px), and the band was taken for the heel
    (9.7 px = ~8 mm beyond it). A round heel's crossings in the same frame are not straight."""
    prm = HeelRefineParams()
    half_width = prm.line_half_width * 65.0
    assert _straight(BAND_O, BAND_E, half_width, prm)
    assert not _straight(ROUND_O, ROUND_E, prm.line_half_width * 61.5, prm)


def test_the_two_sides_of_a_round_heel_at_one_depth_are_not_a_straight_edge() -> None:
    """Both sides cross one depth, with the apex between them off that line."""
    o = np.arange(-20.0, 21.0)
    e = np.where(np.abs(o) >= 14, -6.0, -(o**2) / 40.0)  # flat sides, round apex
    assert not _straight(o, e, HeelRefineParams().line_half_width * 50.0, HeelRefineParams())


def test_the_cheap_straightness_prefilter_never_hides_a_straight_edge() -> None:
    """`_straight` asks the pair search (~1 ms a heel) only where a run of crossings lies
    within 2 x the residual of its chord; over 4 000 random outlines (round heels, bands over
    part of the width, noisy lines, quantised depths, missing lines) the prefilter never
    says "no" where the pair search says "yes", and it does say "no" to round heels."""
    prm = HeelRefineParams()
    rng = np.random.default_rng(7)
    found = 0
    for k in range(4000):
        s = rng.uniform(20, 70)
        half_width = prm.line_half_width * s
        o = np.arange(-round(half_width), round(half_width) + 1, 1.0)
        e = -(o**2) / (2 * rng.uniform(0.2, 3.0) * s)
        if k % 4 == 1:
            lo, hi = sorted(rng.uniform(-half_width, half_width, 2))
            band = rng.uniform(-2, 8) + rng.uniform(-0.1, 0.1) * o
            e = np.where((o >= lo) & (o <= hi), band, e)
        if k % 4 == 2:
            e = rng.uniform(-0.3, 0.3) * o + rng.normal(0, rng.uniform(0.05, 0.6), o.size)
        e = e + rng.normal(0, rng.uniform(0, 0.4), o.size)
        if k % 4 == 3:
            e = np.round(e * 4) / 4
        keep = rng.random(o.size) > rng.uniform(0, 0.3)
        o, e = o[keep], e[keep]
        span = prm.straight_span_fraction * 2 * half_width
        if o.size < 8 or np.ptp(o) < span:
            continue
        if _straight_by_pairs(o, e, span, prm):
            found += 1
            assert _may_hold_straight_stretch(o, e, span, prm.max_straight_residual_px), k
    assert found > 300  # the sample holds straight edges
    o = np.arange(-20.0, 21.0)
    assert not _may_hold_straight_stretch(o, -(o**2) / 40.0, 26.0, 0.5)  # a round heel
