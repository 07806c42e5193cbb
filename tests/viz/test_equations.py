"""Equation files: Markdown with TeX and plain text, LaTeX (whole and as a body for slides), MathML HTML, SVG."""

import xml.etree.ElementTree as ET

from helpers.graphs import MLP

from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model
from backprop_lab.viz.equations import write_equations


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
