"""``bplab explore`` (cli/explore_cmd.py): the page written offline, a second run and a bad option refused with
one line, nothing already written lost."""

from pathlib import Path

from helpers.cli import bplab

WEIGHTS = Path(__file__).resolve().parents[2] / "examples" / "published-2-2-2.json"


def test_the_command_writes_the_page_and_refuses_bad_options(tmp_path):
    out = tmp_path / "page.html"
    args = ["explore", "--weights", WEIGHTS, "--input", "0.05,0.10", "--target", "0.01,0.99"]
    args += ["--loss", "half_squared_error", "--lr", "0.5", "--out", out]
    done = bplab(*args, timeout=120)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "<script src" not in text and "http://" not in text.replace("http://www.w3.org/", "")
    assert 'aria-live="polite"' in text and "backprop-lab-explorer" in text
    again = bplab(*args, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert out.read_text(encoding="utf-8") == text, "nothing already written is lost"
    bad = bplab(*args[:-2], "--out", tmp_path / "other.html", "--layout", "diagonal", timeout=120)
    assert bad.returncode == 2 and "--layout" in bad.stderr
    assert not (tmp_path / "other.html").exists()
