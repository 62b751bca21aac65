"""Errors a service function raises on purpose; each names the HTTP status it stands for.

They derive from `SotmeasureError`, so the CLI prints them as one line and the app's one
error handler (sotmeasure.app) answers them as JSON (API) or an HTML page (web).
"""

from __future__ import annotations

from sotmeasure.errors import SotmeasureError


class ServiceError(SotmeasureError):
    """A request the rules refuse; `status_code` is the HTTP answer for it."""

    status_code: int = 422


class NotFoundError(ServiceError):
    """No such row, or not in the user's clinic (the two are never told apart)."""

    status_code = 404

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class ConflictError(ServiceError):
    """The request conflicts with the stored state (duplicate, wrong status)."""

    status_code = 409


class InvalidInputError(ServiceError):
    """The input is well-formed but not acceptable (a clinic that does not exist, ...)."""

    status_code = 422
