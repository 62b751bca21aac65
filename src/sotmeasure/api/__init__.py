"""sotmeasure.api: the JSON API's routers (see docs/api.md); assembled by sotmeasure.app."""

from sotmeasure.api.routes import include_api

__all__ = ["include_api"]
