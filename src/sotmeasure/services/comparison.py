"""Pre/post comparison of a visit: post - pre of the latest finished measurements.

Why computed and not stored: it is a pure, cheap function of two stored results and the
installation's MDC95. Storing it would create a second truth that goes stale whenever a
measurement is retried, re-imported or deleted, or the MDC95 is re-measured.

The arithmetic is `measure.compare`'s (change = post - pre, `change_half_widths`,
`verdict`), applied to the stored results' own numbers, CIs and error budgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sotmeasure.measure.compare import CHANGE_CI_METHOD, Mdc95, change_half_widths, verdict
from sotmeasure.measure.error_budget import ErrorBudget
from sotmeasure.measure.result import ResultRecord
from sotmeasure.processing.setup import installation_mdc, mdc_with_overrides
from sotmeasure.services.errors import ConflictError
from sotmeasure.services.measurements import stored_result
from sotmeasure.services.visits import latest_done
from sotmeasure.settings import Settings
from sotmeasure.store.models import Measurement, Phase, Visit

_R = 3  # decimals, as in `measure.compare.Comparison.to_dict`


def _budget(record: ResultRecord) -> ErrorBudget | None:
    """The stored error budget as the measure code's object, when the record has one."""
    if record.error_budget is None or record.error_budget.statistical is None:
        return None
    try:
        return ErrorBudget.from_dict(record.error_budget.model_dump())
    except (KeyError, TypeError, ValueError):
        return None  # an imported budget in another shape: treated as independent


@dataclass(frozen=True, slots=True)
class StoredComparison:
    """post - pre of two stored results, with CIs and verdicts (the `compare --json` shape)."""

    pre: ResultRecord
    post: ResultRecord
    mdc95: Mdc95

    @property
    def lld_change_mm(self) -> float:
        return self.post.lld_mm - self.pre.lld_mm

    def _halves(self) -> tuple[float, float]:
        return change_half_widths(
            _budget(self.pre),
            _budget(self.post),
            (self.pre.lld_half_mm, self.pre.tilt_half_deg),
            (self.post.lld_half_mm, self.post.tilt_half_deg),
        )

    @property
    def lld_change_half_mm(self) -> float:
        return self._halves()[0]

    @property
    def tilt_change_deg(self) -> float:
        return self.post.pelvic_tilt_deg - self.pre.pelvic_tilt_deg

    @property
    def tilt_change_half_deg(self) -> float:
        return self._halves()[1]

    @property
    def lld_change_ci95_mm(self) -> tuple[float, float]:
        return (
            self.lld_change_mm - self.lld_change_half_mm,
            self.lld_change_mm + self.lld_change_half_mm,
        )

    @property
    def tilt_change_ci95_deg(self) -> tuple[float, float]:
        return (
            self.tilt_change_deg - self.tilt_change_half_deg,
            self.tilt_change_deg + self.tilt_change_half_deg,
        )

    @property
    def lld_verdict(self) -> str:
        return verdict(self.lld_change_mm, self.lld_change_half_mm, self.mdc95.lld_mm)

    @property
    def tilt_verdict(self) -> str:
        return verdict(self.tilt_change_deg, self.tilt_change_half_deg, self.mdc95.pelvic_tilt_deg)

    def to_dict(self) -> dict[str, Any]:
        """The `compare --json` contract (without per-frame values)."""
        return {
            "pre": self.pre.to_dict(include_frames=False),
            "post": self.post.to_dict(include_frames=False),
            "change": {
                "lld_mm": round(self.lld_change_mm, _R),
                "lld_ci95_mm": [round(v, _R) for v in self.lld_change_ci95_mm],
                "pelvic_tilt_deg": round(self.tilt_change_deg, _R),
                "pelvic_tilt_ci95_deg": [round(v, _R) for v in self.tilt_change_ci95_deg],
                "ci_method": CHANGE_CI_METHOD,
            },
            "mdc95": self.mdc95.to_dict(),
            "verdict": {"lld": self.lld_verdict, "pelvic_tilt": self.tilt_verdict},
        }


@dataclass(frozen=True, slots=True)
class VisitComparison:
    """The two measurement rows compared and their comparison."""

    pre_row: Measurement
    post_row: Measurement
    comparison: StoredComparison


def finished_phases(
    session: Session, visit: Visit
) -> tuple[Measurement | None, Measurement | None]:
    """The latest finished pre and post measurements of the visit (None where missing)."""
    return latest_done(session, visit.id, Phase.PRE), latest_done(session, visit.id, Phase.POST)


def missing_phases(pre: Measurement | None, post: Measurement | None) -> list[Phase]:
    """The phases without a finished (not deleted) measurement: nothing is compared then."""
    return [phase for phase, row in ((Phase.PRE, pre), (Phase.POST, post)) if row is None]


def missing_sentence(missing: list[Phase]) -> str:
    """Why there is no change and no verdict (a post alone is allowed, never compared)."""
    names = " and ".join(p.value for p in missing)
    return (
        f"the visit has no finished {names} measurement: no change and no verdict are "
        "computed until both pre and post are measured"
    )


def compare_visit(session: Session, settings: Settings, visit: Visit) -> VisitComparison:
    """Change post - pre with its 95% CI and verdicts; ConflictError until both are done."""
    pre, post = finished_phases(session, visit)
    missing = missing_phases(pre, post)
    if pre is None or post is None:
        raise ConflictError(missing_sentence(missing))
    comparison = StoredComparison(
        stored_result(pre), stored_result(post), post_measurement_mdc(settings, post)
    )
    return VisitComparison(pre, post, comparison)


def post_measurement_mdc(settings: Settings, post: Measurement) -> Mdc95:
    """The MDC95 of the post measurement's setup version where it states one (a clinic's
    own repeatability), else the installation's."""
    version = post.setup_version
    if version is None or (version.mdc95_lld_mm is None and version.mdc95_tilt_deg is None):
        return installation_mdc(settings)
    return mdc_with_overrides(
        version.mdc95_lld_mm,
        version.mdc95_tilt_deg,
        f"setup '{version.setup.name}' version {version.version}",
    )
