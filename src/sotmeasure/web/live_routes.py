"""The live preview: an MJPEG stream with the overlay, and a small JSON status to poll.

MJPEG (multipart/x-mixed-replace) because every browser shows it in a plain <img> with no
script. A stream ends when the server is asked to stop (see `shutdown`), and in any case
after `_STREAM_MAX_S` (the page reconnects): a never-ending response would hold up an
orderly shutdown under a server whose signals we do not see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sotmeasure.errors import SotmeasureError
from sotmeasure.services.access import clinic_scope
from sotmeasure.store.models import Phase
from sotmeasure.web.live import CAMERA_TAKEN, LiveCamera, LiveCameraTakenError
from sotmeasure.web.live_setup import live_setup_for_visit
from sotmeasure.web.overlay import draw_live, encode_jpeg, message_card
from sotmeasure.web.session import require_page_user
from sotmeasure.web.sources import resolve_live_spec
from sotmeasure.web.state import Ctx, Web, WebState

router = APIRouter(prefix="/ui/live", include_in_schema=False)

BOUNDARY = "frame"
_STREAM_MAX_S = 240.0


def _part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


def _render(camera: LiveCamera, width: int, note: str) -> tuple[bytes | None, int | None]:
    frame, reading, error = camera.snapshot()
    if frame is None:
        if error is not None:
            return encode_jpeg(message_card(f"camera error: {error}", width, width * 9 // 16)), None
        return None, None
    if camera.analysis_paused:
        note = f"{note} | live analysis paused while measuring"
    return encode_jpeg(draw_live(frame.image, reading, width, note)), frame.index


async def _frames(camera: LiveCamera, web: WebState, note: str) -> AsyncIterator[bytes]:
    period = 1.0 / web.web.preview_fps
    width = web.web.preview_width_px
    started = time.monotonic()
    last: int | None = None
    with camera.held():
        if camera.snapshot()[0] is None:  # a reconnect to a running camera shows no card
            yield _part(encode_jpeg(message_card("starting the camera...", width, width * 9 // 16)))
        while time.monotonic() - started < _STREAM_MAX_S and not web.closing.is_set():
            tick = time.monotonic()
            frame = await run_in_threadpool(camera.wait_frame, last, 1.0)
            if frame is None:
                _f, _r, error = camera.snapshot()
                if error is not None:
                    jpeg, _ = await run_in_threadpool(_render, camera, width, note)
                    if jpeg is not None:
                        yield _part(jpeg)
                    return
                if camera.stopped:  # replaced by another source (the demo's other phase)
                    return
                continue
            jpeg, last = await run_in_threadpool(_render, camera, width, note)
            if jpeg is not None:
                yield _part(jpeg)
            await asyncio.sleep(max(0.0, period - (time.monotonic() - tick)))


@router.get("/stream.mjpg")
def stream(
    request: Request, ctx: Ctx, web: Web, phase: Phase = Phase.PRE, visit: int | None = None
) -> StreamingResponse:
    """The preview of the clinic that started the camera; 403 for another clinic's user.
    With `visit`, the live numbers use that visit's setup version (else the installation's)."""
    user = require_page_user(ctx, request)
    clinic = clinic_scope(user)
    setup = live_setup_for_visit(ctx, web.hub, user, visit)
    try:
        spec = resolve_live_spec(ctx.settings.camera_source, phase)
    except SotmeasureError as exc:
        width = web.web.preview_width_px
        card = _part(encode_jpeg(message_card(str(exc), width, width * 9 // 16)))

        async def once() -> AsyncIterator[bytes]:
            yield card

        return StreamingResponse(
            once(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        )
    try:
        camera = web.hub.camera(spec, clinic, setup)
    except LiveCameraTakenError as exc:
        raise HTTPException(403, str(exc)) from None
    return StreamingResponse(
        _frames(camera, web, f"{spec.label} | {camera.setup_label}"),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/status.json")
def status(
    request: Request, ctx: Ctx, web: Web, phase: Phase = Phase.PRE, visit: int | None = None
) -> JSONResponse:
    """Source, whether it runs, its error, the setup its numbers use, and the latest quality
    word and live numbers. With `visit`: the numbers only when they use that visit's setup
    (`visit_setup` names it; a reading of another visit's setup is not shown)."""
    user = require_page_user(ctx, request)
    clinic = clinic_scope(user)
    wanted = live_setup_for_visit(ctx, web.hub, user, visit)
    body: dict[str, object] = {"phase": phase, "capture_active": web.captures.any_active()}
    if wanted is not None:
        body["visit_setup"] = wanted.label
    try:
        spec = resolve_live_spec(ctx.settings.camera_source, phase)
    except SotmeasureError as exc:
        body.update(source=None, running=False, error=str(exc), reading=None)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
    camera = web.hub.current()
    body["source"] = spec.label
    body["demo"] = spec.is_demo
    if camera is not None and camera.busy and not camera.watchable_by(clinic):
        body.update(running=False, error=CAMERA_TAKEN, reading=None, in_use_by_other_clinic=True)
    elif camera is None or camera.spec != spec or not camera.watchable_by(clinic):
        body.update(running=False, error=None, reading=None)
    else:
        _frame, reading, error = camera.snapshot()
        other_setup = wanted is not None and wanted.key != camera.setup_key
        body.update(
            running=camera.running,
            error=error,
            setup=camera.setup_label,
            reading=None if reading is None or other_setup else reading.to_dict(),
            analysis_paused=camera.analysis_paused,
        )
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
