"""The Python API: one function per ``bplab`` command, with the command's option names and defaults
as keyword arguments, the same validation (a bad argument raises :class:`BplabError` with the
message the command prints) and a typed result that shows itself in a notebook.

    >>> import backprop_lab as bl
    >>> run = bl.train(engine="scratch", data="digits", model="mlp:16", epochs=2, out="runs/api", force=True)
    >>> run.test.accuracy, run.history.epochs[-1].test_loss

The ``bplab`` commands are a few lines over these functions (``cli/app.py``). Heavy modules
(TensorFlow, the engines) are imported by the functions that need them, so ``import backprop_lab``
is quick.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, Unpack

import numpy as np

from backprop_lab.analysis.comparison import compare as run_compare
from backprop_lab.analysis.comparison import parse_engines
from backprop_lab.analysis.derivation_check import dropout_masks, graph_values
from backprop_lab.classroom.choices import check_l2_form, choose_loss
from backprop_lab.classroom.code import DataSizes, check_file, check_source, make_net, source_of_functions
from backprop_lab.classroom.derivation import check_derivation as check
from backprop_lab.classroom.derivation import correct_chains
from backprop_lab.classroom.derivation.matrix import Model as MatrixModel
from backprop_lab.classroom.derivation.matrix import correct_lines, supported
from backprop_lab.classroom.exercises import ClassKeys, Setting, Student, check_ask, make_exercises, read_roster
from backprop_lab.classroom.explorer.page import ExplorerPage, build_page_data, render_html
from backprop_lab.classroom.grading import Scheme, grade_class
from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import atomic_write, make_folder
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import check_engine
from backprop_lab.experiments.blend import blend_plan, save_step_curves
from backprop_lab.experiments.presets import preset as preset_doc
from backprop_lab.experiments.sweep import normalise_key, parse_grid_arg, plan_from_document, read_sweep_file, run_sweep
from backprop_lab.experiments.transfer import transfer_from
from backprop_lab.maths.equations import derive as derivation_of
from backprop_lab.maths.layout import check_layout
from backprop_lab.maths.worked import worked_example
from backprop_lab.options.config import TrainConfig, config_from_options
from backprop_lab.options.registry import (
    COMPARE_DATA,
    COMPARE_ENGINES,
    DEFAULT_MODEL,
    GRADCHECK_BATCH,
    GRADCHECK_ENTRIES,
    GRADCHECK_MODEL,
    STUDY_OUT,
    STUDY_PRESET,
    TRAINING,
    WORKED_MODEL,
    TrainingOptions,
    check_names,
)
from backprop_lab.results.code_check import CodeCheck, CodeChecks
from backprop_lab.results.objects import (
    Chains,
    DataInfo,
    Drawing,
    Equations,
    Exported,
    GradCheck,
    Model,
    StudyReport,
    Transfer,
)
from backprop_lab.runs.evaluation import evaluate_model
from backprop_lab.runs.portable import export_keras, load_model
from backprop_lab.runs.record import load_run, read_weights
from backprop_lab.runs.script import export_script
from backprop_lab.runs.workflow import (
    default_run_folder,
    initial_weights,
    inspect_run,
    new_run_folder,
    prepare,
    resume_run,
    start_run,
    sweep_folder,
)
from backprop_lab.spec.model import parse_model
from backprop_lab.studies import load_study, reference_text, run_study
from backprop_lab.studies.notebook import write_study_notebook
from backprop_lab.studies.run import WEIGHTS
from backprop_lab.training import targets
from backprop_lab.training.progress import Reporter

if TYPE_CHECKING:
    import numpy as np

    from backprop_lab.analysis.comparison import Comparison
    from backprop_lab.classroom.derivation import CheckReport
    from backprop_lab.classroom.exercises import ExerciseSet
    from backprop_lab.classroom.explorer.page import ExplorerPage
    from backprop_lab.classroom.grading import GradeReport
    from backprop_lab.experiments.sweep import SweepResult
    from backprop_lab.maths.worked import WorkedExample
    from backprop_lab.results.code_check import CodeCheck, CodeChecks
    from backprop_lab.results.objects import (
        Chains,
        DataInfo,
        Drawing,
        Exported,
        GradCheck,
        Model,
        StudyReport,
        Transfer,
    )
    from backprop_lab.runs.evaluation import Evaluation
    from backprop_lab.runs.record import Run

PathLike = str | Path

# The command each function stands for ("bplab summary" is bl.model(...).summary()).
COMMANDS: dict[str, str] = {
    "summary": "model",
    "data info": "data",
    "train": "train",
    "gradcheck": "gradcheck",
    "compare": "compare",
    "draw": "draw",
    "evaluate": "evaluate",
    "export": "export",
    "transfer": "transfer",
    "sweep": "sweep",
    "blend": "blend",
    "study": "study",
    "derive": "derive",
    "explore": "explore",
    "check-derivation": "check_derivation",
    "check-code": "check_code",
    "exercise": "exercise",
    "grade": "grade",
}
EXTRA = ("resume", "load")  # train --resume, and reading a run back


def training_options(**defaults: Any) -> Callable:
    """Decorator: the function takes every training option as a keyword (``**options``), and its
    signature (``help()``, Jupyter's tooltips) lists them with their defaults (``defaults`` overrides some)."""

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
        params += [
            inspect.Parameter(
                o.name, inspect.Parameter.KEYWORD_ONLY, default=defaults.get(o.name, o.default), annotation=o.type
            )
            for o in TRAINING
        ]
        fn.__signature__ = sig.replace(parameters=params)
        fn.training_defaults = dict(defaults)
        return fn

    return decorate


def _config(where: str, options: dict[str, Any], defaults: dict[str, Any] | None = None):
    check_names(options, where)
    return config_from_options(options, defaults)


def _out(path: PathLike | None) -> Path | None:
    return None if path is None else Path(path)


def _reporter(quiet: bool):

    return Reporter(not quiet)


# ---------------------------------------------------------------------------------------------
# Looking: data, model, draw, derive, check_derivation


def data(name: str, data_dir: PathLike | None = None) -> DataInfo:
    """Sizes, shapes, classes and where the files came from (``bplab data info``).

    Example: ``bl.data("digits").train`` is 1437.
    """

    return DataInfo.from_dict(load_dataset(name, data_dir).info())


def model(description: str, data: str = "mnist-5k", data_dir: PathLike | None = None) -> Model:
    """A model built from its shorthand or spec file on a data set's input shape; ``.summary()`` is
    ``bplab summary``'s table and ``.initial_weights(seed=...)`` the starting weights every engine uses.

    Example: ``bl.model("cnn:32,64,64", data="mnist-5k").summary().total``
    """

    ds = load_dataset(data, data_dir)
    return Model(description, data, parse_model(description, ds.input_shape, ds.num_classes))


def draw(
    model: str = DEFAULT_MODEL,
    data: str = "mnist-5k",
    data_dir: PathLike | None = None,
    out: PathLike = "drawings",
    format: str = "svg",
    renderer: str = "auto",
    loss: str = "categorical_crossentropy",
    l2: float = 0.0,
    optimizer: str = "adam",
    lr: float | None = None,
    alpha: float = 0.0,
    force: bool = False,
    values: bool = False,
    run: PathLike | None = None,
    rows: int = 8,
    seed: int = 0,
    layout: str = "rows",
    rankdir: str = "LR",
) -> Drawing:
    """The network, its forward and backward computation graphs and its update equations, written to
    ``out`` (``bplab draw``); shown inline as SVG and MathML (Graphviz not needed). ``layout``: the equations
    and graphs in the rows layout (``Z = A W + b``, as the code runs it) or the columns one (``Z = W A + b``).
    ``rankdir``: the graphs laid out left to right (``"LR"``) or top to bottom (``"TB"``, nearer a 16:9 slide).

    Example: ``bl.draw(model="mlp:256,128,64", data="digits", out="drawings", force=True, layout="columns")``
    """
    from backprop_lab.viz.drawings import drawn_graphs, write_drawings
    from backprop_lab.viz.render import check_format, check_rankdir

    check_format(format, renderer)
    check_layout(layout)
    rankdir = check_rankdir(rankdir)
    if rows < 1:
        raise BplabError(f"--rows: must be at least 1, got {rows}")
    config = TrainConfig(loss=loss, l2=l2, optimizer=optimizer, lr=lr, alpha=alpha, seed=seed)
    setup = prepare(data, model, config, data_dir)
    run_path = _out(run)
    derivation = derivation_of(setup.spec, config, layout)  # before the folder: a conv net has no columns form
    labels = graph_values(setup, run_path, rows, layout) if values or run_path is not None else None
    folder = new_run_folder(Path(out), force)
    title = f"{model} on {data} ({loss}, {optimizer})"
    written, used = write_drawings(
        setup.spec, setup.dataset.class_names, config, folder, format, renderer, title, labels, layout, rankdir
    )
    graphs = drawn_graphs(setup.spec, setup.dataset.class_names, derivation, labels, rankdir)
    return Drawing(title, folder, written, used, graphs, Equations(derivation, title))


def parse_rows(values: Sequence[Any] | np.ndarray, what: str) -> np.ndarray:
    """Rows of numbers from '0.05,0.10' strings, one .csv file of rows, or numbers (lists, an array)."""

    if isinstance(values, (str, Path)):
        values = [values]
    values = list(values)
    if len(values) == 1 and isinstance(values[0], (str, Path)) and str(values[0]).lower().endswith(".csv"):
        path = Path(values[0])
        if not path.is_file():
            raise BplabError(f"{what} {path}: file not found")
        text = path.read_text(encoding="utf-8", errors="replace")
        values = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = []
    for item in values:
        if isinstance(item, str):
            try:
                row = [float(v) for v in item.replace(";", ",").split(",") if v.strip()]
            except ValueError:
                raise BplabError(f"{what}: expected numbers separated by commas, got {item!r}") from None
        else:
            try:
                row = [float(v) for v in np.atleast_1d(np.asarray(item, dtype=np.float64))]
            except (TypeError, ValueError):
                raise BplabError(f"{what}: expected numbers, got {item!r}") from None
        if not row or not all(math.isfinite(v) for v in row):
            raise BplabError(f"{what}: expected finite numbers separated by commas, got {item!r}")
        rows.append(row)
    if len({len(r) for r in rows}) != 1:
        raise BplabError(f"{what}: every row needs the same number of values, got {[len(r) for r in rows]}")
    return np.array(rows, dtype=np.float64)


@dataclass
class WorkedSetup:
    """What a worked example starts from (``derive`` and ``explore`` read the same options the same way)."""

    spec: Any
    config: Any
    weights: dict[str, Any]
    x: Any
    y: Any
    masks: dict[str, Any] | None
    title: str


def worked_setup(
    model: str,
    input: Sequence[Any] | None,
    target: Sequence[Any] | None,
    data: str | None,
    data_dir: PathLike | None,
    rows: int,
    weights: PathLike | None,
    run: PathLike | None,
    seed: int,
    init: str,
    loss: str,
    optimizer: str,
    lr: float | None,
    l2: float,
    momentum: float,
) -> WorkedSetup:
    """The network, weights, rows and training settings of a worked example, validated as ``bplab derive`` does."""

    input = input if input is not None and len(input) else None
    target = target if target is not None and len(target) else None
    for name, value, least in (
        ("--rows", rows, 1),
        ("--seed", seed, 0),
    ):
        if value < least:
            raise BplabError(f"{name}: must be at least {least}, got {value}")
    if weights is not None and run is not None:
        raise BplabError("--weights and --run both give the weights: choose one")
    config = TrainConfig(
        optimizer=optimizer, lr=lr, loss=loss, l2=l2, init=init, seed=seed, momentum=momentum, dtype="float64"
    )
    if data is not None:
        if input is not None or target is not None:
            raise BplabError("--data takes the rows from the data set: drop --input/--target")

        ds = load_dataset(data, data_dir)
        spec = parse_model(model, ds.input_shape, ds.num_classes)
        x = ds.x_train[:rows].astype(np.float64)
        y = targets(spec, ds.y_train[:rows], "float64")
        source = f"the first {len(x)} training row{'s' if len(x) > 1 else ''} of {data}"
    else:
        if input is None or target is None:
            raise BplabError("give the rows: --input 0.05,0.10 --target 0.01,0.99 (or --data NAME)")
        x, y = parse_rows(input, "--input"), parse_rows(target, "--target")
        if len(x) != len(y):
            raise BplabError(f"--target: {len(y)} rows for {len(x)} --input rows")
        spec = parse_model(model, (x.shape[1],), y.shape[1])
        source = f"{len(x)} row{'s' if len(x) > 1 else ''} given on the command line"
    if spec.output_shape != (y.shape[1],):
        raise BplabError(f"--target: the model has {spec.output_shape[0]} outputs, the targets {y.shape[1]} values")
    if run is not None:
        trained = load_run(run)
        if trained.spec.param_shapes() != spec.param_shapes():
            raise BplabError(f"--run {run}: its model is not --model {model}")
        w, where = trained.weights, f"the weights of {run}"
    elif weights is not None:
        try:
            w, where = read_weights(Path(weights), spec), f"the weights in {weights}"
        except BplabError as exc:
            if data is None and f"{spec.infos[0].name}/kernel has shape" in str(exc):
                # the first kernel's rows are the input's width: say which of the two sets it here
                raise BplabError(
                    f"{exc} (the spec's input width is the {x.shape[1]} value"
                    f"{'s' if x.shape[1] > 1 else ''} of each --input row)"
                ) from None
            raise
    else:
        w, where = initial_weights(spec, config), f"{init} initial weights (seed {seed})"
    derivation = derivation_of(spec, config)
    masks = dropout_masks(derivation, len(x), seed) if derivation.masks else None
    title = f"{model}: {source}, {where}; {loss}, {optimizer} lr {config.learning_rate:g}"
    return WorkedSetup(spec, config, w, x, y, masks, title)


def derive(
    model: str = WORKED_MODEL,
    input: Sequence[Any] | None = None,
    target: Sequence[Any] | None = None,
    data: str | None = None,
    data_dir: PathLike | None = None,
    rows: int = 1,
    weights: PathLike | None = None,
    run: PathLike | None = None,
    seed: int = 0,
    init: str = "glorot_uniform",
    loss: str = "mse",
    optimizer: str = "sgd",
    lr: float | None = None,
    l2: float = 0.0,
    momentum: float = 0.9,
    steps: int = 1,
    fixed_biases: bool = False,
    digits: int = 6,
    max_entries: int = 24,
    out: PathLike | None = None,
    force: bool = False,
    layout: str = "rows",
) -> WorkedExample:
    """A worked example (``bplab derive``): forward values, deltas, gradients and updated weights, each
    as its equation with symbols, then with the numbers substituted, then the result. ``layout``: rows
    (``Z = A W + b``, as the code runs it) or columns (``Z = W A + b``, every matrix transposed).

    Example: ``bl.derive(model="mlp:2/act=sigmoid/out=sigmoid", weights="examples/published-2-2-2.json",
    input=["0.05,0.10"], target=["0.01,0.99"], loss="half_squared_error", lr=0.5, fixed_biases=True)``
    """

    for name, value, least in (("--steps", steps, 1), ("--digits", digits, 1), ("--max-entries", max_entries, 1)):
        if value < least:
            raise BplabError(f"{name}: must be at least {least}, got {value}")
    check_layout(layout)
    setup = worked_setup(
        model, input, target, data, data_dir, rows, weights, run, seed, init, loss, optimizer, lr, l2, momentum
    )
    example = worked_example(
        setup.spec,
        setup.config,
        setup.weights,
        setup.x,
        setup.y,
        steps,
        fixed_biases,
        digits,
        max_entries,
        setup.masks,
        setup.title,
        layout,
    )
    if out is not None:
        folder = new_run_folder(Path(out), force)
        for name, text in (
            ("worked.md", example.to_markdown()),
            ("worked.tex", example.to_latex()),
            ("worked.body.tex", example.latex_body()),
            ("worked.html", example.to_html()),
        ):
            (folder / name).write_text(text, encoding="utf-8")
    return example


def exercise(
    out: PathLike | None = None,
    model: str = WORKED_MODEL,
    inputs: int = 2,
    outputs: int = 2,
    rows: int = 1,
    loss: str = "half_squared_error",
    optimizer: str = "sgd",
    lr: float | None = 0.5,
    momentum: float = 0.9,
    fixed_biases: bool = False,
    ask: str = "forward,loss,deltas,gradients,update",
    students: PathLike | None = None,
    count: int = 1,
    seed: int = 0,
    weights: PathLike | None = None,
    input: Sequence[Any] | None = None,
    target: Sequence[Any] | None = None,
    decimals: int = 2,
    digits: int = 4,
    names: str = "layered",
    solutions: bool = False,
    force: bool = False,
    layout: str = "rows",
    steps: int = 1,
) -> ExerciseSet:
    """Personalised exercise sheets and their keys (``bplab exercise``): ``steps`` training steps of a small
    network with numbers a person can work by hand, one sheet per student (a roster or ``count``), the same
    ``seed`` giving the same folder byte for byte. ``layout``: the sheet's equations, the key's tensors and
    the answers in the rows layout (``Z = A W + b``) or the columns one (``Z = W A + b``, one column per
    example), as ``derive``'s.

    Example: ``bl.exercise(out="exam", students="roster.csv", seed=7, solutions=True, layout="columns")``
    """

    if names not in ("layered", "flat"):
        raise BplabError(f"--names: layered or flat, got {names!r}")
    check_layout(layout)
    for name, value, least in (
        ("--steps", steps, 1),
        ("--inputs", inputs, 1),
        ("--outputs", outputs, 1),
        ("--rows", rows, 1),
        ("--count", count, 1),
        ("--seed", seed, 0),
    ):
        if value < least:
            raise BplabError(f"{name}: must be at least {least}, got {value}")
    x = parse_rows(input, "--input") if input is not None and len(input) else None
    y = parse_rows(target, "--target") if target is not None and len(target) else None
    if x is not None:
        inputs, rows = x.shape[1], len(x)
    if y is not None:
        outputs = y.shape[1]
        if x is not None and len(x) != len(y):
            raise BplabError(f"--target: {len(y)} rows for {len(x)} --input rows")
        rows = len(y)
    setting = Setting(
        model,
        inputs,
        outputs,
        rows,
        loss,
        optimizer,
        lr,
        momentum,
        fixed_biases,
        check_ask(ask),
        digits,
        decimals,
        names,
        seed,
        layout=layout,
        steps=steps,
    )
    spec = setting.spec()
    setting.config()
    if spec.output_shape != (outputs,):
        raise BplabError(f"--target: the model has {spec.output_shape[0]} outputs, the targets {outputs} values")
    if any(i.spec.kind != "dense" for i in spec.infos):
        raise BplabError(f"--model {model}: exercises are set for dense networks (mlp:...)")
    w = read_weights(Path(weights), spec) if weights is not None else None
    roster = (
        read_roster(Path(students))
        if students is not None
        else [Student(f"s{i + 1:0{len(str(count))}d}") for i in range(count)]
    )
    result = make_exercises(setting, roster, x, y, w)
    if out is not None:
        result.write(new_run_folder(Path(out), force), solutions)
    return result


def grade(
    keys: PathLike, answers: PathLike, out: PathLike | None = None, scheme: PathLike | None = None, force: bool = False
) -> GradeReport:
    """Grade answer files against the keys of ``bplab exercise`` (``bplab grade``), with error carried forward:
    each quantity recomputed from the student's own earlier answers. A bad answer file is one line in
    ``problems``; the rest of the class is still graded.

    Example: ``report = bl.grade("exam", "answers/", out="graded"); report.gradebook(); report.to_csv()``
    """

    class_keys = ClassKeys.read(Path(keys))
    names = [q.name for q in class_keys.keys[0].quantities]
    marking = Scheme.read(Path(scheme), names) if scheme is not None else Scheme()
    report = grade_class(class_keys, Path(answers), marking)
    if out is not None:
        report.write(new_run_folder(Path(out), force))
    return report


def explore(
    model: str = WORKED_MODEL,
    input: Sequence[Any] | None = None,
    target: Sequence[Any] | None = None,
    data: str | None = None,
    data_dir: PathLike | None = None,
    rows: int = 1,
    weights: PathLike | None = None,
    run: PathLike | None = None,
    seed: int = 0,
    init: str = "glorot_uniform",
    loss: str = "mse",
    optimizer: str = "sgd",
    lr: float | None = None,
    l2: float = 0.0,
    momentum: float = 0.9,
    steps: int = 20,
    fixed_biases: bool = False,
    digits: int = 6,
    max_entries: int = 24,
    layout: str = "rows",
    direction: str = "tb",
    out: PathLike | None = None,
    force: bool = False,
) -> ExplorerPage:
    """One offline HTML page that steps through a training step of MODEL with real numbers (``bplab explore``):
    the computation graphs, the equations and every value, recomputed in the page when a number is edited.
    Takes ``derive``'s options (``layout``: rows or columns); ``steps`` is how many steps the page's "Train" button
    takes at first, ``direction`` the graphs' ("tb" top to bottom, "lr" left to right). Shows the page inside a
    notebook.

    Example: ``bl.explore(weights="examples/published-2-2-2.json", input=["0.05,0.10"], target=["0.01,0.99"],
    loss="half_squared_error", lr=0.5, out="page.html", force=True).size``
    """

    for name, value, least in (("--steps", steps, 1), ("--digits", digits, 1), ("--max-entries", max_entries, 1)):
        if value < least:
            raise BplabError(f"{name}: must be at least {least}, got {value}")
    check_layout(layout)
    if direction not in ("tb", "lr"):
        raise BplabError(f"--direction: expected tb (top to bottom) or lr (left to right), got {direction!r}")
    path = _out(out)
    if path is not None:
        if path.is_dir():
            raise BplabError(f"--out {path}: is a folder; give the page's file name (page.html)")
        if path.exists() and not force:
            raise BplabError(f"--out {path}: already exists (--force replaces it)")
    setup = worked_setup(
        model, input, target, data, data_dir, rows, weights, run, seed, init, loss, optimizer, lr, l2, momentum
    )
    page = build_page_data(
        setup.spec,
        setup.config,
        setup.weights,
        setup.x,
        setup.y,
        setup.masks,
        setup.title,
        fixed_biases,
        steps,
        digits,
        max_entries,
        direction,
        layout,
    )
    text = render_html(page)
    if path is not None:
        make_folder(path.parent)
        atomic_write(path, text.encode("utf-8"))
    return ExplorerPage(setup.title, text, path, page.notes, page)


def check_derivation(
    file: PathLike | None = None,
    *,
    model: str,
    data: str = "digits",
    data_dir: PathLike | None = None,
    loss: str | None = None,
    l2: float = 0.0,
    l2_form: str = "keras",
    show_chains: bool = False,
    latex: bool = False,
    text: str | None = None,
    layout: str | None = None,
    form: str = "chain",
    scale: str = "sum",
) -> CheckReport | Chains:
    """Check a hand derivation against MODEL (``bplab check-derivation``): chain-rule lines against its
    computation graph, matrix-form lines (``dW[2] = (1/m) dZ[2] A[1]^T``) numerically, in the file's layout
    (rows or columns, or ``layout``) and delta scale, for the ``loss`` (default: the output's cross-entropy,
    mse for a linear output) and, with ``l2``, the penalty ``l2_form`` (keras, half, half-mean or mean, as
    ``check_code``'s). Give ``file`` or ``text``; with ``show_chains=True``, the correct equations instead
    (``form`` chain or matrix, ``layout`` and ``scale`` sum or mean for matrix).

    Example: ``bl.check_derivation(text="dZ[2] = A[2] - Y", model="mlp:16,8,4").correct``
    """

    if layout not in (None, "rows", "columns"):
        raise BplabError(f"--layout {layout!r}: expected rows or columns")
    if form not in ("chain", "matrix") or scale not in ("sum", "mean"):
        raise BplabError(f"--form {form!r} / --scale {scale!r}: expected chain or matrix, and sum or mean")
    check_l2_form(l2_form)
    if file is not None and text is not None:
        raise BplabError("check-derivation: give a FILE or text, not both")
    if (file is None and text is None) == (not show_chains):
        raise BplabError("check-derivation: give a FILE to check, or --show-chains (not both)")
    if file is not None:
        file = Path(file)
        if not file.is_file():
            raise BplabError(f"{file}: {'is a folder' if file.is_dir() else 'no such file'}")
        try:
            text = file.read_text(encoding="utf-8-sig")  # a BOM is not part of the first line
        except (OSError, UnicodeDecodeError) as exc:
            raise BplabError(f"{file}: cannot read it as UTF-8 text ({exc.__class__.__name__})") from None
    ds = load_dataset(data, data_dir)
    spec = parse_model(model, ds.input_shape, ds.num_classes)
    loss = choose_loss(loss, spec.output_activation)
    try:
        derivation = derivation_of(spec, TrainConfig(loss=loss, l2=l2))
    except ValueError as exc:
        raise BplabError(f"model {model!r}: {exc}") from None
    if text is None and form == "matrix":
        why = supported(derivation)
        if why:
            raise BplabError(f"model {model!r}: {why}")
        return Chains(model, correct_lines(MatrixModel.of(derivation, l2_form), layout or "rows", scale), False)
    if text is None:
        return Chains(model, correct_chains(derivation, latex), latex)
    return check(text, derivation, model, str(file) if file is not None else "text", layout, l2_form)


def check_code(
    file: PathLike | None = None,
    *,
    source: str | None = None,
    functions: Sequence[Callable] | None = None,
    model: str,
    loss: str | None = None,
    l2: float = 0.0,
    l2_form: str = "keras",
    forward: str | None = None,
    backward: str | None = None,
    timeout: float = 10.0,
    out: PathLike | None = None,
    data: str | None = None,
    data_dir: PathLike | None = None,
) -> CodeCheck | CodeChecks:
    """Check a learner's NumPy forward and backward propagation tensor by tensor (``bplab check-code``):
    from a ``.py`` / ``.ipynb`` file, a folder of them (one row each; ``out`` writes them as CSV), a
    ``source`` string, or ``functions`` defined in a notebook (their source and the helpers they call).
    The code runs in a child process with a time and a memory limit. Without ``data`` the sizes are chosen
    small and pairwise distinct; with a data set's name its feature and class counts are used (and the
    model's hidden widths), so functions that hard-code them (``reshape(-1, 784)``) can be checked.

    Example: ``bl.check_code("examples/learner/course_two_layer.py", model="mlp:128").verdict`` is "correct".
    """

    if sum(x is not None for x in (file, source, functions)) != 1:
        raise BplabError("check-code: give one of a FILE (or folder), source= or functions=")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise BplabError(f"--timeout {timeout}: must be a number of seconds > 0")
    sizes = None
    if data is not None:
        ds = load_dataset(data, data_dir)
        sizes = DataSizes(data, int(np.prod(ds.input_shape)), ds.num_classes)
    make_net(model, loss, l2, l2_form, sizes)  # bad options fail once, before any file
    options = dict(loss=loss, l2=l2, l2_form=l2_form, forward=forward, backward=backward, timeout=timeout, data=sizes)
    if source is not None or functions is not None:
        text = source if source is not None else source_of_functions(functions)
        result = check_source(text, "source" if source is not None else "functions", model, **options)
    else:
        path = Path(file)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".py", ".ipynb") and p.is_file())
            if not files:
                raise BplabError(f"{path}: no .py or .ipynb files in this folder")
            checks = []
            for f in files:
                try:
                    checks.append(check_file(f, model, **options))
                except BplabError as exc:  # this file cannot be checked: a row, and on to the next
                    checks.append(CodeCheck(str(f), model, "error", str(exc)))
            result = CodeChecks(str(path), model, checks)
        elif path.is_file():
            if path.suffix.lower() not in (".py", ".ipynb"):
                raise BplabError(f"{path}: expected a .py file or a .ipynb notebook")
            result = check_file(path, model, **options)
        else:
            raise BplabError(f"{path}: no such file or folder")
    if out is not None:
        (result if isinstance(result, CodeChecks) else CodeChecks(str(file or "source"), model, [result])).write_csv(
            Path(out)
        )
    return result


