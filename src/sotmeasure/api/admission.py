"""At most N requests inside the app at once; the rest wait their turn, holding nothing.

Why: a request holds a database connection from its first query until its session closes,
and between those it may wait for a thread of the pool that runs the sync handlers. With
more requests in flight than pooled connections, every thread can end up waiting for a
connection that a request queued behind them holds: nothing moves until the pool's timeout
fails requests (the 503s seen at 200 concurrent clients). Admitting at most N requests,
N below the pool's size, means a thread always finds a connection; requests beyond N wait
here, in the event loop, without a thread or a connection, so overload becomes waiting.
Endless streams (the live camera's MJPEG) are not counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send


class AdmissionMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_in_flight: int, exempt_suffixes: Collection[str] = ()
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.exempt_suffixes = tuple(exempt_suffixes)
        self._slots: asyncio.Semaphore | None = None  # made inside the server's event loop
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(self.exempt_suffixes):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:  # one per loop (tests run several)
            self._slots, self._loop = asyncio.Semaphore(self.max_in_flight), loop
        async with self._slots:
            await self.app(scope, receive, send)
