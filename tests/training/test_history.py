"""What a run records (training/history.py): the history's round trip and table, and the epoch's batch-weighted sums."""

from __future__ import annotations

import json
import math

import numpy as np

from backprop_lab.training.history import EpochAccumulator, EpochRecord, History, Stop


def test_a_history_round_trips_through_json_its_stop_included():
    history = History(
        [0.9, 0.7],
        [EpochRecord(1, 0.8, 0.5, 1.25, 0.01, test_loss=0.6, test_acc=0.7)],
        Stop(2, float("inf"), "stopped: try a lower learning rate"),
    )
    back = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert back == history and back.stopped == "stopped: try a lower learning rate"
    assert History.from_dict(History([0.5]).to_dict()).stop is None


def test_a_history_written_before_the_stop_details_keeps_its_message():
    old = History.from_dict({"step_loss": [1], "epochs": [], "stopped": "loss became nan"})
    assert old.stop.step == -1 and math.isnan(old.stop.value) and old.stopped == "loss became nan"
    assert isinstance(old.step_loss[0], float)


def test_the_table_has_one_row_an_epoch_and_a_dash_for_what_was_not_measured():
    history = History([], [EpochRecord(1, 0.81234, 0.5, 1.234, 0.01), EpochRecord(2, 0.5, 0.75, 1.0, 0.01, 0.4, 0.9)])
    table = history.table("training")
    assert table.header[:3] == ["epoch", "train loss", "train acc"]
    assert table.rows == [
        ["1", "0.8123", "0.5000", "-", "-", "1.23"],
        ["2", "0.5000", "0.7500", "0.4000", "0.9000", "1.00"],
    ]


def test_the_epoch_sums_weigh_each_batch_by_its_size():
    acc = EpochAccumulator()
    acc.add(1.0, np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 1, 1]))  # 2 of 3 right
    acc.add(4.0, np.array([[0.3, 0.7]]), np.array([1]))  # 1 of 1
    assert acc.result() == (7.0 / 4, 3 / 4)
    again = EpochAccumulator(**acc.to_dict())
    assert again.result() == acc.result()
    assert EpochAccumulator().result() == (0.0, 0.0)