# ---------------------------------------------------------------------------------------------
# Training: train, resume, gradcheck, compare


@training_options()
def train(
    data: str = "mnist-5k",
    model: str = DEFAULT_MODEL,
    engine: str = "scratch",
    val_split: float = 0.0,
    data_dir: PathLike | None = None,
    eager: bool = False,
    out: PathLike | None = None,
    force: bool = False,
    checkpoint_every: int | None = None,
    quiet: bool = False,
    **options: Unpack[TrainingOptions],
) -> Run:
    """Train MODEL on a data set with one engine into a resumable run folder (``bplab train``).
    ``out`` defaults to runs/TIMESTAMP-ENGINE-DATA. Returns the run: ``run.test.accuracy``,
    ``run.test.per_class[3].f1``, ``run.history.epochs[-1].test_loss``, ``run.folder``, and
    ``run.weights``, the trained weights as a dict of NumPy arrays with the flat keys of ``weights.npz``
    (``run.weights["dense_0/kernel"]`` is the first layer's ``(in, out)`` kernel). The starting weights
    are ``bl.model(model, data=data).initial_weights(seed=seed, init=init)``.

    Example: ``bl.train(engine="scratch", data="digits", model="mlp:16", epochs=2, out="runs/digits", force=True)``
    """

    check_engine(engine)
    config = _config("train", options)
    setup = prepare(data, model, config, data_dir, val_split)
    folder = new_run_folder(_out(out) or default_run_folder(engine, data), force)
    run = start_run(
        setup,
        engine,
        folder,
        _reporter(quiet).training(engine),
        {"eager": eager} if engine == "tape" else None,
        checkpoint_every,
    )
    run.save_heatmap(folder)
    run.folder = folder
    return run


