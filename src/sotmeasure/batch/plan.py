"""Which items a batch run measures, which it keeps from before, and which are invalid.

Kept: an earlier outcome that is final (ok or refused) for the same recording hash and run
hash (a measured one also needs its per-frame values when they are asked for). Failed and
invalid items are always tried again: a crash or a fixed manifest deserves another go;
`--force` re-measures all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sotmeasure import __version__
from sotmeasure.batch.check import DatasetCheck
from sotmeasure.batch.configure import run_hash
from sotmeasure.batch.store import ResultStore
from sotmeasure.batch.task import (
    FINAL,
    STATUS_INVALID,
    STATUS_OK,
    ItemOutcome,
    ItemTask,
    item_slug,
)


@dataclass(slots=True)
class Plan:
    """The items of one run, in manifest order, sorted by what happens to them."""

    to_measure: list[ItemTask] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # slugs with a current stored result
    invalid: list[ItemOutcome] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)  # every valid-keyed item, manifest order


def plan_batch(
    check: DatasetCheck, store: ResultStore, *, force: bool = False, frames: bool = False
) -> Plan:
    """Sort every manifest item into to_measure / kept / invalid (see module docstring)."""
    plan = Plan()
    hashes: dict[tuple[str, str], str] = {}
    for k, item in enumerate(check.items):
        problems = check.item_problems(k)
        slug = item_slug(*item.key)
        files = check.setups.get(item.setup)
        configured = check.configured.get((item.setup, item.mode))
        if problems or files is None or configured is None:
            reason = "; ".join(p.message for p in problems) or "setup not usable"
            dup = any("duplicate key" in p.message for p in problems)
            if not dup:  # a duplicated key has no one row to own: named by check, not stored
                plan.slugs.append(slug)
                plan.invalid.append(
                    ItemOutcome(slug, _invalid_row(check, k, reason, files is not None))
                )
            continue
        plan.slugs.append(slug)
        cache_key = (item.setup, item.mode)
        if cache_key not in hashes:
            hashes[cache_key] = run_hash(configured)
        task = ItemTask(
            subject=item.subject,
            session=item.session,
            phase=item.phase,
            recording=item.recording,
            recording_path=check.recording_path(item),
            recording_sha256=check.recording_sha256[k],
            setup=files,
            mode=item.mode,
            run_hash=hashes[cache_key],
            software_version=__version__,
            labels=dict(item.labels),
            include_frames=frames,
        )
        before = None if force else store.stored(slug)
        if (
            before is not None
            and before.status in FINAL
            and before.recording_sha256 == task.recording_sha256
            and before.run_hash == task.run_hash
            and (before.frames_stored or not frames or before.status != STATUS_OK)
        ):
            plan.kept.append(slug)
        else:
            plan.to_measure.append(task)
    return plan


def _invalid_row(check: DatasetCheck, k: int, reason: str, has_setup: bool) -> dict[str, object]:
    item = check.items[k]
    return {
        "subject": item.subject,
        "session": item.session,
        "phase": item.phase,
        "recording": item.recording,
        "setup": item.setup,
        "mode": item.mode,
        **{f"label.{c}": v for c, v in item.labels.items()},
        "status": STATUS_INVALID,
        "reason": f"{item.where}: {reason}",
        "recording_sha256": check.recording_sha256.get(k, ""),
        "run_hash": "",
        "software_version": __version__,
        "frames_stored": False,
    }
