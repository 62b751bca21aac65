"""The camera's exposure and white balance, read off the table markers' white and black squares.

A printed ArUco marker is a known photometric target: its white cells are the paper, its black
cells the ink, both lit like the table and seen by the same camera. Their 8-bit levels per
channel (measured by geometry/photometry.py) tell how bright the camera renders a white
surface (exposure) and how unequal its channels are on a grey one (white balance). Taking an
image's linear light between the marker black (0) and the marker white (1), per channel,
makes colours comparable across exposure, light colour and a veil of stray light: a sticker
has the same colour "relative to the marker white" in a dim room, by a bright window and
under tungsten light, which is what sticker detection and the sticker colour setting use
(pose/stickers.py).

The catch is clipping. Over-exposed, the marker white reads 255 in a channel, which only says
"at least this bright". The black cells then take over: ink reflects a fixed share of what
paper does, so white = black / (ink share), the share taken from the channels that did not
clip or, when all three clipped, from `INK_SHARE` (typical printed black on white paper). A
reference from a white that clipped is therefore an estimate, and says so (`clipped`).
The same ink share would be wrong if the black were all veil rather than ink; the estimate
only has to put colours within the sticker test's tolerances, which it does at +1 EV
(tests/processing/test_sticker_colours.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Gamma of the 8-bit encoding (a 2.2 power law, close to sRGB and to what cameras write).
GAMMA = 2.2
#: A pixel's 8-bit level at or above this may be clipped: a lower bound, not a value.
#: Not 255: video compression rings a clipped area down to 240-254 (the +1 EV sticker clip's
#: blue stickers read 242-255 in blue, and as exact values they lost their blue).
CLIP_LEVEL = 240.0
#: The marker white (a median over many cells) at or above this is taken as clipped: video
#: compression leaves a clipped white at 248-253, not 255, and a white this close to the top
#: is estimated from the black as well (the larger estimate is kept).
WHITE_CLIP_LEVEL = 248.0
#: Black ink's reflectance as a share of the paper's, when no channel shows both unclipped
#: (laser or inkjet black on office paper: 3-6 %; the rendered fixtures: 3.8 %).
INK_SHARE = 0.04


def to_linear(levels: npt.ArrayLike) -> FloatArray:
    """8-bit gamma-encoded levels -> linear light, 0..1."""
    return (np.asarray(levels, dtype=np.float64) / 255.0) ** GAMMA


def to_levels(linear: npt.ArrayLike) -> FloatArray:
    """Linear light (1 = full scale) -> 8-bit levels (not rounded, clipped to 0..255)."""
    return 255.0 * np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0) ** (1.0 / GAMMA)


@dataclass(frozen=True, slots=True)
class Photometry:
    """White and black levels of the camera (8-bit, BGR), and the linear white they imply.

    `white_linear` is the linear light of the marker white per channel (BGR): with the black's,
    the span that puts an image's colours relative to the marker (`relative`). `clipped` says
    which channels of the white were at the top of the range (estimated from the black cells
    as well). `measured`
    is False for the stand-in used when no marker reference exists (white = full scale).
    """

    white_bgr: tuple[float, float, float]
    black_bgr: tuple[float, float, float]
    white_linear: tuple[float, float, float]
    clipped: tuple[bool, bool, bool]
    squares: int = 0  # marker cells measured (white + black), over all frames
    frames: int = 0
    measured: bool = True

    @classmethod
    def full_scale(cls) -> Photometry:
        """No reference: colours are taken relative to an 8-bit white of 255 in every channel."""
        return cls((255.0,) * 3, (0.0,) * 3, (1.0,) * 3, (False,) * 3, measured=False)

    @classmethod
    def from_levels(
        cls,
        white_bgr: npt.ArrayLike,
        black_bgr: npt.ArrayLike,
        *,
        squares: int = 0,
        frames: int = 0,
    ) -> Photometry:
        """The reference from measured white and black levels, clipped channels estimated."""
        white = np.asarray(white_bgr, dtype=np.float64).reshape(3)
        black = np.asarray(black_bgr, dtype=np.float64).reshape(3)
        clipped = white >= WHITE_CLIP_LEVEL
        w_lin, b_lin = to_linear(white), to_linear(black)
        if clipped.any():
            ok = ~clipped & (b_lin > 0)
            share = float(np.median(b_lin[ok] / w_lin[ok])) if ok.any() else INK_SHARE
            # never below what the clipped channel read: it was at least that bright
            w_lin = np.where(clipped, np.maximum(w_lin, b_lin / max(share, 1e-3)), w_lin)
        return cls(
            (float(white[0]), float(white[1]), float(white[2])),
            (float(black[0]), float(black[1]), float(black[2])),
            (float(w_lin[0]), float(w_lin[1]), float(w_lin[2])),
            (bool(clipped[0]), bool(clipped[1]), bool(clipped[2])),
            squares,
            frames,
        )

    def exposure_ev(self) -> float:
        """Stops the marker white lies below full scale (negative: brighter than full scale,
        which only a clipped, estimated white can be): 0 = white exactly at 255."""
        return float(-np.log2(max(float(np.mean(self.white_linear)), 1e-9)))

    def white_balance(self) -> tuple[float, float]:
        """The white's red and blue over its green, in linear light (1, 1 = neutral)."""
        b, g, r = self.white_linear
        return r / g, b / g

    def to_dict(self) -> dict[str, Any]:
        """For the result's provenance: levels, the exposure and white balance they imply."""
        red, blue = self.white_balance()
        return {
            "source": "table markers' white and black squares"
            if self.measured
            else "none (colours taken relative to full scale)",
            "white_rgb": [round(v, 1) for v in reversed(self.white_bgr)],
            "black_rgb": [round(v, 1) for v in reversed(self.black_bgr)],
            "white_clipped_rgb": list(reversed(self.clipped)),
            "exposure_ev_below_full_scale": round(self.exposure_ev(), 2),
            "white_balance_red_blue_over_green": [round(red, 3), round(blue, 3)],
            "squares": self.squares,
            "frames": self.frames,
        }

    def relative(self, image_bgr: npt.ArrayLike) -> FloatArray:
        """Colours (..., 3) BGR 8-bit -> linear light relative to the marker white, the
        marker black taken as zero (0 = ink, 1 = paper; below the ink: 0).

        Taking the black as zero removes a veil: a washed-out image (flare, a webcam's
        raised black, contrast turned down) adds light to every pixel, which pales every
        colour toward grey; what remains above the ink is the colour itself."""
        black = to_linear(self.black_bgr)
        span = np.maximum(np.asarray(self.white_linear) - black, 1e-6)
        return np.maximum(to_linear(image_bgr) - black, 0.0) / span