def resume(path: PathLike, quiet: bool = False) -> Run:
    """Continue an interrupted run folder from its checkpoint with its own settings (``bplab train
    --resume``); a complete run is loaded as it is.

    Example: ``bl.resume("runs/mnist").test.accuracy``
    """

    folder = Path(path)
    info = inspect_run(folder)
    if info.complete:
        return load_run(folder)
    run = resume_run(folder, _reporter(quiet).training(f"{info.engine} (resumed)"))
    run.save_heatmap(folder)
    run.folder = folder
    return run


def load(path: PathLike) -> Run:
    """A saved run folder or ``.keras`` file, as a run (weights, spec, history, metrics).

    Example: ``bl.load("runs/mnist").test.per_class[3].f1``
    """

    return load_model(Path(path))


def gradcheck(
    data: str = "digits",
    model: str = GRADCHECK_MODEL,
    loss: str = "categorical_crossentropy",
    l2: float = 0.0,
    init: str = "he_normal",
    seed: int = 0,
    data_dir: PathLike | None = None,
    batch: int = GRADCHECK_BATCH,
    entries: int = GRADCHECK_ENTRIES,
    autograd: bool = False,
) -> GradCheck:
    """Finite differences (float64) vs the hand-written backward pass, per parameter tensor (``bplab gradcheck``).

    Example: ``bl.gradcheck(model="mlp:32,16/act=tanh", data="digits", loss="mse").passed``
    """
    from backprop_lab.analysis.gradient_check import TOLERANCE, gradcheck_data

    config = TrainConfig(loss=loss, l2=l2, init=init, seed=seed, dtype="float64")
    rows = gradcheck_data(data, model, config, data_dir, batch, entries, autograd)
    return GradCheck(f"gradient check · {model} · {loss} (float64, tolerance {TOLERANCE:g})", TOLERANCE, rows, autograd)


