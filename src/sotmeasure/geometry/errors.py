"""Named geometry errors: every one is a problem the user can fix (print, place, calibrate).

They derive from `SotmeasureError`, so the CLI prints the message as one line and the
API turns it into a 4xx with the same text.
"""

from sotmeasure.errors import SotmeasureError


class GeometryError(SotmeasureError):
    """Base class of every error raised by sotmeasure.geometry."""


class LayoutError(GeometryError):
    """A target layout (or ChArUco board) file is missing, malformed or geometrically impossible."""


class ProfileError(GeometryError):
    """A camera profile is missing, malformed, or made at another resolution or aspect ratio."""


class MarkersNotFoundError(GeometryError):
    """None (or too few) of the layout's markers were found in the images."""


class CameraMovedError(GeometryError):
    """The target's markers moved in the image during a window: the camera was not still."""


class CalibrationViewsError(GeometryError):
    """The calibration video does not hold enough sharp, varied views of the board."""
