"""Tests mirror src/: the tests of ``src/backprop_lab/a/b.py`` live in ``tests/a/test_b.py``. The modules that
have no such file yet would be listed here: none are. No new module may join the list."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "backprop_lab"
WITHOUT_A_MIRRORED_TEST: set[str] = set()


def modules_without_a_mirrored_test() -> set[str]:
    return {
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "__init__.py" and not (ROOT / "tests" / p.relative_to(SRC).parent / f"test_{p.stem}.py").exists()
    }


def test_no_new_module_lacks_its_mirrored_test():
    new = modules_without_a_mirrored_test() - WITHOUT_A_MIRRORED_TEST
    assert not new, f"modules without tests/<path>/test_<name>.py: {sorted(new)}"


def test_the_list_of_modules_without_one_only_shrinks():
    done = WITHOUT_A_MIRRORED_TEST - modules_without_a_mirrored_test()
    assert not done, f"these now have their mirrored test (or are gone): take them off the list: {sorted(done)}"


def test_test_files_outside_packages_have_unique_names():
    """pytest imports a test file outside a package by its bare name: two of one name break the collection."""
    seen: dict[str, Path] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if (path.parent / "__init__.py").exists():
            continue
        assert path.name not in seen, f"{path} and {seen[path.name]}: give one folder an __init__.py or rename"
        seen[path.name] = path