@training_options()
def compare(
    engines: str | Sequence[str] = COMPARE_ENGINES,
    data: str = COMPARE_DATA,
    model: str = DEFAULT_MODEL,
    data_dir: PathLike | None = None,
    seeds: int = 1,
    eager: bool = False,
    out: PathLike | None = None,
    force: bool = False,
    quiet: bool = False,
    **options: Unpack[TrainingOptions],
) -> Comparison:
    """Train several engines from identical weights and batches and measure how far apart they end
    (``bplab compare``): ``comparison.pair("scratch", "tape").grad_rel``, ``comparison.runs[0]["fit"]``.

    Example: ``bl.compare(engines=["scratch", "tape", "fit"], data="digits", model="mlp:16", epochs=2)``
    """

    text = engines if isinstance(engines, str) else ",".join(engines)
    names = parse_engines(text, eager)
    config = _config("compare", options)
    setup = prepare(data, model, config, data_dir)
    folder = _out(out)
    if folder is not None:
        new_run_folder(folder, force)
    reporter = _reporter(quiet)
    result = run_compare(
        setup, names, seeds, {"tape": {"eager": eager}}, callbacks_for=lambda e, s: reporter.training(f"{e} seed {s}")
    )
    k = len(result.seeds)
    result.title = f"{model} on {data} · {config.optimizer} · {config.epochs} epochs · {k} seed{'s' if k > 1 else ''}"
    if folder is not None:
        result.save(folder, f"{model} on {data}")
        result.folder = folder
    return result


