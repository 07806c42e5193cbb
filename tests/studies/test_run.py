"""Running a study (studies/run.py): a relative --out folder, the code digest, and a finished section reused only
by the same code."""

import json

from helpers.cli import bplab

from backprop_lab.studies import load_study


def test_a_relative_out_folder_works_for_sections_that_read_their_sweeps_runs(tmp_path):
    """Regression: a sweep records its run folders relative to where it ran; the sections read them back."""
    study = tmp_path / "s.toml"
    study.write_text(
        'data = "digits"\nmodel = "mlp:16"\nseeds = 1\nepochs = 1\n'
        'sections = ["numpy33", "experiments"]\n[numpy33]\nepochs = 3\n'
        '[experiments]\npresets = ["batch"]\n[presets.quick]\n'
    )
    result = bplab("study", study, "--out", "runs/study", "--quiet", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "runs" / "study" / "report.html").is_file()


def test_code_digest_follows_the_code_and_not_its_caches(tmp_path):
    from backprop_lab.studies.run import code_digest

    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "claims.py").write_text("RATIO = 0.5\n")
    before = code_digest.__wrapped__(tmp_path / "pkg")
    (tmp_path / "pkg" / "__pycache__" / "claims.cpython-311.pyc").write_bytes(b"\0compiled")
    assert code_digest.__wrapped__(tmp_path / "pkg") == before
    (tmp_path / "pkg" / "claims.py").write_text("RATIO = 2 / 3\n")
    assert code_digest.__wrapped__(tmp_path / "pkg") != before


def test_a_finished_section_is_reused_only_by_the_same_code(tmp_path, monkeypatch):
    """A verdict rule fixed in the code must not leave the old verdict in a re-run's report."""
    import dataclasses

    from backprop_lab.studies import run as study_run

    study = dataclasses.replace(load_study(None, "quick", data="digits"), sections=["network"])
    monkeypatch.setattr(study_run, "code_digest", lambda: "code-1")
    first = study_run.run_study(study, tmp_path / "report", "test")
    again = study_run.run_study(study, tmp_path / "report", "test")
    monkeypatch.setattr(study_run, "code_digest", lambda: "code-2")
    changed = study_run.run_study(study, tmp_path / "report", "test")
    assert (first.cached, again.cached, changed.cached) == (set(), {"network"}, set())
    record = json.loads((tmp_path / "report" / "sections" / "network" / "section.json").read_text())
    assert record["fingerprint"]["code"] == "code-2"
