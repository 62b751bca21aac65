"""The person mask is cut where it bridges the floor beyond a heel (pose/foot_mask.py).

Synthetic scenes: a foot (a bar ending in a round heel, caudal = +x) on a floor, with the
model's mask drawn as the model drew it on pre_block + a second person at the feet: running
on over the floor into the other person's shoe, or bleeding over the floor onto a grout
line. The heel must be found on its own outline, and the mask left alone where colour
cannot tell the foot from the floor.
"""

from __future__ import annotations

import numpy as np

from sotmeasure.pose.foot_mask import foot_only_mask
from sotmeasure.pose.heel_refine import STATUS_EDGE, MaskPatch, refine_heel

SIZE = 240
HEEL_X = 130.0  # the heel's caudal extremity (px)
CENTRE_Y = 120.0
RADIUS = 26.0  # the heel's half-width (px)
ANKLE = np.array([HEEL_X - 55.0, CENTRE_Y])  # foot scale s = 55 px
HEEL_LANDMARK = np.array([HEEL_X + 8.0, CENTRE_Y])  # the model's landmark, beyond the heel
FLOOR = (135, 150, 153)
SKIN = (130, 171, 224)
SHOE = (170, 90, 220)
GROUT = (110, 120, 125)


def _foot_region() -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    bar = (xx <= HEEL_X - RADIUS) & (np.abs(yy - CENTRE_Y) <= RADIUS)
    cap = np.hypot(xx - (HEEL_X - RADIUS), yy - CENTRE_Y) <= RADIUS
    return bar | cap


def _scene(extra: str) -> tuple[np.ndarray, np.ndarray]:
    """Image and the model's mask: `shoe` = another person's shoe 40 px (0.73 foot scales;
    0.75-1.0 seen on the bench's person at the feet) beyond the heel with the mask bridging
    to it; `grout` = a grout line 10 px beyond with the mask bleeding
    over it."""
    image = np.empty((SIZE, SIZE, 3), np.uint8)
    image[:] = FLOOR
    foot = _foot_region()
    image[foot] = SKIN
    mask = foot.astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    if extra == "shoe":
        shoe = (xx >= HEEL_X + 40) & (xx <= HEEL_X + 80) & (np.abs(yy - CENTRE_Y + 10) <= 18)
        image[shoe] = SHOE
        bridge = (xx >= HEEL_X - 5) & (xx <= HEEL_X + 45) & (np.abs(yy - CENTRE_Y + 5) <= 12)
        mask[shoe | bridge] = 1.0
    elif extra == "grout":
        line = (xx >= HEEL_X + 10) & (xx <= HEEL_X + 12)
        image[line] = GROUT
        bleed = np.hypot(xx - (HEEL_X - RADIUS), yy - CENTRE_Y) <= RADIUS + 14
        mask[bleed & (xx > HEEL_X - RADIUS)] = 1.0
    return image, mask


def _heel(image: np.ndarray, mask: np.ndarray, cut: bool) -> tuple[np.ndarray, str]:
    patch = MaskPatch(mask)
    if cut:
        patch = foot_only_mask(image, patch, HEEL_LANDMARK, ANKLE, np.array([1.0, 0.0]))
    res = refine_heel(image, HEEL_LANDMARK, ANKLE, (1.0, 0.0), patch)
    return res.point_px, res.status


def test_heel_is_found_on_its_own_outline_when_the_mask_runs_into_a_shoe() -> None:
    image, mask = _scene("shoe")
    point, status = _heel(image, mask, cut=True)
    assert status == STATUS_EDGE
    assert abs(point[0] - HEEL_X) <= 1.0, point


def test_without_the_cut_the_heel_is_not_found_on_its_outline() -> None:
    """The scene reproduces the failure: the uncut mask leads the search off the heel."""
    image, mask = _scene("shoe")
    point, status = _heel(image, mask, cut=False)
    assert status != STATUS_EDGE or abs(point[0] - HEEL_X) > 5.0, (point, status)


def test_mask_over_a_line_just_beyond_the_heel_is_left_to_the_edge_search() -> None:
    """A line 10 px (0.18 foot scales) beyond the heel that the mask bled onto is no object
    the mask reached over the floor: no cut (cutting such near parts let the search take a
    soft dark band's edge 5-10 mm beyond a heel: bench/robustness.py, rotated_body)."""
    image, mask = _scene("grout")
    patch = MaskPatch(mask)
    assert foot_only_mask(image, patch, HEEL_LANDMARK, ANKLE, np.array([1.0, 0.0])) is patch


def test_a_mask_that_hugs_the_foot_is_returned_as_it_is() -> None:
    image, mask = _scene("none")
    patch = MaskPatch(mask)
    assert foot_only_mask(image, patch, HEEL_LANDMARK, ANKLE, np.array([1.0, 0.0])) is patch


def test_mask_is_left_alone_where_colour_cannot_tell_foot_from_floor() -> None:
    """A foot of the floor's own colour (a grey sock on grey tiles): no cut, whatever the
    mask does; the edge search and its checks decide as before."""
    image, mask = _scene("shoe")
    image[_foot_region()] = (140, 152, 150)  # 7 units from the floor
    patch = MaskPatch(mask)
    assert foot_only_mask(image, patch, HEEL_LANDMARK, ANKLE, np.array([1.0, 0.0])) is patch


def test_the_cut_keeps_the_whole_foot_and_its_rim() -> None:
    """Nothing of the foot itself is removed: every foot pixel keeps its mask value."""
    image, mask = _scene("shoe")
    cut = foot_only_mask(image, MaskPatch(mask), HEEL_LANDMARK, ANKLE, np.array([1.0, 0.0])).values
    foot = _foot_region()
    assert np.all(cut[foot] == 1.0)
    _yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    assert np.all(cut[(xx >= HEEL_X + 40)] == 0.0)  # the shoe is no longer the foot's
