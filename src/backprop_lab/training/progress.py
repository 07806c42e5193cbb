"""A rich progress bar as a training callback (the CLI's default)."""

from __future__ import annotations

import html
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from backprop_lab.training import Callback, EpochRecord, History

LINES = 25  # at most about this many per-epoch lines for a long run (a head trained for hundreds of epochs)


class ProgressBar(Callback):
    def __init__(self, label: str, console: Console | None = None):
        self.label = label
        self.every = 1
        self.last: EpochRecord | None = None
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.task = None

    def on_train_begin(self, epochs: int, steps_per_epoch: int, done_steps: int = 0) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=epochs * steps_per_epoch, completed=done_steps, loss="-")
        self.every = max(1, -(-epochs // LINES))

    def on_step_end(self, step: int, loss: float) -> None:
        self.progress.update(self.task, completed=step, loss=f"{loss:.4f}")

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.last = record
        if record.epoch == 1 or record.epoch % self.every == 0:
            self._print(record)
            self.last = None

    def _print(self, record: EpochRecord) -> None:
        test = f"  test acc {record.test_acc:.4f}" if record.test_acc is not None else ""
        self.progress.console.print(
            f"{self.label} epoch {record.epoch}: loss {record.train_loss:.4f}  "
            f"acc {record.train_acc:.4f}{test}  ({record.time_s:.2f}s)"
        )

    def on_train_end(self, history: History) -> None:
        if self.last is not None:  # the run ended (or stopped early) between two printed epochs
            self._print(self.last)
        self.progress.stop()


class SweepProgress:
    """One progress display for a whole sweep: runs done of all, time left, the last result."""

    def __init__(self, total: int, show: bool = True, console: Console | None = None):
        self.show = show
        self.progress = Progress(
            TextColumn("[bold]sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}"),
            console=console or Console(stderr=True),
            transient=True,
        )
        self.total = total
        self.task = None

    def __enter__(self) -> "SweepProgress":
        if self.show:
            self.progress.start()
            self.task = self.progress.add_task("sweep", total=self.total, last="")
        return self

    def done(self, summary) -> None:
        if self.show:
            self.progress.update(
                self.task, advance=1, last=f"{summary.cell} seed {summary.seed}: {summary.test_acc:.4f}"
            )

    def __exit__(self, *exc) -> None:
        if self.show:
            self.progress.stop()


class StudyProgress:
    """One display for a study: the section that runs, sections done, time elapsed and left."""

    def __init__(self, weights: dict[str, float], show: bool = True, console: Console | None = None):
        self.weights, self.show = weights, show
        self.progress = Progress(
            TextColumn("[bold]study"),
            BarColumn(),
            TextColumn("{task.fields[section]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
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


# ---------------------------------------------------------------------------------------------
# In Jupyter: one bar, updated in place (a single display handle), instead of lines on stderr.


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython kernel app), false in a terminal or plain IPython."""

    if "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class NotebookDisplay:
    """One output area of a notebook cell, replaced at most every ``interval`` seconds."""

    def __init__(self, interval: float = 0.25):
        self.interval, self.handle, self.last = interval, None, 0.0

    def show(self, label: str, done: float, total: float, text: str = "", force: bool = False) -> None:

        now = time.monotonic()
        if not force and self.handle is not None and now - self.last < self.interval:
            return
        self.last = now
        from IPython.display import HTML, display

        body = HTML(
            f'<div style="font-family:monospace"><b>{html.escape(label)}</b> '
            f'<progress value="{done:g}" max="{max(total, 1):g}" style="width:18em"></progress> '
            f"{done:g}/{total:g} {html.escape(text)}</div>"
        )
        if self.handle is None:
            self.handle = display(body, display_id=True)
        else:
            self.handle.update(body)


class NotebookBar(Callback):
    """A training callback drawing on a shared :class:`NotebookDisplay`."""

    def __init__(self, label: str, display: NotebookDisplay):
        self.label, self.display = label, display
        self.total, self.epoch_text = 0, ""

    def on_train_begin(self, epochs: int, steps_per_epoch: int, done_steps: int = 0) -> None:
        self.total = epochs * steps_per_epoch
        self.display.show(self.label, done_steps, self.total, force=True)

    def on_step_end(self, step: int, loss: float) -> None:
        self.display.show(self.label, step, self.total, f"loss {loss:.4f} {self.epoch_text}")

    def on_epoch_end(self, record: EpochRecord) -> None:
        test = f" test acc {record.test_acc:.4f}" if record.test_acc is not None else ""
        self.epoch_text = f"| epoch {record.epoch}: loss {record.train_loss:.4f} acc {record.train_acc:.4f}{test}"

    def on_train_end(self, history: History) -> None:
        self.display.show(self.label, self.total, self.total, self.epoch_text.lstrip("| "), force=True)


class NotebookSweep:
    def __init__(self, total: int, display: NotebookDisplay):
        self.total, self.count, self.display = total, 0, display

    def __enter__(self) -> "NotebookSweep":
        self.display.show("sweep", 0, self.total, force=True)
        return self

    def done(self, summary) -> None:
        self.count += 1
        self.display.show(
            "sweep", self.count, self.total, f"{summary.cell} seed {summary.seed}: {summary.test_acc:.4f}", force=True
        )

    def __exit__(self, *exc) -> None: ...


class NotebookStudy:
    def __init__(self, weights: dict[str, float], display: NotebookDisplay):
        self.weights, self.display, self.done_weight = weights, display, 0.0
        self.total = sum(weights.values())

    def __enter__(self) -> "NotebookStudy":
        self.display.show("study", 0, self.total, force=True)
        return self

    def start(self, key: str, weight: float) -> None:
        self.display.show("study", self.done_weight, self.total, key, force=True)

    def done(self, key: str) -> None:
        self.done_weight += self.weights.get(key, 0)
        self.display.show("study", self.done_weight, self.total, f"{key} done", force=True)

    def __exit__(self, *exc) -> None: ...


class Reporter:
    """Where the progress of one command or API call goes: nowhere (``show=False``), rich bars on
    stderr (a terminal), or one bar updated in place (Jupyter), whichever engine or seed is running."""

    def __init__(self, show: bool = True):
        self.show = show
        self.display = NotebookDisplay() if show and in_notebook() else None

    def training(self, label: str) -> list[Callback]:
        if not self.show:
            return []
        return [NotebookBar(label, self.display) if self.display else ProgressBar(label)]

    def sweep(self, total: int):
        return NotebookSweep(total, self.display) if self.display else SweepProgress(total, self.show)

    def study(self, weights: dict[str, float]):
        return NotebookStudy(weights, self.display) if self.display else StudyProgress(weights, self.show)