# ---------------------------------------------------------------------------------------------
# Experiments: sweep, blend, transfer, study


def _run_sweep(plan, out: Path, force: bool, jobs: int, backend: str, address: str | None, quiet: bool) -> SweepResult:

    sweep_folder(out, plan.to_dict(), force)
    with _reporter(quiet).sweep(len(plan.cells()) * plan.seeds) as bar:
        result = run_sweep(plan, out, jobs, backend, address, on_done=bar.done)
    result.files = result.save(out)
    result.folder = out
    return result


@training_options()
def sweep(
    file: PathLike | None = None,
    preset: str | None = None,
    grid: Sequence[str] | dict[str, Sequence[Any]] | None = None,
    data: str | None = None,
    data_dir: PathLike | None = None,
    model: str | None = None,
    engine: str | None = None,
    seeds: int | None = None,
    baseline: str | None = None,
    jobs: int = 1,
    backend: str = "local",
    address: str | None = None,
    out: PathLike | None = None,
    force: bool = False,
    quiet: bool = False,
    **options: Unpack[TrainingOptions],
) -> SweepResult:
    """Train a grid of option values over several seeds (``bplab sweep``): mean ± std, 95% intervals and
    a test of each cell against the baseline. ``grid`` is ``["optimizer=sgd,adam"]`` as on the command
    line or ``{"optimizer": ["sgd", "adam"]}``. ``data``, ``model``, ``engine``, ``seeds`` and the training
    options given here override the file's or preset's; left out, they are the file's, else the
    command's defaults (mnist-5k, mlp:256,128,64, scratch, 3 seeds). ``out`` defaults to runs/sweep-NAME.

    Example: ``bl.sweep(grid={"optimizer": ["sgd", "adam"]}, data="digits", seeds=2, epochs=1, out="runs/sweep")``
    """

    config = _config("sweep", options)
    file = _out(file)
    doc = preset_doc(preset) if preset else {}
    if file is not None:
        own = read_sweep_file(file)
        doc = {
            **doc,
            **{k: v for k, v in own.items() if k not in ("grid", "variants")},
            "grid": {**doc.get("grid", {}), **own.get("grid", {})},
            "variants": {**doc.get("variants", {}), **own.get("variants", {})},
        }
    base = {name: getattr(config, name) for name in options if name != "seed"}
    if model is not None:
        base["model"] = model
    if engine is not None:
        base["engine"] = check_engine(engine)
    doc = {**doc, **base}
    settings = {"data": data, "seeds": seeds, "baseline": baseline, "data_dir": str(data_dir) if data_dir else None}
    doc.update({k: v for k, v in settings.items() if v is not None})
    doc.setdefault("data", "mnist-5k")
    if "seed" in options:
        doc["seed"] = config.seed
    pairs = [parse_grid_arg(text) for text in grid] if isinstance(grid, (list, tuple)) else list((grid or {}).items())
    for key, values in pairs:
        doc["grid"] = {**doc.get("grid", {}), normalise_key(key, "--grid"): list(values)}
    plan = plan_from_document(doc, str(file) if file else (f"preset {preset}" if preset else "sweep"))
    if not plan.grid:
        raise BplabError("sweep: nothing to vary; give --grid KEY=V1,V2, --preset NAME or a file with [grid]")
    name = preset or (file.stem if file else "sweep")
    return _run_sweep(plan, _out(out) or Path("runs") / f"sweep-{name}", force, jobs, backend, address, quiet)


