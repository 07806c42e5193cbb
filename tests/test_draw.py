"""Pictures and equation files generated from the derivation: the network diagram, files, both renderers."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from backprop_lab.maths.equations import derive
from backprop_lab.maths.graphs import backward_graph as backward_of
from backprop_lab.maths.graphs import forward_graph as forward_of
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model
from backprop_lab.viz import render as render_mod
from backprop_lab.viz.equations import write_equations
from backprop_lab.viz.network import network_graph

MLP = parse_model("mlp:256,128,64", (28, 28, 1), 10)


def forward_graph(spec, loss="categorical_crossentropy", l2=0.0):
    return forward_of(derive(spec, TrainConfig(loss=loss, l2=l2)))


def backward_graph(spec, loss="categorical_crossentropy", l2=0.0):
    return backward_of(derive(spec, TrainConfig(loss=loss, l2=l2)))


def test_network_graph_truncates_and_labels():
    g = network_graph(MLP, [str(i) for i in range(10)])
    captions = [n.label for n in g.by_kind("caption")]
    assert captions[0].startswith("input X (28, 28, 1)") and "784 pixels" in captions[0]
    assert "256 units" in captions[1] and "relu" in captions[1] and "softmax" in captions[-1]
    # the diagram names the layers as the equations do (W[1]); dense_0 is only for files
    for layer, caption in zip(derive(MLP, TrainConfig()).layers, captions[1:]):
        assert caption.startswith(f"layer {layer.l}: ") and f"W[{layer.l}], b[{layer.l}]" in caption
    assert not any("dense" in c for c in captions)
    outputs = [n.label for n in g.nodes if n.group == "dense_3" and n.kind == "neuron"]
    assert outputs == [str(i) for i in range(10)]
    assert sum(1 for n in g.by_kind("ellipsis")) == 4  # input and three hidden layers are truncated


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


def test_equation_files(tmp_path):
    paths = write_equations(MLP, TrainConfig(l2=1e-4, optimizer="adam"), tmp_path, "test")
    md, tex, page, svg = (
        next(p for p in paths if p.name == f"equations.{x}").read_text() for x in ("md", "tex", "html", "svg")
    )
    assert r"\delta^{[4]} = \frac{A^{[4]} - Y}{m}" in md
    assert r"\delta^{[3]} = \left(\delta^{[4]} {W^{[4]}}^\top\right) \odot \mathbf{1}\left[Z^{[3]} > 0\right]" in md
    assert r"dW^{[1]} = {A^{[0]}}^\top \delta^{[1]} + 2 \lambda\, W^{[1]}" in md
    assert "`δ[3] = (δ[4] W[4]ᵀ) ⊙ 1[Z[3] > 0]`" in md  # the plain-text form beside the TeX
    assert "\\beta_{1}" in md and tex.startswith("\\documentclass")
    body = (tmp_path / "equations.body.tex").read_text()  # the fragment for slides: no preamble, lined up at &=
    assert "\\documentclass" not in body and body in tex
    lines = [x for x in body.splitlines() if x and not x.startswith(("\\section", "\\begin{align", "\\end{align"))]
    assert len(lines) == len(derive(MLP, TrainConfig(l2=1e-4, optimizer="adam")).equations)
    assert all(x.count("&=") + x.count("&\\leftarrow") == 1 for x in lines), lines
    assert ET.fromstring(svg).tag.endswith("svg")
    # the HTML is well-formed MathML, one block per equation
    blocks = [b.split("</math>")[0] for b in page.split('<math display="block">')[1:]]
    assert len(blocks) == len(derive(MLP, TrainConfig(l2=1e-4)).equations)
    for b in blocks:
        ET.fromstring(f"<math>{b}</math>")
    # layer 1's chain-rule form walks back through W[4], W[3], W[2] in that order
    chain = next(l for l in md.splitlines() if l.startswith("`dW[1] = A[0]ᵀ (") and "W[4]" in l)
    assert chain.index("W[4]ᵀ") < chain.index("W[3]ᵀ") < chain.index("W[2]ᵀ")


def test_equations_html_renders_in_chromium(tmp_path):
    from helpers.browser import MATH_SIZES, chromium

    paths = write_equations(parse_model("cnn:4/dropout=0.2", (10, 10, 1), 3), TrainConfig(l2=1e-3), tmp_path, "t")
    page = next(p for p in paths if p.suffix == ".html")
    with chromium() as browser:
        browser.get(page.resolve().as_uri())
        sizes = browser.execute_script(MATH_SIZES)
        assert sizes and all(w > 10 and h > 5 for w, h, _ in sizes), sizes


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


def test_draw_in_the_columns_layout(tmp_path):
    from helpers.cli import bplab

    out = tmp_path / "d"
    result = bplab(
        "draw", "--model", "mlp:6", "--data", "digits", "--renderer", "matplotlib", "--layout", "columns", "--out", out
    )
    assert result.returncode == 0, result.stderr
    md = (out / "equations.md").read_text()
    assert "`Z[1] = W[1] A[0] + b[1]`" in md and "`dW[1] = δ[1] A[0]ᵀ`" in md
    assert "W[1] (6, 64)" in (out / "forward.dot").read_text()  # the graph's W is (out, in) too
    conv = bplab("draw", "--model", "cnn:2", "--data", "digits", "--layout", "columns", "--out", tmp_path / "c")
    assert conv.returncode == 2 and "written for dense networks" in conv.stderr and not (tmp_path / "c").exists()


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
