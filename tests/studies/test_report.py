"""The report files (studies/report.py): pictures inlined, text escaped, a wide picture given its own scroll box,
sections' figures and tables in reading order, and the verdict of each claim in its section and the summary."""

import re
import struct
import zlib

from backprop_lab.results.tables import Table
from backprop_lab.studies.claims import CLAIMS, Verdict
from backprop_lab.studies.report import _blocks, wide_width, write_html, write_markdown
from backprop_lab.studies.sections.common import Section


def _png(path, width, height):
    """A valid one-colour PNG of the given size."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    return path


def test_only_a_picture_much_wider_than_the_page_and_than_it_is_tall_scrolls(tmp_path):
    assert wide_width(_png(tmp_path / "wide.png", 3000, 400)) == 2200  # capped
    assert wide_width(_png(tmp_path / "w.png", 1800, 500)) == 1800
    assert wide_width(_png(tmp_path / "page.png", 1500, 400)) is None  # within 1.6 pages
    assert wide_width(_png(tmp_path / "tall.png", 2000, 900)) is None  # not three times as wide as tall
    (tmp_path / "a.svg").write_text("<svg/>")
    assert wide_width(tmp_path / "a.svg") is None


def test_paired_sections_interleave_figures_and_tables_others_show_figures_first():
    t1, t2 = Table("one", ["a"], [["1"]]), Table("two", ["a"], [["2"]])
    images = ["f1", "f2"]
    kinds = lambda blocks: [(b["kind"], b["item"] if b["kind"] == "figure" else b["item"].caption) for b in blocks]  # noqa: E731
    assert kinds(_blocks(Section("k", "K", tables=[t1, t2], paired=True), images)) == [
        ("figure", "f1"),
        ("table", "one"),
        ("figure", "f2"),
        ("table", "two"),
    ]
    assert kinds(_blocks(Section("k", "K", tables=[t1, t2]), images))[:2] == [("figure", "f1"), ("figure", "f2")]


def test_the_html_inlines_pictures_escapes_text_and_shows_each_verdict(tmp_path):
    (tmp_path / "sections" / "net").mkdir(parents=True)
    _png(tmp_path / "sections" / "net" / "p.png", 40, 20)
    claim = next(iter(CLAIMS))
    section = Section(
        "net",
        "The <network>",
        "a < b & c",
        "bplab draw",
        figures=[("sections/net/p.png", "caption <1>")],
        tables=[Table("T & U", ["x"], [["<y>"]])],
        verdicts=[Verdict(claim, "holds", "ratio 0.4", "below the 0.5 the claim needs").to_dict()],
    )
    html = write_html(tmp_path / "report.html", tmp_path, "Title", "sub", [section], set(), []).read_text()
    assert "data:image/png;base64," in html and 'src="sections/' not in html  # one file, nothing to fetch
    assert "The &lt;network&gt;" in html and "a &lt; b &amp; c" in html and "&lt;y&gt;" in html
    assert "<network>" not in html and "<y>" not in html
    assert CLAIMS[claim].text.split()[0] in html and "ratio 0.4" in html
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", html)
    md = write_markdown(tmp_path / "report.md", "Title", "sub", [section], []).read_text()
    assert "The <network>" in md and "**Verdict: holds.** ratio 0.4. below the 0.5 the claim needs." in md
