"""Image quality where the measurement looks: exposure, contrast, sharpness and noise.

Measured per frame in small squares around the heel and hip points (never the whole frame:
a bright wall or a dark floor says nothing about the heels) and summarised over the window.
Each figure is relative or in physical units so that one threshold means the same for every
camera: exposure as the share of clipped pixels, contrast as (p95 - p5) / (p95 + p5) of the
grey levels, sharpness as the 10-90 % width of the strongest edge in millimetres, noise as
the robust standard deviation of the fine grain in grey levels.

Thresholds are stated with every figure in the result, and a refusal whose points could not be
found names the figure that failed ("image too blurred at the heels"), not a motion that did
not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Half-size of the square sampled around each point, in mm at the point's plane.
ROI_HALF_MM = 30.0


@dataclass(frozen=True, slots=True)
class QualityLimits:
    """Where each figure stops being good enough (physical or relative, camera-independent).

    - clipped share: more than 5 % of the pixels at 0 or 255 hides edges in saturation;
    - contrast: below 0.08 a heel against its background is a few grey levels apart;
    - edge width: a sharp outline spreads over 1-2 px (2-3 mm at the heel); above 6 mm the
      heel's edge is blurred by more than the 3 mm a measurement must resolve;
    - noise: above 8 grey levels (1 SD) the grain is as strong as a weak edge.
    """

    max_clipped_share: float = 0.05
    min_contrast: float = 0.08
    max_edge_width_mm: float = 6.0
    max_noise_grey: float = 8.0

    def to_dict(self) -> dict[str, float]:
        return {
            "max_clipped_share": self.max_clipped_share,
            "min_contrast": self.min_contrast,
            "max_edge_width_mm": self.max_edge_width_mm,
            "max_noise_grey": self.max_noise_grey,
        }


@dataclass(frozen=True, slots=True)
class RegionQuality:
    """The four figures of one region (heels or hips) in one frame or a window's median."""

    clipped_share: float
    contrast: float
    edge_width_mm: float
    noise_grey: float

    def problems(self, limits: QualityLimits, where: str, sharp_edges: bool) -> list[str]:
        """What is wrong with this region, in words a user acts on (empty when fine).

        `sharp_edges`: the region holds an outline that should be sharp (a heel against the
        background). Around the hip joint centres there is only soft shading and cloth, so
        their edge width says nothing about focus and is reported, not judged.
        """
        out = []
        if self.clipped_share > limits.max_clipped_share:
            out.append(
                f"image over- or under-exposed at the {where} "
                f"({self.clipped_share:.0%} of pixels clipped, at most "
                f"{limits.max_clipped_share:.0%})"
            )
        if self.contrast < limits.min_contrast:
            out.append(
                f"too little contrast at the {where} ({self.contrast:.2f}, needs at least "
                f"{limits.min_contrast:.2f})"
            )
        if sharp_edges and self.edge_width_mm > limits.max_edge_width_mm:
            out.append(
                f"image too blurred at the {where} (edges {self.edge_width_mm:.1f} mm wide, "
                f"at most {limits.max_edge_width_mm:.0f} mm)"
            )
        if self.noise_grey > limits.max_noise_grey:
            out.append(
                f"image too noisy at the {where} (grain {self.noise_grey:.1f} grey levels, "
                f"at most {limits.max_noise_grey:.0f})"
            )
        return out

    def to_dict(self) -> dict[str, float]:
        return {
            "clipped_share": round(self.clipped_share, 4),
            "contrast": round(self.contrast, 3),
            "edge_width_mm": round(self.edge_width_mm, 2),
            "noise_grey": round(self.noise_grey, 2),
        }


def _grey_square(
    image_bgr: npt.NDArray[np.uint8], centre: FloatArray, half_px: int
) -> npt.NDArray[np.uint8]:
    """The grey levels of a square around `centre` (cropped first: cheap on 1080p)."""
    h, w = image_bgr.shape[:2]
    x, y = round(float(centre[0])), round(float(centre[1]))
    box = image_bgr[
        max(0, y - half_px) : min(h, y + half_px + 1), max(0, x - half_px) : min(w, x + half_px + 1)
    ]
    if box.size == 0:
        return np.zeros((0, 0), np.uint8)
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(box), cv2.COLOR_BGR2GRAY), np.uint8)


def region_quality(
    image_bgr: npt.NDArray[np.uint8], points_px: FloatArray, mm_per_px: float
) -> RegionQuality | None:
    """The figures over squares of +/-ROI_HALF_MM around `points_px` (None if off-image)."""
    half = max(4, round(ROI_HALF_MM / max(mm_per_px, 1e-6)))
    patches = [_grey_square(image_bgr, p, half) for p in points_px]
    patches = [p for p in patches if p.shape[0] >= 8 and p.shape[1] >= 8]
    if not patches:
        return None
    values = np.concatenate([p.ravel() for p in patches]).astype(np.float64)
    clipped = float(np.mean((values <= 2) | (values >= 253)))
    p5, p95 = np.percentile(values, [5, 95])
    contrast = float((p95 - p5) / max(p95 + p5, 1.0))
    widths, noises = [], []
    for p in patches:
        f = p.astype(np.float32)
        gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        peak = float(np.max(np.hypot(gx, gy)))
        lo, hi = np.percentile(f, [5, 95])
        # An ideal step of height (hi - lo) blurred to a 10-90 % width W has a peak slope of
        # about 0.8 (hi - lo) / W: W follows from the strongest slope in the square.
        widths.append(0.8 * float(hi - lo) / peak if peak > 1e-6 else np.inf)
        fine = f - cv2.GaussianBlur(f, (0, 0), 1.0)
        noises.append(1.4826 * float(np.median(np.abs(fine - np.median(fine)))))
    return RegionQuality(
        clipped_share=clipped,
        contrast=contrast,
        edge_width_mm=float(np.median(widths)) * mm_per_px,
        noise_grey=float(np.median(noises)),
    )


def median_quality(samples: list[RegionQuality]) -> RegionQuality | None:
    """The per-figure median over frames (None without samples)."""
    if not samples:
        return None
    return RegionQuality(
        clipped_share=float(np.median([s.clipped_share for s in samples])),
        contrast=float(np.median([s.contrast for s in samples])),
        edge_width_mm=float(np.median([s.edge_width_mm for s in samples])),
        noise_grey=float(np.median([s.noise_grey for s in samples])),
    )


def quality_report(
    heels: RegionQuality | None, hips: RegionQuality | None, limits: QualityLimits
) -> dict[str, Any]:
    """The result's `image_quality` block: figures, limits and what is wrong."""
    problems = [
        *(heels.problems(limits, "heels", sharp_edges=True) if heels else []),
        *(hips.problems(limits, "hips", sharp_edges=False) if hips else []),
    ]
    return {
        "heels": heels.to_dict() if heels else None,
        "hips": hips.to_dict() if hips else None,
        "limits": limits.to_dict(),
        "problems": problems,
    }
