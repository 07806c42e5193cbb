"""The CLI's progress bar prints a line per epoch, but at most about 25 for a long run, and always the last."""

import io

from rich.console import Console

from backprop_lab.training import EpochRecord, History
from backprop_lab.training.progress import ProgressBar


def _lines(epochs: int, ran: int) -> list[str]:
    buffer = io.StringIO()
    bar = ProgressBar("head only", Console(file=buffer, width=200))
    bar.on_train_begin(epochs, 3)
    for e in range(1, ran + 1):
        bar.on_epoch_end(EpochRecord(e, 1.0 / e, 0.5, 0.01, 0.1))
    bar.on_train_end(History())
    return [l for l in buffer.getvalue().splitlines() if "epoch" in l]


def test_short_runs_print_every_epoch():
    assert len(_lines(5, 5)) == 5


def test_long_runs_print_about_25_lines_and_the_last_epoch():
    lines = _lines(500, 433)  # stopped early, between two printed epochs
    assert 20 <= len(lines) <= 27
    assert lines[0].startswith("head only epoch 1:") and lines[-1].startswith("head only epoch 433:")
