"""The root of every error sotmeasure raises on purpose.

Anything deriving from `SotmeasureError` is a problem a user can act on: the CLI
prints its message as one line on stderr and exits with `exit_code`; the API turns
it into a 4xx/422 with the same message. Anything else is a bug and keeps its traceback.
"""


class SotmeasureError(Exception):
    """An expected failure with a message written for the user."""

    exit_code: int = 1
