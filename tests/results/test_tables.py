"""One table model, three renderings: the terminal, HTML and Markdown show the same cells."""

import io
import xml.etree.ElementTree as ET

from rich.console import Console

from backprop_lab.results.tables import Table, history_table
from backprop_lab.training import EpochRecord, History


def _history():
    h = History()
    h.epochs = [EpochRecord(1, 0.5, 0.8, 0.1, 0.1, 0.6, 0.78), EpochRecord(2, 0.3, 0.9, 0.1, 0.1, 0.4, 0.88)]
    return h


def test_the_same_cells_in_every_rendering():
    table = history_table("Per-epoch figures", _history())
    cells = [c for row in table.rows for c in row]
    assert "0.3000" in cells and "0.8800" in cells
    page = ET.fromstring(table.to_html())
    assert [td.text for td in page.iter("td")] == cells
    assert [th.text for th in page.iter("th")] == table.header
    md = table.to_markdown().splitlines()
    assert md[0] == "**Per-epoch figures**" and md[2].startswith("| epoch |") and len(md) == 4 + len(table.rows)
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(table.to_rich())
    text = buffer.getvalue()
    assert all(c in text for c in cells) and "Per-epoch figures" in text


def test_text_is_escaped_and_pipes_kept_in_markdown():
    table = Table("a <b> | c", ["x|y", "z"], [["<script>", "1|2"]])
    assert "<script>" not in table.to_html() and "&lt;script&gt;" in table.to_html()
    assert "x\\|y" in table.to_markdown() and "1\\|2" in table.to_markdown()


def test_the_study_report_uses_the_page_css_not_inline_styles():
    assert "style=" not in Table("c", ["a"], [["1"]]).to_html(styled=False)
