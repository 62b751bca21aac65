"""User-facing errors become HTTP answers with a one-line `detail` (never a traceback)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.measure_adapter import ProcessingUnavailableError
from sotmeasure.services.errors import ServiceError
from sotmeasure.store.media_checks import UnsupportedMediaError
from sotmeasure.store.recording_files import UploadTooLargeError

log = logging.getLogger(__name__)


def status_for(exc: SotmeasureError) -> int:
    """The HTTP status of a user-facing error (422 unless the error says otherwise)."""
    if isinstance(exc, ServiceError):
        return exc.status_code
    if isinstance(exc, UploadTooLargeError):
        return status.HTTP_413_CONTENT_TOO_LARGE
    if isinstance(exc, UnsupportedMediaError):
        return status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    if isinstance(exc, ProcessingUnavailableError):
        return status.HTTP_503_SERVICE_UNAVAILABLE
    return status.HTTP_422_UNPROCESSABLE_CONTENT


def error_response(exc: SotmeasureError) -> JSONResponse:
    """The API's answer to a user-facing error: its one sentence, with its status."""
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SotmeasureError)
    async def _sotmeasure_error(_request: Request, exc: SotmeasureError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's default 422 echoes every bad field's `input`, which may be a password or
        a patient's name: the answer keeps where and why (`loc`, `msg`, `type`), not the value."""
        errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
        return JSONResponse(
            {"detail": jsonable_encoder(errors)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        """An id or number beyond 64 bits reached the database driver (SQLite refuses it)."""
        log.info("number out of range answered with 422: %s", exc)
        return JSONResponse(
            {"detail": "a number in the request is out of range (ids are 64-bit integers)"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error answered with 409: %s", exc.orig)
        return JSONResponse(
            {"detail": "this conflicts with data already stored (a duplicate or a missing link)"},
            status_code=status.HTTP_409_CONFLICT,
        )
