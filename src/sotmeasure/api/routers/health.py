"""GET /health: is the service up, can it reach its database, can it measure? (no auth)"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from sotmeasure import __version__
from sotmeasure.api.deps import Ctx
from sotmeasure.api.schemas import HealthOut
from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.measure_adapter import processing_available, resolve_setup
from sotmeasure.store.models import Measurement, Status

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(ctx: Ctx, response: Response) -> HealthOut:
    """Liveness and readiness: 200 when the database answers, 503 otherwise."""
    try:
        with ctx.sessions() as session:
            pending = session.scalar(
                select(func.count()).where(Measurement.status == Status.PENDING.value)
            )
        database = "ok"
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", exc)
        response.status_code = 503
        return HealthOut(
            status="degraded",
            version=__version__,
            database="unreachable",
            processing_available=processing_available(),
        )
    try:
        setup: dict[str, Any] | str = resolve_setup(ctx.settings).describe()
    except SotmeasureError as exc:
        setup = str(exc)
    return HealthOut(
        status="ok",
        version=__version__,
        database=database,
        processing_available=processing_available(),
        pending_measurements=int(pending or 0),
        measurement_setup=setup,
    )
