"""One way for objects holding a device, file or native model to be used in `with` blocks."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class ClosesOnExit:
    """Mixin: `with obj:` returns obj and calls `obj.close()` on the way out, error or not.

    Frame sources, writers, recorders and pose models all hold resources that must be
    released even when the caller fails mid-way (a recording keeps its frames, a camera
    is freed for the next capture); one mixin keeps that rule in one place.
    """

    def close(self) -> None:
        """Release what the object holds. Subclasses make this safe to call twice."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
