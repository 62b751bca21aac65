"""Assisted landmarks page: the measurement's representative frame at full resolution, where
the practitioner places (or corrects) the two heel and the two PSIS points; the result is
recomputed by `services.assisted` and shown beside the automatic one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sotmeasure.errors import SotmeasureError
from sotmeasure.report.wording import person_name, short_side_words
from sotmeasure.services import assisted
from sotmeasure.services.access import get_measurement
from sotmeasure.services.errors import ServiceError
from sotmeasure.services.measurements import stored_result
from sotmeasure.store.models import AssistedLandmarks, Status, User
from sotmeasure.web.report_frames import plain_frame_png, representative_index
from sotmeasure.web.session import require_page_user, same_origin
from sotmeasure.web.state import Ctx, Web
from sotmeasure.web.views import ci_text, phase_view, signed

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])


def _user(request: Request, ctx: Ctx) -> User:
    return require_page_user(ctx, request)


PageUser = Annotated[User, Depends(_user)]


def assisted_view(a: AssistedLandmarks | None) -> dict[str, Any] | None:
    """The newest placement as the page prints it (None when there is none)."""
    if a is None:
        return None
    who = a.placed_by
    return {
        "id": a.id,
        "lld": signed(a.lld_mm, "mm"),
        "lld_ci": ci_text((a.lld_ci95_low_mm, a.lld_ci95_high_mm), "mm"),
        "short_side": short_side_words(a.short_side, (a.lld_ci95_low_mm, a.lld_ci95_high_mm)),
        "tilt": signed(a.pelvic_tilt_deg, "deg"),
        "tilt_ci": ci_text((a.pelvic_tilt_ci95_low_deg, a.pelvic_tilt_ci95_high_deg), "deg"),
        "by": person_name(who.full_name, who.email) if who else "a deleted user",
        "at": f"{a.placed_at:%Y-%m-%d %H:%M} UTC",
        "points": a.points_px,
        "click_u_px": (a.details or {}).get("click_u_px"),
        "frame_index": a.frame_index,
    }


@router.get("/measurements/{measurement_id}/landmarks", response_class=HTMLResponse)
def landmarks_page(
    measurement_id: int, request: Request, ctx: Ctx, web: Web, user: PageUser
) -> HTMLResponse:
    with ctx.sessions() as session:
        row = get_measurement(session, user, measurement_id)
        if row.status != Status.DONE.value:
            raise HTTPException(409, detail="the measurement is not finished")
        result = stored_result(row)
        latest = assisted.latest_assisted(session, row.id)
        start: dict[str, Any] = {}
        auto = dict(result.window_points_px or {})
        if latest is not None:
            start = dict(latest.points_px)
        else:
            start = {n: auto[n] for n in ("heel_left", "heel_right") if n in auto}
            if (result.mode or "markerless") == "stickers":  # sticker hips are the PSIS
                start |= {
                    p: auto[h]
                    for p, h in (("psis_left", "hip_left"), ("psis_right", "hip_right"))
                    if h in auto
                }
        return web.templates.TemplateResponse(
            request,
            "landmarks.html",
            {
                "user": user,
                "visit": row.visit,
                "patient": row.visit.patient,
                "m": phase_view(row),
                "frame_index": representative_index(result),
                "auto_points": {k: list(v) for k, v in auto.items()},
                "start_points": {k: list(v) for k, v in start.items()},
                "assisted": assisted_view(latest),
                "names": assisted.ASSISTED_NAMES,
            },
        )


@router.get("/measurements/{measurement_id}/plain-frame.png")
def plain_frame(measurement_id: int, ctx: Ctx, user: PageUser) -> Response:
    with ctx.sessions() as session:
        row = get_measurement(session, user, measurement_id)
        if row.status != Status.DONE.value:
            raise HTTPException(409, detail="the measurement is not finished")
        try:
            png, _index = plain_frame_png(ctx, row)
        except SotmeasureError as exc:
            raise HTTPException(404, detail=str(exc)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/measurements/{measurement_id}/landmarks")
async def place_landmarks(
    measurement_id: int, request: Request, ctx: Ctx, user: PageUser
) -> JSONResponse:
    """Store the clicked points (JSON body as the API's) and answer the recomputed result."""
    try:
        body = assisted.AssistedInput.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return JSONResponse({"detail": str(exc).splitlines()[0]}, status_code=422)

    def _place() -> dict[str, Any] | None:
        with ctx.sessions() as session:
            row = assisted.place_landmarks(ctx, session, user, measurement_id, body)
            return assisted_view(row)

    try:
        view = await run_in_threadpool(_place)
    except ServiceError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)
    return JSONResponse(view, status_code=201)
