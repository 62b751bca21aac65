"""User-facing errors become HTTP answers with a one-line `detail` (never a traceback).

Failures of the server itself (the database busy past its timeout or unreachable, the data
disk full or not writable, an unexpected exception) are answered with the same JSON shape
plus a stable `code` (`server_failure`), never with a plain-text 500: a client can tell
"try again" (503, with Retry-After) from "an operator must act" (507, 500).
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

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


@dataclass(frozen=True, slots=True)
class ServerFailure:
    """How the API answers one kind of failure of its own (not of the request)."""

    status: int
    code: str
    detail: str
    retry_after_s: int | None = None

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after_s)} if self.retry_after_s else None
        return JSONResponse(
            {"detail": self.detail, "code": self.code}, status_code=self.status, headers=headers
        )


#: The exception classes `server_failure` answers (Exception last: anything unexpected).
SERVER_FAILURE_CLASSES: tuple[type[Exception], ...] = (
    DBAPIError,
    PoolTimeoutError,
    OSError,
    Exception,
)

DATABASE_BUSY = ServerFailure(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "database_busy",
    "the database is busy with other writes: nothing was changed; try again in a few seconds",
    retry_after_s=5,
)
DATABASE_UNAVAILABLE = ServerFailure(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "database_unavailable",
    "the database cannot be reached: nothing was changed; try again later",
    retry_after_s=30,
)
STORAGE_FULL = ServerFailure(
    status.HTTP_507_INSUFFICIENT_STORAGE,
    "storage_full",
    "the data disk is full: nothing was stored; an administrator must free space",
)
STORAGE_UNWRITABLE = ServerFailure(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "storage_unwritable",
    "the data folder cannot be written: nothing was stored; an administrator must check it",
)
STORAGE_ERROR = ServerFailure(
    status.HTTP_500_INTERNAL_SERVER_ERROR,
    "storage_error",
    "the data folder could not be read or written: nothing was stored; see the server log",
)
INTERNAL_ERROR = ServerFailure(
    status.HTTP_500_INTERNAL_SERVER_ERROR,
    "internal_error",
    "internal error: the request failed; see the server log",
)

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def server_failure(exc: BaseException) -> ServerFailure:
    """The answer to a failure of the server's own database, disk or code."""
    if isinstance(exc, PoolTimeoutError):
        return DATABASE_BUSY  # every connection of the pool stayed in use
    if isinstance(exc, DBAPIError):
        message = str(exc.orig).lower()
        if "locked" in message or "busy" in message or "lock timeout" in message:
            return DATABASE_BUSY
        if "disk is full" in message or "no space" in message:
            return STORAGE_FULL
        if "readonly" in message or "read-only" in message:
            return STORAGE_UNWRITABLE
        return DATABASE_UNAVAILABLE
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _DISK_FULL:
            return STORAGE_FULL
        if exc.errno in _NOT_WRITABLE:
            return STORAGE_UNWRITABLE
        return STORAGE_ERROR
    return INTERNAL_ERROR


def log_server_failure(failure: ServerFailure, exc: BaseException) -> None:
    """One line each (an unexpected exception is re-raised by Starlette after the answer is
    sent, so the server logs its traceback once)."""
    if failure is INTERNAL_ERROR:
        log.error("unexpected error answered with 500: %s: %s", type(exc).__name__, exc)
    else:
        log.warning("%s answered with %d: %s", failure.code, failure.status, exc)


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
