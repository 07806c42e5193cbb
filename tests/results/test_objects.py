"""The API's small result objects: a model's summary, parameter count and initial weights, a gradient check's
verdict, the derived equations and chains in LaTeX, a drawing's pictures, an export's files, a data set's info
read back from JSON, and a study's sections by key."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from backprop_lab.analysis.gradient_check import GradRow
from backprop_lab.core.errors import BplabError
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.objects import Chains, DataInfo, Drawing, Equations, Exported, GradCheck, Model, StudyReport
from backprop_lab.spec.model import parse_model

MLP16 = Model("mlp:16", "digits", parse_model("mlp:16", (8, 8, 1), 10))


def test_a_models_summary_counts_its_parameters():
    summary = MLP16.summary()
    assert [r.params for r in summary.layers] == [0, 64 * 16 + 16, 16 * 10 + 10]
    assert summary.total == summary.trainable == MLP16.parameters == 1210 and summary.non_trainable == 0
    assert summary.to_dict()["layers"][1] == {
        "layer": "dense_0 (Dense)",
        "output_shape": "(None, 16)",
        "params": 1040,
        "detail": "relu",
    }
    assert repr(MLP16) == "Model(mlp:16 on digits: 3 layers, 1,210 parameters)"
    assert "mlp:16 on digits (input (8, 8, 1))" in MLP16._repr_html_()


def test_initial_weights_depend_on_the_seed_and_start_with_zero_biases():
    w = MLP16.initial_weights(seed=3)
    assert {k: v.shape for k, v in w.items()} == {
        "dense_0/kernel": (64, 16),
        "dense_0/bias": (16,),
        "dense_1/kernel": (16, 10),
        "dense_1/bias": (10,),
    }
    assert not w["dense_0/bias"].any() and w["dense_0/kernel"].dtype == np.float32
    assert np.array_equal(w["dense_0/kernel"], MLP16.initial_weights(seed=3)["dense_0/kernel"])
    assert not np.array_equal(w["dense_0/kernel"], MLP16.initial_weights(seed=4)["dense_0/kernel"])
    assert MLP16.initial_weights(init="zeros", dtype="float64")["dense_1/kernel"].dtype == np.float64
    with pytest.raises(BplabError, match="--init: unknown initializer 'bogus'"):
        MLP16.initial_weights(init="bogus")


def test_a_gradient_check_passes_only_when_every_tensor_does():
    rows = [GradRow("dense_0/kernel", (4, 3), 12, 1e-9), GradRow("dense_0/bias", (3,), 3, 2e-3)]
    check = GradCheck("mlp:3", 1e-6, rows)
    assert not check.passed and check.worst == 2e-3
    assert repr(check) == "GradCheck(2 tensors, worst relative error 2.00e-03, FAILED)"
    assert GradCheck("mlp:3", 1e-6, rows[:1]).passed
    assert check.to_dict()["rows"][1]["passed"] is False


def test_equations_and_chains_show_themselves_in_latex():
    d = derive(parse_model("mlp:4", (3,), 2), TrainConfig())
    equations = Equations(d, "mlp:4")
    assert (
        len(equations.tex) == len(d.equations) and repr(equations) == f"Equations(mlp:4: {len(d.equations)} equations)"
    )
    assert equations._repr_latex_().split("\n") == [f"$${t}$$" for t in equations.tex]
    plain, latex = Chains("mlp:8", ["dC/dW[2] = x", "dC/db[2] = y"]), Chains("mlp:8", ["a", "b"], latex=True)
    assert repr(plain) == "dC/dW[2] = x\ndC/db[2] = y" and plain._repr_latex_() is None
    assert latex._repr_latex_() == "$$a$$\n$$b$$" and plain.to_dict() == {"model": "mlp:8", "chains": plain.chains}


def test_a_drawings_pictures_leave_out_the_equation_files():
    files = [Path(f"d/{n}") for n in ("network.svg", "forward.png", "equations.svg", "equations.tex", "backward.pdf")]
    drawing = Drawing("mlp:4", Path("d"), files, "matplotlib")
    assert [p.name for p in drawing.pictures] == ["network.svg", "forward.png", "backward.pdf"]
    assert repr(drawing) == "Drawing(mlp:4: 5 files in d, rendered by matplotlib)"


def test_an_export_names_the_files_it_wrote():
    assert repr(Exported(None, 1210, Path("a/train.py"), Path("a/data.npz"), "tape")) == (
        "Exported(a/train.py, a/data.npz, 1,210 parameters)"
    )
    assert repr(Exported(Path("m.keras"), 5)) == "Exported(m.keras, 5 parameters)"


def test_data_set_info_reads_back_from_its_json():
    info = DataInfo("pair", "generated", (5,), 2, ["no", "yes"], 80, 20, [41, 39], validation=10)
    assert DataInfo.from_dict(info.to_dict()) == info
    assert repr(info) == "DataInfo(pair: 80 train, 20 test, input (5,), 2 classes)"


def test_a_studys_section_is_found_by_key_or_the_keys_are_named():
    sections = [SimpleNamespace(key="engines"), SimpleNamespace(key="cnn")]
    study = StudyReport(Path("s"), Path("s/report.html"), Path("s/report.md"), sections, seconds=3.21)
    assert study.section("cnn") is sections[1]
    with pytest.raises(BplabError, match=r"the study has no section 'nope' \(it has engines, cnn\)"):
        study.section("nope")
    assert repr(study) == "StudyReport(2 sections in 3.2 s; report s/report.html)"
