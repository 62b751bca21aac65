"""What a client may send: patients, visits, blocking notes, an imported result (pydantic).

Shared by the API (request bodies) and the pages (form fields are validated through the
same models), so a page accepts exactly what the API accepts.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from sotmeasure.measure.result import check_ci_brackets
from sotmeasure.store.models import Phase

PATIENT_CODE_MAX = 64
PATIENT_CODE_RULE = (
    "a patient code is 1 to 64 characters: letters of any script and digits, and after the "
    "first character also dot, underscore or dash (no spaces)"
)


def _letter_or_digit(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def check_patient_code(value: str) -> str:
    """The code in NFC (so "Zoë" typed either way is one code); ValueError when it breaks
    PATIENT_CODE_RULE. Letters of any script count ("Zoë", "Łukasz", "山田"); combining
    marks may follow the first character (scripts such as Devanagari need them)."""
    code = unicodedata.normalize("NFC", value)
    ok = (
        0 < len(code) <= PATIENT_CODE_MAX
        and _letter_or_digit(code[0])
        and all(
            _letter_or_digit(c) or unicodedata.category(c)[0] == "M" or c in "._-" for c in code[1:]
        )
    )
    if not ok:
        raise ValueError(PATIENT_CODE_RULE)
    return code


PatientCode = Annotated[
    str,
    Field(min_length=1, max_length=PATIENT_CODE_MAX, description=PATIENT_CODE_RULE),
    AfterValidator(check_patient_code),
]


class InputModel(BaseModel):
    """A request body: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatientCreate(InputModel):
    code: PatientCode = Field(
        description="The clinic's pseudonymous code: letters of any script, digits, . _ - "
        "(not first); unique per clinic."
    )
    name: str | None = Field(default=None, max_length=200)
    birth_date: date | None = None
    clinic_id: int | None = Field(
        default=None, description="Admins only; a practitioner's patients join their clinic."
    )

    @field_validator("birth_date")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > date.today():
            raise ValueError("the birth date is in the future")
        return value


class PatientUpdate(InputModel):
    code: PatientCode | None = None
    name: str | None = Field(default=None, max_length=200)
    birth_date: date | None = None


class VisitCreate(InputModel):
    visit_date: date = Field(default_factory=date.today)
    notes: str | None = Field(default=None, max_length=10_000)
    practitioner_id: int | None = Field(
        default=None, description="Default: the logged-in user when a practitioner."
    )


class VisitUpdate(InputModel):
    visit_date: date | None = None
    notes: str | None = Field(default=None, max_length=10_000)
    practitioner_id: int | None = None


class BlockingNotes(InputModel):
    """SOT blocking notes: which blocks, where, which category."""

    blocks: str | None = Field(default=None, max_length=200)
    placement: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=50)


class MeasurementUpdate(BlockingNotes):
    """A correction of a measurement: its blocking notes and/or its phase (relabel)."""

    phase: Phase | None = Field(
        default=None, description="Relabel as pre or post (who and when are recorded)."
    )


class ResultPayload(BaseModel):
    """The `measure --json` contract; extra keys (per-frame values, ...) are kept as they are."""

    # Stored as a `measure.result.ResultRecord` (the docstring above is the API's text).

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    lld_mm: float
    lld_ci95_mm: tuple[float, float]
    lld_table_mm: float | None = None
    short_side: Literal["left", "right", "none"] | None = None
    pelvic_tilt_deg: float
    pelvic_tilt_ci95_deg: tuple[float, float]
    body_axis_deg: float | None = None
    frames_used: Any = None
    frames_rejected: Any = None
    calibration: str | None = Field(default=None, max_length=40)
    error_budget: Any = None
    provenance: dict[str, Any] = Field(
        description="software version, pose model and hash, calibration and layout ids, "
        "recording hash, parameters (docs/MEASUREMENT.md, Provenance)"
    )

    @model_validator(mode="after")
    def _ci_brackets_estimate(self) -> ResultPayload:
        check_ci_brackets(
            self.lld_mm, self.lld_ci95_mm, self.pelvic_tilt_deg, self.pelvic_tilt_ci95_deg
        )
        return self
