"""Sections 8 and 10: how the experiments section words a sweep's highest cell."""

from types import SimpleNamespace

from backprop_lab.studies.sections.experiments import _beyond_all, _spread_words


def test_the_highest_sweep_cell_is_called_clear_only_beyond_every_other_cells_spread():
    def cell(*accs):
        return SimpleNamespace(accs=list(accs))

    clear, close, far = cell(0.95, 0.951, 0.949), cell(0.94, 0.96, 0.95), cell(0.80, 0.81, 0.79)
    assert _beyond_all(clear, SimpleNamespace(cells=[clear, far])) is True
    assert _beyond_all(clear, SimpleNamespace(cells=[clear, far, close])) is False
    assert _beyond_all(clear, SimpleNamespace(cells=[clear])) is None  # no other cell
    one = cell(0.95)
    assert _beyond_all(one, SimpleNamespace(cells=[one, cell(0.5)])) is None  # one seed cannot tell
    assert [_spread_words(b, n) for b, n in ((True, 2), (False, 2), (None, 2), (None, 1))] == [
        "",
        ", within the seed spread of another cell",
        ", one seed: no spread to judge it by",
        "",
    ]
