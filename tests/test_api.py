"""The Python API: one function per command (checked both ways against the CLI's command list),
the command's option names and defaults, the same results as the command for the same options,
the command's one-line message in a BplabError, and results that show themselves (parsed)."""

from __future__ import annotations

import inspect
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import typer
from helpers.cli import bplab

import backprop_lab as bl
from backprop_lab import api
from backprop_lab.cli import app
from backprop_lab.results.objects import Model

SMALL = dict(data="digits", model="mlp:16", epochs=1, batch_size=64, seed=0)


def command_paths(command=None, prefix=()) -> dict[str, object]:
    command = command or typer.main.get_command(app)
    subs = getattr(command, "commands", None)
    if not subs:
        return {" ".join(prefix): command}
    return {k: v for name, sub in subs.items() for k, v in command_paths(sub, prefix + (name,)).items()}


COMMANDS = command_paths()


def parses(markup: str) -> ET.Element:
    """HTML or SVG as the results write it: well-formed XML under one root."""
    return ET.fromstring(markup)


def cli_json(*args) -> dict:
    result = bplab(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cli_error(*args) -> str:
    result = bplab(*args)
    assert result.returncode == 2, result.stderr
    return result.stderr.strip().removeprefix("error: ")


# --- the surface -------------------------------------------------------------------------------


def test_every_command_has_a_function_and_every_function_a_command():
    assert set(COMMANDS) == set(api.COMMANDS), "a command without an API function, or the other way round"
    assert set(bl.__all__) == set(api.COMMANDS.values()) | set(api.EXTRA) | {"BplabError"}
    for name in bl.__all__:
        assert callable(getattr(bl, name)), name
        assert "Example" in (getattr(bl, name).__doc__ or "") or name == "BplabError", f"bl.{name} has no example"


def test_no_module_shares_a_name_with_an_api_function_and_importing_all_keeps_them_functions():
    import importlib
    import pkgutil

    top = {m.name for m in pkgutil.iter_modules(bl.__path__)}
    assert not top & set(bl.__all__), top & set(bl.__all__)
    for m in pkgutil.walk_packages(bl.__path__, "backprop_lab."):
        importlib.import_module(m.name)
    assert all(inspect.isfunction(getattr(bl, name)) for name in bl.__all__ if name != "BplabError")


KEYWORD = {"--from": "from_", "--json": None, "--resume": None}  # --json prints what the result holds
DEFERRED = {"sweep": {"data", "model", "engine", "seeds"}}  # None in the API: the file's value, else the CLI's default
# bplab summary --weights-out FILE --seed N --init NAME is bl.model(...).initial_weights(seed=N, init=NAME): the API
# hands the arrays back instead of writing a file (--weights-out, --force).
METHOD = {"summary": ({"weights_out", "force"}, {"seed", "init"}, "initial_weights")}


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_options_have_the_commands_names_and_defaults(path):
    fn = getattr(bl, api.COMMANDS[path])
    file_only, on_method, method = METHOD.get(path, (set(), set(), None))
    for p in COMMANDS[path].params:
        if p.param_type_name == "argument":
            continue
        flag = max(p.opts, key=len)
        name = KEYWORD.get(flag, flag[2:].replace("-", "_"))
        if name is None or name in file_only:
            continue
        params = inspect.signature(getattr(Model, method) if name in on_method else fn).parameters
        assert name in params, f"bplab {path} {flag}: bl.{fn.__name__} has no {name!r}"
        default = params[name].default
        if name in DEFERRED.get(path, ()):
            assert default is None
            continue
        if p.required:
            continue
        cli_default = p.default
        same = (
            (str(default) == str(cli_default))
            if isinstance(cli_default, Path) or isinstance(default, Path)
            else default == cli_default
        )
        assert same, f"bplab {path} {flag}: default {cli_default!r}, bl.{fn.__name__}({name}={default!r})"


# --- same results as the commands ----------------------------------------------------------------


def test_model_and_data_give_the_commands_json():
    assert bl.model("cnn:32,64,64", data="mnist-5k").summary().to_dict() == cli_json(
        "summary", "cnn:32,64,64", "--data", "mnist-5k"
    )
    assert bl.data("digits").to_dict() == cli_json("data", "info", "digits")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    run = bl.train(engine="scratch", out=folder / "api-run", quiet=True, **SMALL)
    return folder, run


def test_train_gives_the_commands_numbers(trained):
    folder, run = trained
    doc = cli_json(
        "train",
        "--engine",
        "scratch",
        *sum((["--" + k.replace("_", "-"), str(v)] for k, v in SMALL.items()), []),
        "--out",
        folder / "cli-run",
    )
    assert run.history.step_loss == doc["history"]["step_loss"]
    assert run.test.to_dict() == doc["test"]
    assert run.test.accuracy == doc["test"]["accuracy"]
    assert run.test.per_class[3].f1 == doc["test"]["per_class"][3]["f1"]
    assert run.history.epochs[-1].test_loss == doc["history"]["epochs"][-1]["test_loss"]
    assert run.folder == folder / "api-run" and (run.folder / "confusion.png").is_file()


def test_gradcheck_and_check_derivation_give_the_commands_results():
    check = bl.gradcheck(model="mlp:8", data="digits", entries=5)
    doc = cli_json("gradcheck", "--model", "mlp:8", "--data", "digits", "--entries", "5")
    assert check.to_dict() == doc and check.passed
    chains = bl.check_derivation(model="mlp:16,8", show_chains=True)
    assert chains.to_dict() == cli_json("check-derivation", "--model", "mlp:16,8", "--show-chains")


def test_derive_prints_what_the_command_prints():
    args = dict(
        model="mlp:2/act=sigmoid/out=sigmoid",
        weights=Path(__file__).parent.parent / "examples" / "published-2-2-2.json",
        input=["0.05,0.10"],
        target=["0.01,0.99"],
        loss="half_squared_error",
        lr=0.5,
        fixed_biases=True,
    )
    example = bl.derive(**args)
    result = bplab(
        "derive",
        "--model",
        args["model"],
        "--weights",
        args["weights"],
        "--input",
        "0.05,0.10",
        "--target",
        "0.01,0.99",
        "--loss",
        "half_squared_error",
        "--lr",
        "0.5",
        "--fixed-biases",
    )
    assert result.returncode == 0, result.stderr
    assert example.to_markdown().split() == result.stdout.split()
    assert f"{example.losses[0]:.9g}" == "0.298371109"  # the classic example's first loss
    assert (
        bl.derive(
            model=args["model"],
            input=[[0.05, 0.10]],
            target=[[0.01, 0.99]],
            weights=args["weights"],
            loss="half_squared_error",
            lr=0.5,
            fixed_biases=True,
        ).losses
        == example.losses
    )


def test_sweep_gives_the_commands_cells(tmp_path):
    res = bl.sweep(grid={"optimizer": ["sgd", "adam"]}, seeds=1, out=tmp_path / "api", quiet=True, **SMALL)
    doc = cli_json(
        "sweep",
        "--grid",
        "optimizer=sgd,adam",
        "--seeds",
        "1",
        "--data",
        "digits",
        "--model",
        "mlp:16",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--out",
        tmp_path / "cli",
    )
    key = [(c["cell"], c["test_acc_mean"]) for c in doc["cells"]]
    assert [(c["cell"], c["test_acc_mean"]) for c in res.rows()] == key
    assert res.folder == tmp_path / "api" and (res.folder / "results.md").is_file()
    html = res._repr_html_()
    parses(html)
    assert f"{res.cells[0].mean:.4f}" in html and "95% interval" in html


def test_resume_load_evaluate_export_and_transfer(trained, tmp_path):
    folder, run = trained
    again = bl.resume(run.folder)  # complete: loaded as it is
    assert again.test.accuracy == run.test.accuracy
    loaded = bl.load(run.folder)
    assert loaded.history.step_loss == run.history.step_loss
    evaluation = bl.evaluate(run.folder, out=tmp_path / "eval")
    assert evaluation.accuracy == run.test.accuracy and evaluation.files[1].is_file()
    assert evaluation.test.to_dict() == cli_json("evaluate", run.folder, "--out", tmp_path / "eval-cli")
    html = evaluation._repr_html_()
    parses(html)
    assert f"{evaluation.accuracy:.4f}" in html
    exported = bl.export(run.folder, keras=tmp_path / "m.keras")
    assert exported.parameters == sum(run.spec.count_params()) and exported.path.is_file()
    assert bl.load(tmp_path / "m.keras").weights.keys() == run.weights.keys()
    moved = bl.transfer(run.folder, classes="3,8", epochs=1, out=tmp_path / "transfer", quiet=True)
    assert moved.classes and all(0 <= v.accuracy <= 1 for v in moved.variants)
    html = moved._repr_html_()
    parses(html)
    assert f"{moved.variants[0].accuracy:.4f}" in html


def test_blend_draw_and_study_reference(tmp_path):
    res = bl.blend(alphas=[0, 1], out=tmp_path / "blend", quiet=True, **SMALL)
    assert [c.cell.name for c in res.cells] and res.step_curves.is_file()
    assert res.cell(res.baseline).mean >= 0
    drawing = bl.draw(model="mlp:16", data="digits", out=tmp_path / "drawings", renderer="matplotlib")
    assert len(drawing.pictures) == 3 and all(p.is_file() for p in drawing.files)
    svg = parses(drawing._repr_svg_())
    assert svg.tag.endswith("svg")
    html = drawing._repr_html_()
    root = parses(html)
    assert sum(1 for e in root.iter() if e.tag.endswith("svg")) == 3 and "<math" in html
    assert "$$" in drawing.equations._repr_latex_()
    assert bl.study(print_reference=True) == bplab("study", "--print-reference").stdout


# --- display -----------------------------------------------------------------------------------


def test_results_show_themselves_with_their_numbers(trained):
    _, run = trained
    summary = bl.model("mlp:256,128,64", data="digits")
    html = summary._repr_html_()
    parses(html)
    assert "58,442" in html and "dense_0" in html
    info = bl.data("digits")
    parses(info._repr_html_())
    assert "1437" in info._repr_html_()
    html = run._repr_html_()
    root = parses(html)
    assert f"{run.test.accuracy:.4f}" in html and f"{run.history.epochs[-1].test_loss:.4f}" in html
    assert any(e.tag.endswith("svg") for e in root.iter()), "the curves inline"
    assert len(repr(run)) < 200 and "digits" in repr(run)
    check = bl.gradcheck(model="mlp:8", data="digits", entries=5)
    html = check._repr_html_()
    parses(html)
    assert f"{check.rows[0].rel_error:.2e}" in html
    worked = bl.derive(model="mlp:2/act=sigmoid/out=sigmoid", input=["0.05,0.10"], target=["0.01,0.99"])
    html = worked._repr_html_()
    parses(html)
    assert "<math" in html and f"{worked.losses[0]:.6g}" in html
    assert worked._repr_latex_().startswith("$$")
    derivation = Path(run.folder).parent / "derivation.txt"
    derivation.write_text("dC/dW[3] = dC/da[3] * da[3]/dz[3] * dz[3]/dW[3]\n")
    report = bl.check_derivation(derivation, model="mlp:16,8")
    html = report._repr_html_()
    parses(html)
    assert f"of {len(report.verdicts)} equations" in html


def test_comparison_shows_its_parity_table_and_drift(tmp_path):
    comparison = bl.compare(engines=["scratch", "tape"], quiet=True, **SMALL)
    html = comparison._repr_html_()
    root = parses(html)
    pair = comparison.pair("tape", "scratch")
    assert f"{pair.grad_rel:.2e}" in html and "scratch vs tape" in html
    assert sum(1 for e in root.iter() if e.tag.endswith("svg")) == 2, "curves and drift plot"
    assert pair.grad_rel < 1e-5


# --- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, args",
    [
        (lambda: bl.train(lr=-1.0, **{k: v for k, v in SMALL.items()}), ["train", "--lr", "-1", "--data", "digits"]),
        (lambda: bl.compare(engines="scratch", data="digits"), ["compare", "--engines", "scratch", "--data", "digits"]),
        (lambda: bl.draw(format="gif", data="digits"), ["draw", "--format", "gif", "--data", "digits"]),
        (lambda: bl.model("mlp:0", data="digits"), ["summary", "mlp:0", "--data", "digits"]),
    ],
)
def test_bad_arguments_raise_the_commands_message(call, args):
    with pytest.raises(bl.BplabError) as caught:
        call()
    assert str(caught.value) == cli_error(*args)


def test_bad_keywords_are_named():
    with pytest.raises(bl.BplabError, match="unknown option 'epoch' \\(did you mean 'epochs'\\?\\)"):
        bl.train(epoch=2, data="digits")
    with pytest.raises(bl.BplabError, match="--epochs: expected a whole number"):
        bl.train(epochs="2", data="digits")
    with pytest.raises(bl.BplabError, match="--steps: must be at least 1"):
        bl.derive(steps=0, input=["1,2"], target=["0,1"])
