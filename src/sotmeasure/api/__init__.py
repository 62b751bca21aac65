"""sotmeasure.api: the FastAPI service (see docs/api.md and docs/DESIGN.md)."""

from sotmeasure.api.app import create_app

__all__ = ["create_app"]
