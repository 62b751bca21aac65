"""sotmeasure: prone heel-line (leg length difference) and pelvic tilt from a camera.

The measurement contract lives in docs/MEASUREMENT.md; every module follows it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sotmeasure")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
