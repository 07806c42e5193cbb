"""The quick preset reaches the same verdicts as the full one (with fewer seeds and epochs, so wider
intervals): both presets run on mnist-5k, every section that tests a claim, and no verdict flips."""

from __future__ import annotations

import json
import re

import pytest
from helpers.cli import bplab

from backprop_lab.studies import reference_text
from backprop_lab.studies.claims import CLAIMS, FAILS, HOLDS, UNSURE

CLAIM_SECTIONS = ["engines", "numpy33", "experiments", "blend", "cnn", "transfer"]


def kind(verdict: str) -> str:
    """holds / does not hold / cannot tell (the number of seeds in "cannot tell with N seeds" differs by design)."""
    for word in (HOLDS, FAILS, UNSURE):
        if verdict.startswith(word):
            return word
    raise AssertionError(f"not a verdict: {verdict!r}")


def verdicts(out) -> dict[str, dict]:
    found = {}
    for key in CLAIM_SECTIONS:
        doc = json.loads((out / "sections" / key / "section.json").read_text())
        found.update({v["claim"]: v for v in doc["section"]["verdicts"]})
    return found


@pytest.mark.slow
def test_quick_and_full_presets_reach_the_same_verdicts_on_mnist_5k(tmp_path):
    study = tmp_path / "claims.toml"
    text, n = re.subn(r"(?m)^sections = \[[^\]]*\]", f"sections = {json.dumps(CLAIM_SECTIONS)}", reference_text())
    assert n == 1
    study.write_text(text)
    # one BLAS thread: the suite runs two test processes on two cores, and OpenBLAS threads that wait for a busy
    # core spin instead of working (the hand-written engine's epoch times, which two verdicts read, would then
    # measure the other test process)
    env = {"OPENBLAS_NUM_THREADS": "1"}
    found = {}
    for preset in ("quick", "full"):
        out = tmp_path / preset
        result = bplab(
            "study",
            study,
            "--preset",
            preset,
            "--data",
            "mnist-5k",
            "--out",
            out,
            "--quiet",
            env_extra=env,
            timeout=900,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        found[preset] = verdicts(out)
    assert set(found["quick"]) == set(found["full"]) == set(CLAIMS)
    flips = [
        f"{key}: quick {found['quick'][key]['verdict']} ({found['quick'][key]['measured']}) vs full "
        f"{found['full'][key]['verdict']} ({found['full'][key]['measured']})"
        for key in CLAIMS
        if kind(found["quick"][key]["verdict"]) != kind(found["full"][key]["verdict"])
    ]
    assert not flips, "\n".join(flips)
    # the presets differ where they should: more seeds in the full one
    engines = {p: json.loads((tmp_path / p / "sections" / "engines" / "section.json").read_text()) for p in found}
    assert engines["quick"]["fingerprint"]["settings"]["seeds"] < engines["full"]["fingerprint"]["settings"]["seeds"]
