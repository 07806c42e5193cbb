"""Notebook HTML pieces: text is escaped, a result is one well-formed element, pictures are inlined by kind."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

from backprop_lab.viz import html


def test_text_and_attributes_are_escaped():
    assert html.esc('<b>a & "b"</b>') == "&lt;b&gt;a &amp; &quot;b&quot;&lt;/b&gt;"
    assert html.paragraph("x < 1 & y > 2") == "<p>x &lt; 1 &amp; y &gt; 2</p>"
    assert html.pre("<script>") == '<pre style="white-space:pre-wrap">&lt;script&gt;</pre>'


def test_a_block_is_one_well_formed_element_with_its_escaped_title_and_table():
    root = ET.fromstring(html.block("loss <&> accuracy", html.table(["name", "value"], [["<a>", 0.5]], "cap")))
    assert root.tag == "div" and "".join(root[0].itertext()) == "loss <&> accuracy"
    cells = ["".join(td.itertext()) for td in root.iter("td")]
    assert cells == ["<a>", "0.5"]


def test_numbers_and_missing_values():
    assert html.num(0.123456) == "0.1235" and html.num(2, 1) == "2.0" and html.num(None) == "-"


def test_pictures_are_inlined_svg_data_uri_png_or_a_link(tmp_path):
    svg = tmp_path / "a.svg"
    svg.write_text('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>')
    assert html.picture(svg) == '<div><svg xmlns="http://www.w3.org/2000/svg"><g/></svg></div>'
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG data")
    img = ET.fromstring(html.picture(png, 'say "hi"'))[0]
    assert img.attrib["alt"] == 'say "hi"'
    assert base64.b64decode(img.attrib["src"].removeprefix("data:image/png;base64,")) == b"\x89PNG data"
    assert html.picture(tmp_path / "x&y.pdf") == f'<p><a href="{tmp_path.as_posix()}/x&amp;y.pdf">x&amp;y.pdf</a></p>'


def test_strip_tags_leaves_the_text():
    assert html.strip_tags('<p>a <b class="x">bold</b> word</p>') == "a bold word"
