"""The user's error type: one line, control characters escaped, the subclasses caught as BplabError."""

import pytest

from backprop_lab.core.errors import BplabError, DataError, SpecError, first_line, printable


def test_first_line_keeps_the_first_line_cut_to_200_characters():
    assert first_line(ValueError("  bad value\nsecond line\n")) == "bad value"
    assert first_line(ValueError("x" * 500)) == "x" * 200


def test_first_line_of_an_empty_message_is_the_type_name():
    assert first_line(KeyError()) == "KeyError"
    assert first_line(RuntimeError("   \n ")) == "RuntimeError"


def test_printable_escapes_line_breaks_and_control_characters_and_keeps_the_rest():
    assert printable("key 'a\nb'") == "key 'a\\nb'"
    assert printable("tab\there\x1b[31m") == "tab\\there\\x1b[31m"
    assert printable("épsilon η, spaces kept") == "épsilon η, spaces kept"
    assert "\n" not in printable("one\r\ntwo") and len(printable("one\r\ntwo").splitlines()) == 1


@pytest.mark.parametrize("error", [SpecError, DataError])
def test_spec_and_data_errors_are_caught_as_the_users_error(error):
    with pytest.raises(BplabError, match="layer 2"):
        raise error("layer 2: bad")
