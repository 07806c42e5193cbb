"""Sections 5 and 6: the figures the engines section reads from a comparison's histories."""

from types import SimpleNamespace

from backprop_lab.studies.sections.engines import _seed_range, _steady_epoch_times


def _comparison(per_seed_epochs: dict[int, list[tuple[float, float]]]):
    """A comparison's shape: runs[seed][engine].history.epochs, each epoch with time_s and train_loss."""
    runs = {
        seed: {
            "scratch": SimpleNamespace(
                history=SimpleNamespace(epochs=[SimpleNamespace(time_s=t, train_loss=loss) for t, loss in epochs])
            )
        }
        for seed, epochs in per_seed_epochs.items()
    }
    return SimpleNamespace(seeds=list(per_seed_epochs), runs=runs)


def test_steady_epoch_times_leave_out_each_runs_first_epoch_unless_it_is_the_only_one():
    two = _comparison({0: [(9.0, 1.0), (1.0, 0.5)], 1: [(8.0, 1.1), (2.0, 0.4)]})
    assert _steady_epoch_times(two, "scratch") == [1.0, 2.0]
    one = _comparison({0: [(9.0, 1.0)], 1: [(8.0, 1.1)]})
    assert _steady_epoch_times(one, "scratch") == [9.0, 8.0]


def test_the_seed_range_is_the_widest_spread_over_seeds_at_any_epoch_and_zero_for_one_seed():
    runs = _comparison({0: [(1, 1.0), (1, 0.50)], 1: [(1, 1.2), (1, 0.45)], 2: [(1, 0.9), (1, 0.52), (1, 9.0)]})
    assert abs(_seed_range(runs, "train_loss") - 0.3) < 1e-12  # epoch 0: 1.2 - 0.9; the third epoch of one seed
    assert _seed_range(_comparison({0: [(1, 1.0), (1, 0.5)]}), "train_loss") == 0.0
