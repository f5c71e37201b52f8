"""Progress for the CLI: a live spinner with elapsed time on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

_console = Console(stderr=True)
QUIET = {"value": False}


@contextmanager
def progress(description: str) -> Iterator[None]:
    """Show `description` while the block runs, then how long it took."""
    start = time.perf_counter()
    if QUIET["value"]:
        yield
        return
    if _console.is_terminal:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=_console, transient=True) as bar:
            bar.add_task(description, total=None)
            yield
    else:
        print(f"… {description}", file=sys.stderr, flush=True)
        yield
    _console.print(
        f"[green]✓[/green] {description} [dim]({time.perf_counter() - start:.1f} s)[/dim]"
    )
