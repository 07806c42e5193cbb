"""Section 7: the course's own code, shipped with the package, and what check-code finds in it."""

from pathlib import Path

from backprop_lab.studies.sections.numpy33 import COURSE_CODE, course_code_check, course_code_reading

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_course_code_shipped_with_the_package_is_the_examples_file():
    assert COURSE_CODE.read_bytes() == (EXAMPLES / "learner" / "course_two_layer.py").read_bytes()


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
