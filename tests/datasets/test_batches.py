import numpy as np
import pytest

from backprop_lab.datasets.registry import BatchPlan


def test_plan_covers_every_row_once_per_epoch_and_is_reproducible():
    plan = BatchPlan(1000, 128, seed=3)
    batches = plan.epoch(0)
    assert len(batches) == plan.steps_per_epoch == 8
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert [b.tolist() for b in BatchPlan(1000, 128, seed=3).epoch(0)] == [b.tolist() for b in batches]
    assert not np.array_equal(plan.epoch(1)[0], batches[0])  # a new order each epoch
    assert not np.array_equal(BatchPlan(1000, 128, seed=4).epoch(0)[0], batches[0])


def test_full_batch_mode_is_one_batch_of_everything():
    plan = BatchPlan(50, None)
    assert plan.steps_per_epoch == 1
    assert plan.epoch(7)[0].tolist() == list(range(50))


def test_zero_batch_size_is_refused():
    with pytest.raises(ValueError):
        BatchPlan(10, 0)
