"""The model's computation graph in course notation, read from ``graphs.dependencies``: dropout, pooling and
flatten collapse, L2 adds the direct edge C -> W[l]; its paths and the reasons it gives."""

from __future__ import annotations

from helpers.chains import MLP2, MLP3, chain, check_one, derivation

from backprop_lab.classroom.derivation import COST, Node, chain_graph


def test_the_graph_is_the_models():
    """Edges come from graphs.dependencies: weightless layers collapse, L2 adds the direct edge C -> W[l]."""
    plain = chain_graph(derivation(MLP3))
    assert plain.parents[Node("z", 2)] == (Node("a", 1), Node("W", 2), Node("b", 2))
    assert plain.parents[COST] == (Node("a", 3),) and plain.parents[Node("a", 0)] == ()
    assert chain_graph(derivation("mlp:8,8/dropout=0.5")).parents == plain.parents
    assert chain_graph(derivation("cnn:4")).parents[Node("z", 2)][0] == Node("a", 1)  # through pooling, flatten
    with_l2 = chain_graph(derivation(MLP3, 0.01))
    assert set(with_l2.parents[COST]) == {Node("a", 3), Node("W", 1), Node("W", 2), Node("W", 3)}
    assert len(with_l2.paths(COST, Node("W", 1))) == 2 and len(plain.paths(COST, Node("W", 1))) == 1
    verdict = check_one(MLP2, chain(2, "W", 1), l2=0.01)  # one path of two
    assert verdict.codes == ["missing-path"] and "the path C → W[1]" in verdict.issues[0].message


def say(node: Node) -> str:
    return node.kind + ("" if node.layer is None else f"[{node.layer}]")


def test_paths_follow_the_edges_from_what_is_computed_to_what_it_reads():
    graph = chain_graph(derivation(MLP3))
    [path] = graph.paths(COST, Node("b", 1))
    assert [say(n) for n in path] == ["C", "a[3]", "z[3]", "a[2]", "z[2]", "a[1]", "z[1]", "b[1]"]
    assert graph.paths(Node("z", 1), Node("W", 2)) == []  # z[1] is computed before W[2] is read
    assert graph.is_edge(Node("z", 2), Node("a", 1)) and not graph.is_edge(Node("a", 1), Node("z", 2))
    assert Node("z", 3) in graph and Node("z", 4) not in graph
    assert Node("a", 2).shifted(-1) == Node("a", 1) and COST.shifted(1) == COST


def test_the_reasons_name_what_a_symbol_depends_on():
    graph = chain_graph(derivation(MLP3))
    assert graph.why_not(Node("z", 3), Node("a", 3), say) == (
        "z[3] depends on a[2], W[3] and b[3], not on a[3] (it is the other way round: a[3] depends on z[3])"
    )
    assert graph.why_not(Node("W", 2), Node("a", 1), say) == "W[2] is a parameter: it depends on nothing in the network"
    assert graph.why_not(Node("a", 0), Node("a", 1), say) == "a[0] is the input: it depends on nothing in the network"
    assert graph.why_unknown(Node("W", -1)) == "layers are numbered from 0, the input"
    assert graph.why_unknown(Node("W", 0)).startswith("layer 0 is the input, which has only a[0]")
    assert graph.why_unknown(Node("W", 4)) == "this model has 3 layers with weights (1 to 3); its output is layer 3"
