"""The visit page's correction buttons: delete a measurement, dismiss a failed one,
relabel one pre <-> post.

Each is a small form (POST, so the router's same-origin check applies) that calls the
service rule the API's DELETE / PATCH call, then returns to the visit page. What the
service refuses (a running measurement, a row already deleted) is shown as the error page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from sotmeasure.services import measurements as measurement_service
from sotmeasure.services.context import AppContext
from sotmeasure.store.models import Measurement, Phase, User
from sotmeasure.web.session import require_page_user, same_origin
from sotmeasure.web.state import Ctx

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])

Correction = Callable[[Session, User], Measurement]


def _correct(ctx: AppContext, request: Request, correction: Correction) -> RedirectResponse:
    """Run one service correction as the page user; back to the visit's list."""
    user = require_page_user(ctx, request)
    with ctx.sessions() as session:
        row = correction(session, user)
        return RedirectResponse(f"/ui/visits/{row.visit_id}#measurements", status_code=303)


@router.post("/measurements/{measurement_id}/delete")
def delete(measurement_id: int, request: Request, ctx: Ctx) -> RedirectResponse:
    """Delete (soft: kept for audit with who and when, hidden everywhere else)."""
    return _correct(
        ctx,
        request,
        lambda s, u: measurement_service.delete_measurement(s, u, measurement_id),
    )


@router.post("/measurements/{measurement_id}/dismiss")
def dismiss(measurement_id: int, request: Request, ctx: Ctx) -> RedirectResponse:
    """Take a failed measurement off the list (a soft delete)."""
    return _correct(
        ctx, request, lambda s, u: measurement_service.dismiss_failed(s, u, measurement_id)
    )


@router.post("/measurements/{measurement_id}/phase")
def relabel(
    measurement_id: int, request: Request, ctx: Ctx, phase: Annotated[Phase, Form()]
) -> RedirectResponse:
    """Relabel as pre or post (who and when recorded; the measured phase kept)."""
    return _correct(
        ctx,
        request,
        lambda s, u: measurement_service.relabel_measurement(s, u, measurement_id, phase),
    )
