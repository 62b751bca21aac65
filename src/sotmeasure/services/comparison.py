"""Pre/post comparison of a visit: post - pre of the latest finished measurements.

Why computed and not stored: it is a pure, cheap function of two stored results and the
installation's MDC95. Storing it would create a second truth that goes stale whenever a
measurement is retried, re-imported or deleted, or the MDC95 is re-measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sotmeasure.jobs.measure_adapter import compare_results
from sotmeasure.services.errors import ConflictError
from sotmeasure.services.visits import latest_done
from sotmeasure.settings import Settings
from sotmeasure.store.models import Measurement, Phase, Visit


@dataclass(frozen=True, slots=True)
class VisitComparison:
    """The two measurements compared and the `compare --json` contract of them."""

    pre: Measurement
    post: Measurement
    data: dict[str, Any]


def finished_phases(
    session: Session, visit: Visit
) -> tuple[Measurement | None, Measurement | None]:
    """The latest finished pre and post measurements of the visit (None where missing)."""
    return latest_done(session, visit.id, Phase.PRE), latest_done(session, visit.id, Phase.POST)


def compare_visit(session: Session, settings: Settings, visit: Visit) -> VisitComparison:
    """Change post - pre with its 95% CI and verdicts; ConflictError until both are done."""
    pre, post = finished_phases(session, visit)
    if pre is None or post is None:
        missing = [name for name, row in (("pre", pre), ("post", post)) if row is None]
        raise ConflictError(f"the visit has no finished {' and '.join(missing)} measurement yet")
    return VisitComparison(
        pre, post, compare_results(pre.result or {}, post.result or {}, settings)
    )
