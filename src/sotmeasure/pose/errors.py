"""Errors the pose area raises on purpose (messages written for the user)."""

from __future__ import annotations

from sotmeasure.errors import SotmeasureError


class PoseError(SotmeasureError):
    """Base of the pose area's expected failures."""


class PoseModelError(PoseError):
    """The pose model file is missing, unreadable or not a PoseLandmarker bundle."""


class PoseInputError(PoseError):
    """A frame or timestamp the estimator cannot use (e.g. timestamps going backwards)."""
