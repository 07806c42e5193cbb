"""One version: the package, the installed metadata and the run records' versions agree."""

import importlib.metadata
import re

import backprop_lab
from backprop_lab.core.version import __version__
from backprop_lab.runs.record import versions


def test_the_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*(\.dev\d+)?", __version__)


def test_the_package_and_the_run_records_report_the_same_version():
    assert backprop_lab.__version__ == __version__
    assert versions()["backprop_lab"] == __version__


def test_the_installed_metadata_reads_the_same_version():
    assert importlib.metadata.version("backprop-lab") == __version__