@training_options()
def blend(
    alphas: str | Sequence[float] = "0,0.25,0.5,0.75,1",
    data: str = "mnist-5k",
    data_dir: PathLike | None = None,
    model: str = DEFAULT_MODEL,
    engine: str = "scratch",
    seeds: int = 1,
    jobs: int = 1,
    out: PathLike | None = None,
    force: bool = False,
    quiet: bool = False,
    **options: Unpack[TrainingOptions],
) -> SweepResult:
    """The blended update W <- (1 - alpha) W_new + alpha W_old for several alpha (``bplab blend``):
    one sweep cell per alpha, per-step loss curves in ``result.step_curves``. ``out`` defaults to runs/blend.

    Example: ``bl.blend(alphas=[0, 0.5, 1], data="digits", epochs=2, out="runs/blend", force=True)``
    """

    config = _config("blend", options)
    check_engine(engine)
    text = alphas if isinstance(alphas, str) else ",".join(f"{float(a):g}" for a in alphas)
    base = {**{name: getattr(config, name) for name in options if name != "seed"}, "model": model, "engine": engine}
    plan = blend_plan(text, data, base, seeds, config.seed, str(data_dir) if data_dir else None)
    folder = _out(out) or Path("runs") / "blend"
    result = _run_sweep(plan, folder, force, jobs, "local", None, quiet)
    result.step_curves = save_step_curves(result, folder / "step_loss.png")
    return result


