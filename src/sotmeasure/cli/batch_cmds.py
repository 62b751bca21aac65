"""CLI commands for research datasets: `dataset check DIR` and `batch DIR --out RESULTS`.

`dataset check` exits 1 and names every problem, or exits 0 with a count. `batch` exits 0
when every item has a result (measured, or refused with the pipeline's reason) and 1 when
some item failed or is invalid; it never stops at a bad item (docs/datasets.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from sotmeasure.cli.common import console, err_console, fail, progress_bar

if TYPE_CHECKING:
    from distributed import Client

    from sotmeasure.batch.check import DatasetCheck
    from sotmeasure.batch.run import BatchSummary
    from sotmeasure.batch.task import ItemOutcome

dataset_app = typer.Typer(help="Research datasets: check a dataset folder.", no_args_is_help=True)

_NO_HASH = typer.Option(
    False, "--no-hash", help="Do not read recordings to verify their sha256 (faster)."
)


def _print_problems(check: DatasetCheck) -> None:
    for problem in check.problems:
        err_console.print(f"problem: {problem}", markup=False, highlight=False, soft_wrap=True)


@dataset_app.command("check")
def check_cmd(
    folder: Path = typer.Argument(..., help="Dataset folder (manifest, recordings, setups)."),
    no_hash: bool = _NO_HASH,
) -> None:
    """Validate a dataset folder without measuring; name every problem found."""
    from sotmeasure.batch.check import check_dataset

    check = check_dataset(folder, hashes=not no_hash)
    if check.problems:
        _print_problems(check)
        fail(f"{folder}: {len(check.problems)} problem(s) in {len(check.items)} item(s)")
    console.print(
        f"{folder}: {len(check.items)} item(s), {len(check.setups)} setup(s), no problems",
        markup=False,
        soft_wrap=True,
    )


@contextlib.contextmanager
def _client(serial: bool, scheduler: str | None, workers: int | None) -> Iterator[Client | None]:
    if serial:
        if scheduler is not None:
            raise typer.BadParameter("--serial and --scheduler exclude each other")
        yield None
        return
    from sotmeasure.batch.executors import dask_client

    with dask_client(scheduler, workers) as client:
        yield client


def _summary_table(summary: BatchSummary, out: Path) -> Table:
    t = Table(title=f"batch: {out}")
    t.add_column("what")
    t.add_column("items", justify="right")
    for status, count in sorted(summary.measured.items()):
        t.add_row(f"measured now: {status}", str(count))
    t.add_row("kept from an earlier run", str(summary.kept))
    t.add_row("invalid (see dataset check)", str(summary.invalid))
    t.add_row("rows in results.parquet", str(len(summary.results)))
    t.add_row("pre/post pairs in comparisons.parquet", str(len(summary.comparisons)))
    return t


def batch_cmd(
    folder: Path = typer.Argument(..., help="Dataset folder (see docs/datasets.md)."),
    out: Path = typer.Option(..., "--out", help="Results folder (created; reused to resume)."),
    force: bool = typer.Option(False, "--force", help="Re-measure items already measured."),
    frames: bool = typer.Option(False, "--frames", help="Also store per-frame values."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Address of an existing Dask scheduler, tcp://HOST:PORT."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Worker processes of the local cluster (default: cores)."
    ),
    serial: bool = typer.Option(False, "--serial", help="Measure in this process, no Dask."),
    mdc_lld_mm: float | None = typer.Option(None, "--mdc-lld-mm", help="Your LLD MDC95 (mm)."),
    mdc_tilt_deg: float | None = typer.Option(None, "--mdc-tilt-deg", help="Your tilt MDC95."),
) -> None:
    """Measure every item of a dataset into Parquet tables; resumable; Dask for scale."""
    from sotmeasure.batch.check import check_dataset
    from sotmeasure.batch.executors import machine_cores, stages_overlap
    from sotmeasure.batch.run import run_batch
    from sotmeasure.processing.setup import mdc_with_overrides

    check = check_dataset(folder)
    if not check.items:
        _print_problems(check)
        fail(f"{folder}: no items to measure")
    if check.problems:
        _print_problems(check)
        err_console.print(f"{len(check.problems)} problem(s): those items are stored as invalid")
    mdc = mdc_with_overrides(
        mdc_lld_mm, mdc_tilt_deg, "given on the command line (--mdc-lld-mm / --mdc-tilt-deg)"
    )
    bar = progress_bar()
    task = bar.add_task("measuring", total=None)
    counts: dict[str, int] = {}

    def started(total: int) -> None:
        bar.update(task, total=total)

    def finished(outcome: ItemOutcome) -> None:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        bar.update(task, advance=1, description=f"measuring ({text})")

    local_workers = None if serial else (workers or machine_cores())
    with bar, _client(serial, scheduler, workers) as client:
        summary = run_batch(
            check,
            out,
            client=client,
            force=force,
            frames=frames,
            mdc95=mdc,
            on_start=started,
            on_item=finished,
            overlap=stages_overlap(local_workers=local_workers, remote=scheduler is not None),
        )
    console.print(_summary_table(summary, out))
    problems = summary.problems()
    for _, row in problems.iterrows():
        console.print(
            f"{row['status']}: {row['subject']}/{row['session']}/{row['phase']}: {row['reason']}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if not problems.empty and set(problems["status"]) - {"refused"}:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(dataset_app, name="dataset")
    app.command("batch", help="Measure a whole dataset folder into Parquet (Dask for scale).")(
        batch_cmd
    )
