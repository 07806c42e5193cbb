import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's cache, and none reaches the network by accident."""
    monkeypatch.setenv("BPLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BPLAB_OFFLINE", "1")
    monkeypatch.delenv("BPLAB_DATA", raising=False)
