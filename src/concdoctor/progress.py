"""Progress you can follow on a long batch: a bar for each phase, on stderr.

Each phase (attaching py-spy, the baseline, each executor measured, yappi) gets a row;
while its tasks run, the row shows tasks done out of the total and the time left. On a
terminal this is a rich progress display that disappears once the report is printed;
elsewhere (CI logs, pipes) each phase is one plain line and no bar is drawn.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class PhaseProgress:
    """``with PhaseProgress(console) as say: say(message[, done, total])``."""

    def __init__(self, console: Console | None, quiet: bool = False, *,
                 later: bool = False) -> None:
        if console is None and not quiet:
            raise ValueError("progress that is shown needs a console")
        self.console: Console = console  # type: ignore[assignment]  # None only when quiet
        self.quiet = quiet
        self.display: Progress | None = None
        self.row: TaskID | None = None
        self.message = ""
        self.later = later
        """Show nothing until the first phase: ``concdoctor run``'s program has the
        terminal to itself before then."""

    def __enter__(self) -> PhaseProgress:
        if self.quiet or not self.console.is_terminal or self.later:
            return self
        self._show()
        self("starting the child process")
        return self

    def _show(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.display = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("tasks"), TimeElapsedColumn(),
            TextColumn("left"), TimeRemainingColumn(), console=self.console, transient=True)
        self.display.__enter__()

    def __call__(self, message: str, done: int | None = None, total: int | None = None,
                 **_: Any) -> None:
        if self.quiet:
            return
        if self.later and self.console.is_terminal:
            self.later = False
            self._show()
        if message != self.message:
            self._phase(message)
        if self.display is not None and self.row is not None and total:
            self.display.update(self.row, completed=done or 0, total=total)

    def _phase(self, message: str) -> None:
        self.message = message
        if self.display is None:
            self.console.print(f"[dim]… {message}[/dim]", highlight=False)
            return
        if self.row is not None:
            self.display.update(self.row, visible=False)
        self.row = self.display.add_task(message, total=None)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.display is not None:
            self.display.__exit__(kind, error, trace)
