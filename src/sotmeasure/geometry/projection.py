"""Pixel <-> table mm with a calibrated camera: undistort, then cut the ray with z = h.

Pure functions on numpy arrays, vectorised over N points, so that a whole window of
landmarks maps in one call.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Iterative undistortion: OpenCV's default (5 iterations) leaves ~0.1 px at the corners
# of a strongly distorted lens (k1 = -0.28); 50 iterations to 1e-10 cost nothing here.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)


def as_points(points: npt.ArrayLike, dims: int, what: str) -> FloatArray:
    """`points` as a float (N, dims) array; a single point (dims,) becomes (1, dims)."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == dims:
        arr = arr.reshape(1, dims)
    if arr.ndim != 2 or arr.shape[1] != dims:
        raise ValueError(f"{what} must have shape (N, {dims}), got {arr.shape}")
    return arr


def heights(z_mm: float | npt.ArrayLike, n: int) -> FloatArray:
    """A plane height per point: a scalar is broadcast, an array must have N values."""
    z = np.asarray(z_mm, dtype=np.float64)
    if z.ndim == 0:
        return np.full(n, float(z))
    z = z.ravel()
    if z.shape[0] != n:
        raise ValueError(
            f"z_mm must be a number or have one value per point ({n}), got {z.shape[0]}"
        )
    return z


def normalised_rays(
    points_px: FloatArray, matrix: FloatArray, distortion: FloatArray
) -> FloatArray:
    """Undistorted normalised image coordinates (x, y) with z = 1 in the camera frame."""
    if points_px.shape[0] == 0:
        return np.zeros((0, 2))
    und = cv2.undistortPoints(
        points_px.reshape(-1, 1, 2), matrix, distortion, None, None, None, _UNDISTORT_CRITERIA
    )
    return np.asarray(und, dtype=np.float64).reshape(-1, 2)


def pixels_to_plane(
    points_px: FloatArray,
    z_mm: FloatArray,
    matrix: FloatArray,
    distortion: FloatArray,
    rotation: FloatArray,
    translation: FloatArray,
) -> FloatArray:
    """Table points (N, 3) where each pixel's ray meets the plane z = z_mm[i].

    `rotation`/`translation` map table to camera (X_cam = R X + t). Rays parallel to the
    plane or meeting it behind the camera give NaN rows, not numbers.
    """
    xy = normalised_rays(points_px, matrix, distortion)
    rays_cam = np.column_stack([xy, np.ones(len(xy))])
    rays = rays_cam @ rotation  # each row: R^T d
    centre = -rotation.T @ translation
    dz = rays[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (z_mm - centre[2]) / dz
    bad = ~np.isfinite(s) | (s <= 0) | (np.abs(dz) < 1e-12)
    out = centre[None, :] + s[:, None] * rays
    out[:, 2] = z_mm  # exact by construction; avoids round-off in z
    out[bad] = np.nan
    return out


def plane_to_pixels(
    points_mm: FloatArray,
    matrix: FloatArray,
    distortion: FloatArray,
    rvec: FloatArray,
    translation: FloatArray,
) -> FloatArray:
    """Pixels (N, 2) of table points through the distorted camera (for overlays)."""
    if points_mm.shape[0] == 0:
        return np.zeros((0, 2))
    px, _ = cv2.projectPoints(points_mm.reshape(-1, 1, 3), rvec, translation, matrix, distortion)
    return np.asarray(px, dtype=np.float64).reshape(-1, 2)


def apply_homography(h: FloatArray, points: FloatArray) -> FloatArray:
    """Apply a 3x3 homography to (N, 2) points."""
    if points.shape[0] == 0:
        return np.zeros((0, 2))
    homog = np.column_stack([points, np.ones(len(points))]) @ h.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return homog[:, :2] / homog[:, 2:3]