@training_options(epochs=2, batch_size="32", init="glorot_uniform")
def transfer(
    from_: PathLike,
    classes: str,
    engine: str = "scratch",
    data: str | None = None,
    data_dir: PathLike | None = None,
    finetune: bool = False,
    finetune_lr: float | None = None,
    finetune_epochs: int | None = None,
    out: PathLike | None = None,
    force: bool = False,
    quiet: bool = False,
    **options: Unpack[TrainingOptions],
) -> Transfer:
    """Reuse a trained network for a two-class task (``bplab transfer --from``): frozen base + new sigmoid
    head, optional fine-tuning, compared with training the same network from scratch.

    Example: ``bl.transfer("runs/cnn", classes="3,8", finetune=True, out="runs/transfer")``
    """

    check_engine(engine)
    config = _config("transfer", options, transfer.training_defaults)
    folder = _out(out)
    if folder is not None:
        new_run_folder(folder, force)
    reporter = _reporter(quiet)
    result = transfer_from(
        Path(from_),
        classes,
        engine,
        config,
        data,
        data_dir,
        finetune,
        finetune_lr,
        finetune_epochs,
        callbacks_for=lambda label: reporter.training(label),
    )
    if folder is not None:
        result.save(folder)
    return Transfer(result, engine, folder)


