"""What every section shares: a section's record, read back as a finished section is."""

import json

from backprop_lab.studies.report import write_html, write_markdown
from backprop_lab.studies.sections.common import Section


def test_a_sections_links_are_in_both_reports_relative_to_the_study_folder(tmp_path):
    (tmp_path / "sections" / "equations").mkdir(parents=True)
    (tmp_path / "sections" / "equations" / "explorer.html").write_text("<html></html>")
    section = Section(
        "equations", "Equations", "reading", "bplab draw", links=[("sections/equations/explorer.html", "the page")]
    )
    again = Section.from_dict(json.loads(json.dumps(section.to_dict())))  # as a finished section is read back
    assert again.links == [("sections/equations/explorer.html", "the page")]
    html = write_html(tmp_path / "report.html", tmp_path, "t", "s", [again], set(), []).read_text()
    md = write_markdown(tmp_path / "report.md", "t", "s", [again], []).read_text()
    assert '<a href="sections/equations/explorer.html">the page</a>' in html and "<script" not in html
    assert "[the page](sections/equations/explorer.html)" in md
