"""The classroom pieces of the study's sections, without training anything: section 7's check of the course's
own code, section 4's small worked example and its explorer page, and the common-mistakes box."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from backprop_lab.studies.report import write_html, write_markdown
from backprop_lab.studies.sections import (
    COURSE_CODE,
    SMALL_WEIGHTS,
    Section,
    course_code_check,
    course_code_reading,
    small_worked_example,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_files_shipped_with_the_package_are_the_examples_files():
    assert COURSE_CODE.read_bytes() == (EXAMPLES / "learner" / "course_two_layer.py").read_bytes()
    assert SMALL_WEIGHTS.read_bytes() == (EXAMPLES / "published-2-2-2.json").read_bytes()


def test_section_7_says_what_check_code_finds_in_the_course_code_and_in_a_broken_one():
    course = course_code_check("mlp:128")
    assert course.verdict == "correct" and len(course.tensors) == 11
    assert all(t.status == "ok" for t in course.tensors)
    reading = course_code_reading(course)
    assert "correct" in reading and "the 33% is the set-up's" in reading and "rows" in reading
    # the same words come from the checker, not from the section: a broken copy reads otherwise
    broken = course_code_check("mlp:128", EXAMPLES / "learner" / "broken_no_derivative.py")
    assert broken.verdict == "wrong" and broken.first_wrong.name == "dZ1"
    reading = course_code_reading(broken)
    assert "dZ1" in reading and "derivative" in reading and "fault of its own" in reading
    assert "the 33% is the set-up's" not in reading


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_section_4_works_the_2_2_2_example_as_plain_numpy_does_and_writes_its_explorer_page(tmp_path):
    example, page = small_worked_example(tmp_path)
    # an independent step, written out by hand: sigmoid layers, loss ½ Σ (a - y)², plain gradient descent lr 0.5
    w = {k: np.array(v) for k, v in json.loads(SMALL_WEIGHTS.read_text()).items()}
    x, y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    a1 = _sigmoid(x @ w["dense_0/kernel"] + w["dense_0/bias"])
    a2 = _sigmoid(a1 @ w["dense_1/kernel"] + w["dense_1/bias"])
    d2 = (a2 - y) * a2 * (1 - a2)
    d1 = d2 @ w["dense_1/kernel"].T * a1 * (1 - a1)
    assert np.isclose(example.loss_before, 0.5 * np.sum((a2 - y) ** 2), rtol=1e-12)
    np.testing.assert_allclose(example.weights["dense_1/kernel"], w["dense_1/kernel"] - 0.5 * a1.T @ d2, rtol=1e-12)
    np.testing.assert_allclose(example.weights["dense_0/kernel"], w["dense_0/kernel"] - 0.5 * x.T @ d1, rtol=1e-12)
    np.testing.assert_array_equal(example.weights["dense_0/bias"], w["dense_0/bias"])  # fixed, as published
    # every number is shown: no tensor written as a symbol for its size
    assert all("values)" not in line for line in example.to_markdown().splitlines())
    # the explorer page: one offline file (its own script; the report links to it and keeps none)
    html = page.read_text()
    assert page.parent == tmp_path and page.stat().st_size < 300_000
    assert "<script" in html and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)


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
