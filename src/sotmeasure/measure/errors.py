"""The one error the measurement raises when no honest number can be made."""

from __future__ import annotations

from sotmeasure.errors import SotmeasureError


class MeasurementError(SotmeasureError):
    """No measurement can be made from this recording (no person, no still stretch, ...).

    Exit code 2 is part of the `measure` contract: callers tell "could not measure"
    (2) apart from usage errors (1) without parsing the message.
    """

    exit_code = 2
