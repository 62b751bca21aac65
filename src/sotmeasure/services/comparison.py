"""Pre/post comparison of a visit: post - pre of the latest finished measurements.

Why computed and not stored: it is a pure, cheap function of two stored results and the
installation's MDC95. Storing it would create a second truth that goes stale whenever a
measurement is retried, re-imported or deleted, or the MDC95 is re-measured.

The arithmetic is `measure.compare`'s (change = post - pre, `change_half_widths`,
`verdict`), applied to each phase's numbers (`PhaseNumbers`): the newest assisted placement's
(points the practitioner placed, with their own CI and budget) where there is one, else the
automatic result's. The automatic numbers stay stored and in the output beside them; the
comparison says which numbers it used for each phase (docs/MEASUREMENT.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from sotmeasure.measure.compare import CHANGE_CI_METHOD, Mdc95, change_half_widths, verdict
from sotmeasure.measure.error_budget import ErrorBudget
from sotmeasure.measure.result import ResultRecord
from sotmeasure.processing.setup import installation_mdc, mdc_with_overrides
from sotmeasure.services.assisted import latest_assisted
from sotmeasure.services.errors import ConflictError
from sotmeasure.services.measurements import stored_result
from sotmeasure.services.visits import latest_done
from sotmeasure.settings import Settings
from sotmeasure.store.models import AssistedLandmarks, Measurement, Phase, Visit

_R = 3  # decimals, as in `measure.compare.Comparison.to_dict`


def _budget(record: ResultRecord) -> ErrorBudget | None:
    """The stored error budget as the measure code's object, when the record has one."""
    if record.error_budget is None or record.error_budget.statistical is None:
        return None
    try:
        return ErrorBudget.from_dict(record.error_budget.model_dump())
    except (KeyError, TypeError, ValueError):
        return None  # an imported budget in another shape: treated as independent


class NumbersSource(StrEnum):
    """Which numbers of a measurement a comparison used."""

    AUTOMATIC = "automatic"
    ASSISTED = "assisted"


@dataclass(frozen=True, slots=True)
class PhaseNumbers:
    """The numbers of one phase that enter the change: LLD and tilt with their 95% CI
    half-widths and budget, and where they come from (the assisted placement's id, who
    placed the points and when)."""

    source: NumbersSource
    lld_mm: float
    lld_half_mm: float
    pelvic_tilt_deg: float
    tilt_half_deg: float
    budget: ErrorBudget | None
    assisted_id: int | None = None
    placed_by_id: int | None = None
    placed_by: str | None = None  # the user's name, else e-mail, when the user still exists
    placed_at: datetime | None = None

    @classmethod
    def automatic(cls, record: ResultRecord) -> PhaseNumbers:
        return cls(
            NumbersSource.AUTOMATIC,
            record.lld_mm,
            record.lld_half_mm,
            record.pelvic_tilt_deg,
            record.tilt_half_deg,
            _budget(record),
        )

    @classmethod
    def assisted(cls, placed: AssistedLandmarks) -> PhaseNumbers:
        """A placement's numbers; its budget (calibration, planes, heel height, click) is
        stored with it, so the shared components cancel against the other phase's."""
        try:
            budget: ErrorBudget | None = ErrorBudget.from_dict(
                (placed.details or {})["error_budget"]
            )
        except (KeyError, TypeError, ValueError):
            budget = None
        return cls(
            NumbersSource.ASSISTED,
            placed.lld_mm,
            (placed.lld_ci95_high_mm - placed.lld_ci95_low_mm) / 2,
            placed.pelvic_tilt_deg,
            (placed.pelvic_tilt_ci95_high_deg - placed.pelvic_tilt_ci95_low_deg) / 2,
            budget,
            assisted_id=placed.id,
            placed_by_id=placed.placed_by_id,
            placed_by=(placed.placed_by.full_name or placed.placed_by.email)
            if placed.placed_by
            else None,
            placed_at=placed.placed_at,
        )

    @property
    def lld_ci95_mm(self) -> tuple[float, float]:
        return (self.lld_mm - self.lld_half_mm, self.lld_mm + self.lld_half_mm)

    @property
    def tilt_ci95_deg(self) -> tuple[float, float]:
        return (
            self.pelvic_tilt_deg - self.tilt_half_deg,
            self.pelvic_tilt_deg + self.tilt_half_deg,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "numbers": self.source.value,
            "lld_mm": round(self.lld_mm, _R),
            "lld_ci95_mm": [round(v, _R) for v in self.lld_ci95_mm],
            "pelvic_tilt_deg": round(self.pelvic_tilt_deg, _R),
            "pelvic_tilt_ci95_deg": [round(v, _R) for v in self.tilt_ci95_deg],
            "assisted_id": self.assisted_id,
            "placed_by_id": self.placed_by_id,
            "placed_at": self.placed_at.isoformat() if self.placed_at else None,
        }


@dataclass(frozen=True, slots=True)
class StoredComparison:
    """post - pre of two stored results, with CIs and verdicts (the `compare --json` shape),
    computed on the numbers each phase uses (`pre_numbers`, `post_numbers`; default: the
    automatic results')."""

    pre: ResultRecord
    post: ResultRecord
    mdc95: Mdc95
    pre_numbers: PhaseNumbers | None = None
    post_numbers: PhaseNumbers | None = None

    @property
    def used_pre(self) -> PhaseNumbers:
        return self.pre_numbers or PhaseNumbers.automatic(self.pre)

    @property
    def used_post(self) -> PhaseNumbers:
        return self.post_numbers or PhaseNumbers.automatic(self.post)

    @property
    def numbers_words(self) -> str:
        """Which numbers the change uses, e.g. "pre: assisted, post: automatic"."""
        return f"pre: {self.used_pre.source.value}, post: {self.used_post.source.value}"

    @property
    def lld_change_mm(self) -> float:
        return self.used_post.lld_mm - self.used_pre.lld_mm

    def _halves(self) -> tuple[float, float]:
        pre, post = self.used_pre, self.used_post
        return change_half_widths(
            pre.budget,
            post.budget,
            (pre.lld_half_mm, pre.tilt_half_deg),
            (post.lld_half_mm, post.tilt_half_deg),
        )

    @property
    def lld_change_half_mm(self) -> float:
        return self._halves()[0]

    @property
    def tilt_change_deg(self) -> float:
        return self.used_post.pelvic_tilt_deg - self.used_pre.pelvic_tilt_deg

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
            "numbers_used": {"pre": self.used_pre.to_dict(), "post": self.used_post.to_dict()},
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
        stored_result(pre),
        stored_result(post),
        post_measurement_mdc(settings, post),
        pre_numbers=_numbers(session, pre),
        post_numbers=_numbers(session, post),
    )
    return VisitComparison(pre, post, comparison)


def _numbers(session: Session, row: Measurement) -> PhaseNumbers:
    """The newest assisted placement's numbers when the practitioner placed points on this
    measurement, else its automatic result's."""
    placed = latest_assisted(session, row.id)
    return PhaseNumbers.assisted(placed) if placed else PhaseNumbers.automatic(stored_result(row))


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