def study(
    file: PathLike | None = None,
    data: str | None = None,
    preset: str = STUDY_PRESET,
    out: PathLike = STUDY_OUT,
    print_reference: bool = False,
    quiet: bool = False,
    notebook: bool | PathLike = False,
    command: str | None = None,
    data_dir: PathLike | None = None,
) -> StudyReport | str:
    """Run the study (``bplab study``) and write report.html and report.md in ``out``; re-running skips
    what is finished. ``notebook=True`` (or a path) also writes study.ipynb: one markdown cell per
    section and code cells reproducing it through this API. ``print_reference=True`` returns the
    reference study file's text instead. ``command`` is how the report says it was made. ``data_dir``: the
    folder holding the data set's files (e.g. real MNIST or CIFAR-10 in their own formats), for every section.

    Example: ``bl.study(data="digits", out="runs/study", notebook=True).section("engines").numbers``
    """

    if print_reference:
        return reference_text()
    plan = load_study(_out(file), preset, data, data_dir)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise BplabError(f"{folder}: exists and is not a folder")
    with _reporter(quiet).study({k: WEIGHTS.get(k, 5) for k in plan.sections}) as bar:
        result = run_study(
            plan, folder, command or _call_text("study", file=file, data=data, preset=preset, out=out), bar
        )
    report = StudyReport(result.folder, result.html, result.markdown, result.sections, result.cached, result.seconds)
    if notebook:
        path = folder / "study.ipynb" if notebook is True else Path(notebook)
        functions = {command: globals()[name] for command, name in COMMANDS.items()}
        report.notebook = write_study_notebook(plan, report, path, functions)
    return report


def _call_text(name: str, **kwargs: Any) -> str:
    given = ", ".join(f"{k}={str(v) if isinstance(v, Path) else v!r}" for k, v in kwargs.items() if v is not None)
    return f"bl.{name}({given})"


# ---------------------------------------------------------------------------------------------
# Saved models: evaluate, export


def evaluate(
    run: PathLike,
    data: str | None = None,
    data_dir: PathLike | None = None,
    engine: str = "scratch",
    out: PathLike | None = None,
) -> Evaluation:
    """Accuracy, per-class precision/recall/F1, macro averages and the confusion matrix of a saved
    model (``bplab evaluate``), written as evaluation_DATA.json and a heatmap to ``out`` (default: the
    run folder): ``evaluation.test.per_class[3].f1``.

    Example: ``bl.evaluate("runs/mnist", data="mnist-5k").accuracy``
    """

    check_engine(engine)
    path = Path(run)
    result = evaluate_model(path, data, data_dir, engine)
    result.files = list(result.save(_out(out) or (path if path.is_dir() else path.parent)))
    return result


def export(
    run: PathLike, keras: PathLike | None = None, script: PathLike | None = None, force: bool = False
) -> Exported:
    """Write a saved run in Keras's native .keras format (``bplab export --keras``), and/or as a standalone
    TensorFlow script that trains it again from the same starting weights and batches (``--script``): the
    ``tf.GradientTape`` loop, or ``compile`` + ``fit`` for a run of the fit engine, with its data, starting weights
    and batch order in a ``.npz`` beside it. Running the script reproduces a tape or fit run's weights bit for bit.

    Example: ``bl.export("runs/mnist", script="mnist_train.py", force=True).script``
    """

    if keras is None and script is None:
        raise BplabError("export: name the file to write: --keras FILE.keras, --script FILE.py, or both")
    path = Path(run)
    if script is not None and path.suffix == ".keras":
        raise BplabError(f"{path}: --script needs a run folder (a .keras file does not record how it was trained)")
    saved = load_model(path)
    keras_file = Path(keras) if keras is not None else None
    if keras_file is not None and keras_file.exists() and not force:
        raise BplabError(f"{keras_file}: exists; pass --force to overwrite")
    written = export_script(saved, Path(script), force) if script is not None else None
    if keras_file is not None:
        export_keras(saved, keras_file)
    return Exported(
        keras_file,
        sum(saved.spec.count_params()),
        written.path if written else None,
        written.arrays if written else None,
        written.loop if written else "",
    )


PUBLIC = tuple(COMMANDS.values()) + EXTRA
