"""Rendering graphs with Graphviz or the built-in matplotlib layout: valid pictures, the titles' place, the
direction of the layout, and the refusals of a missing Graphviz or an unknown direction."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helpers.graphs import MLP, backward_graph, forward_graph

from backprop_lab.spec.model import parse_model
from backprop_lab.viz import render as render_mod
from backprop_lab.viz.network import network_graph


def _check_picture(path, fmt):
    data = path.read_bytes()
    assert len(data) > 1000
    if fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_renders_without_graphviz(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(render_mod.shutil, "which", lambda name: None)  # as on a fresh machine
    for graph in (network_graph(MLP), forward_graph(MLP), backward_graph(MLP)):
        picture, dot, used = render_mod.render(graph, tmp_path, fmt)
        assert used == "matplotlib"
        _check_picture(picture, fmt)
        assert dot.read_text().startswith(f'digraph "{graph.name}"')


@pytest.mark.skipif(not render_mod.graphviz_available(), reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_renders_with_graphviz(tmp_path, fmt):
    for graph in (network_graph(MLP), forward_graph(MLP), backward_graph(MLP)):
        picture, _, used = render_mod.render(graph, tmp_path, fmt)
        assert used == "graphviz"
        _check_picture(picture, fmt)


def test_graphviz_renderer_refused_when_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(render_mod.shutil, "which", lambda name: None)
    from backprop_lab.core.errors import BplabError

    with pytest.raises(BplabError, match="'dot' program is not installed"):
        render_mod.render(forward_graph(MLP), tmp_path, "svg", "graphviz")


def _title_place(svg_path, title):
    """(where the title starts, where its middle is) as fractions of the picture's width, in an SVG of either
    renderer (matplotlib's drawn with svg.fonttype 'none', so that its text stays text); the text's width is
    estimated from its font size."""
    import re

    root = ET.fromstring(svg_path.read_text())
    width = float(re.match(r"[\d.]+", root.attrib["width"]).group(0))
    for el in root.iter():
        if el.tag.endswith("text") and "".join(el.itertext()).strip() == title:
            style = el.attrib.get("style", "")
            anchor = el.attrib.get("text-anchor") or re.search(r"text-anchor:\s*(\w+)", style).group(1)
            size = float(el.attrib.get("font-size") or re.search(r"font-size:\s*([\d.]+)", style).group(1))
            wide, x = 0.55 * size * len(title), float(el.attrib["x"])
            start = {"start": x, "middle": x - wide / 2, "end": x - wide}[anchor]
            return start / width, (start + wide / 2) / width
    raise AssertionError(f"title {title!r} not found in {svg_path}")


@pytest.mark.parametrize("renderer", ["matplotlib", "graphviz"])
def test_a_computation_graphs_title_starts_where_its_scroll_box_opens(tmp_path, renderer):
    """The forward and backward graphs are wider than the report and scroll sideways: their titles start at the
    left edge, not centred over the whole drawing and off-screen; the network diagram's stays centred."""
    import matplotlib

    if renderer == "graphviz" and not render_mod.graphviz_available():
        pytest.skip("Graphviz's dot is not installed")
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for graph in (forward_graph(MLP), backward_graph(MLP)):
            start, _ = _title_place(render_mod.render(graph, tmp_path, "svg", renderer)[0], graph.title)
            assert start < 0.05, (graph.name, start)
        net = network_graph(MLP)
        _, middle = _title_place(render_mod.render(net, tmp_path, "svg", renderer)[0], net.title)
        assert 0.4 < middle < 0.6


def _svg_size(path):
    import re

    root = ET.fromstring(path.read_text())
    return tuple(float(re.match(r"[\d.]+", root.attrib[k]).group(0)) for k in ("width", "height"))


def _off_16_9(width, height):
    """How far a picture's shape is from a 16:9 slide's (0 when it has that shape; LR 4:1 and TB 1:2 alike)."""
    return abs(np.log(width / height / (16 / 9)))


@pytest.mark.skipif(not render_mod.graphviz_available(), reason="Graphviz's dot is not installed")
def test_a_top_to_bottom_backward_graph_fits_a_16_9_slide_better(tmp_path):
    import backprop_lab as bl

    for rankdir in ("LR", "TB"):
        bl.draw(model="mlp:16,8", data="digits", out=tmp_path / rankdir, renderer="graphviz", rankdir=rankdir)
    lr, tb = (_svg_size(tmp_path / d / "backward.svg") for d in ("LR", "TB"))
    assert _off_16_9(*tb) < _off_16_9(*lr), (lr, tb)
    scale = {d: min(1920 / w, 1080 / h) for d, (w, h) in (("LR", lr), ("TB", tb))}  # fitted to a 1920x1080 slide
    assert scale["TB"] > 1.2 * scale["LR"], scale  # its labels a fifth larger at least
    for name in ("network", "forward", "backward"):  # every graph draw writes
        assert "rankdir=TB;" in (tmp_path / "TB" / f"{name}.dot").read_text()
        assert "rankdir=LR;" in (tmp_path / "LR" / f"{name}.dot").read_text()


def test_top_to_bottom_without_graphviz(tmp_path, monkeypatch):
    """The built-in layout follows the direction too: the sources above, the outputs below, a narrower picture;
    and a direction that is neither is one line."""
    import backprop_lab as bl

    spec = parse_model("mlp:16,8", (8, 8, 1), 10)
    for graph in (network_graph(spec), backward_graph(spec)):
        graph.direction = "TB"
        pos = render_mod.layout(graph)[0]
        first, last = graph.nodes[0].id, graph.edges[-1].dst  # the input (or dL/dL) and the last node drawn
        assert pos[first][1] > pos[last][1], graph.name
    monkeypatch.setattr(render_mod.shutil, "which", lambda name: None)  # as on a fresh machine
    drawing = bl.draw(model="mlp:16,8", data="digits", out=tmp_path / "tb", rankdir="tb")
    assert drawing.renderer == "matplotlib" and [g.direction for g in drawing.graphs] == ["TB"] * 3
    tw, th = _svg_size(tmp_path / "tb" / "backward.svg")
    lw, lh = _svg_size(render_mod.draw_matplotlib(backward_graph(spec), tmp_path / "lr.svg"))
    assert tw / th < lw / lh
    with pytest.raises(bl.BplabError, match=r"--rankdir: LR \(left to right, the default\) or TB"):
        bl.draw(model="mlp:16,8", data="digits", out=tmp_path / "x", rankdir="BT")
    from helpers.cli import bplab

    result = bplab("draw", "--model", "mlp:16,8", "--data", "digits", "--rankdir", "diagonal", "--out", tmp_path / "x")
    assert result.returncode == 2 and result.stderr.strip() == (
        "error: --rankdir: LR (left to right, the default) or TB (top to bottom), got 'diagonal'"
    )
    assert not (tmp_path / "x").exists()
