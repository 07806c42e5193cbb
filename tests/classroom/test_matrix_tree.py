"""The tree a matrix-form line is read into: a ``Ref``'s layer from an absolute index, from L or from a
general l."""

from __future__ import annotations

import pytest

from backprop_lab.classroom.matrix_tree import Ref


def test_a_refs_layer_is_absolute_counted_from_L_or_from_l():
    assert Ref("W", ("abs", 2)).layer(None, 5) == 2
    assert Ref("A", ("L", -1)).layer(None, 5) == 4
    assert Ref("dZ", ("l", 1)).layer(3, 5) == 4
    assert Ref("Y").layer(3, 5) is None and Ref("m").index is None


def test_only_an_index_from_l_is_general_and_it_needs_a_layer():
    assert Ref("dZ", ("l", 0)).general
    assert not Ref("dZ", ("L", 0)).general and not Ref("dZ", ("abs", 1)).general and not Ref("X").general
    with pytest.raises(ValueError, match="general"):
        Ref("dZ", ("l", 0)).layer(None, 3)
