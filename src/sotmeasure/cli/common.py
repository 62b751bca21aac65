"""Shared CLI plumbing: consoles, one-line failures, progress bars."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console()
err_console = Console(stderr=True)


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero (nothing on stdout)."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=exit_code)


def progress_bar(*, disable: bool = False) -> Progress:
    """A Rich progress bar on stderr, so that stdout stays clean for --json output.

    Off when stderr is not a terminal (CI, pipes, log files): there a bar is noise, and its
    leftover line would break the "one line on stderr" promise of a failing command.
    """
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=disable or not err_console.is_terminal,
        transient=True,
    )
