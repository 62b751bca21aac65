"""Request body size limit, enforced while the body streams in (not after it is spooled).

Why an ASGI middleware: by the time a FastAPI handler sees an `UploadFile`, Starlette has
already spooled the whole body to disk. Counting bytes in `receive` stops a huge upload
early; a lying or missing Content-Length does not help the client either.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sotmeasure.settings import megabytes

MULTIPART_OVERHEAD_BYTES = 1 << 20  # form fields and part headers around the file


class _BodyTooLarge(Exception):  # noqa: N818 - a control-flow signal, not an error
    pass


class BodySizeLimitMiddleware:
    """Answer 413 to any request whose body exceeds `max_bytes` (+ multipart overhead)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.limit = max_bytes + MULTIPART_OVERHEAD_BYTES
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._send_413(send)
            return

        state: dict[str, Any] = {"received": 0, "exceeded": False, "started": False}

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["exceeded"] = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["exceeded"]:
                return  # the handler's answer (e.g. FastAPI's 400 "error parsing the body")
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if state["exceeded"] and not state["started"]:
            await self._send_413(send)

    async def _send_413(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"the upload is larger than the limit of {megabytes(self.max_bytes)}"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
