"""Start-up recovery of the scratch folder left behind by a stopped server.

Uploads and live captures are written under `tmp/` and moved into place only when complete,
so after a crash (kill -9, power loss) `tmp/` holds only unfinished work: nothing in the
database refers to it. Partial uploads are useless and removed; an interrupted live capture
is a crash-safe recording that replays to its last frame, so it is kept (moved to
`interrupted/`) for a person to inspect or upload, never silently deleted.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from sotmeasure.private_files import make_private, private_dir

log = logging.getLogger(__name__)

CAPTURE_PREFIX = "capture-"


@dataclass(frozen=True, slots=True)
class ScratchRecovery:
    """What start-up found in the scratch folder."""

    removed: tuple[str, ...]
    kept_captures: tuple[Path, ...]


def recover_scratch(tmp_dir: Path, interrupted_dir: Path) -> ScratchRecovery:
    """Empty `tmp_dir`: keep interrupted captures in `interrupted_dir`, remove the rest.

    Must run before any request or capture starts (one server process per data folder).
    """
    removed: list[str] = []
    kept: list[Path] = []
    if not tmp_dir.is_dir():
        return ScratchRecovery((), ())
    for entry in sorted(tmp_dir.iterdir()):
        if entry.is_dir() and entry.name.startswith(CAPTURE_PREFIX) and any(entry.rglob("*")):
            private_dir(interrupted_dir)
            target = interrupted_dir / entry.name
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(entry), target)
            make_private(target)
            kept.append(target)
            log.warning("an interrupted live capture was kept in %s", target)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
            removed.append(entry.name)
        else:
            entry.unlink()
            removed.append(entry.name)
    if removed:
        log.info("removed %d unfinished upload(s) from %s", len(removed), tmp_dir)
    return ScratchRecovery(tuple(removed), tuple(kept))
