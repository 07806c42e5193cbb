"""A rich progress bar as a training callback (the CLI's default)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .training import Callback, EpochRecord, History


class ProgressBar(Callback):
    def __init__(self, label: str, console: Console | None = None):
        self.label = label
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console or Console(stderr=True), transient=True)
        self.task = None

    def on_train_begin(self, epochs: int, steps_per_epoch: int, done_steps: int = 0) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=epochs * steps_per_epoch, completed=done_steps, loss="-")

    def on_step_end(self, step: int, loss: float) -> None:
        self.progress.update(self.task, completed=step, loss=f"{loss:.4f}")

    def on_epoch_end(self, record: EpochRecord) -> None:
        test = f"  test acc {record.test_acc:.4f}" if record.test_acc is not None else ""
        self.progress.console.print(f"{self.label} epoch {record.epoch}: loss {record.train_loss:.4f}  "
                                    f"acc {record.train_acc:.4f}{test}  ({record.time_s:.2f}s)")

    def on_train_end(self, history: History) -> None:
        self.progress.stop()


class SweepProgress:
    """One progress display for a whole sweep: runs done of all, time left, the last result."""

    def __init__(self, total: int, show: bool = True, console: Console | None = None):
        self.show = show
        self.progress = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                                 console=console or Console(stderr=True), transient=True)
        self.total = total
        self.task = None

    def __enter__(self) -> "SweepProgress":
        if self.show:
            self.progress.start()
            self.task = self.progress.add_task("sweep", total=self.total, last="")
        return self

    def done(self, summary) -> None:
        if self.show:
            self.progress.update(self.task, advance=1, last=f"{summary.cell} seed {summary.seed}: {summary.test_acc:.4f}")

    def __exit__(self, *exc) -> None:
        if self.show:
            self.progress.stop()


class StudyProgress:
    """One display for a study: the section that runs, sections done, time elapsed and left."""

    def __init__(self, weights: dict[str, float], show: bool = True, console: Console | None = None):
        self.weights, self.show = weights, show
        self.progress = Progress(TextColumn("[bold]study"), BarColumn(), TextColumn("{task.fields[section]}"),
                                 TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                 console=console or Console(stderr=True), transient=True)
        self.task = None

    def __enter__(self) -> "StudyProgress":
        if self.show:
            self.progress.start()
            self.task = self.progress.add_task("study", total=sum(self.weights.values()), section="")
        return self

    def start(self, key: str, weight: float) -> None:
        if self.show:
            self.progress.update(self.task, section=key)

    def done(self, key: str) -> None:
        if self.show:
            self.progress.update(self.task, advance=self.weights.get(key, 0))
            self.progress.console.print(f"study: {key} done")

    def __exit__(self, *exc) -> None:
        if self.show:
            self.progress.stop()
