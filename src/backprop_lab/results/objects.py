"""The results the Python API returns where the library had none of its own: small dataclasses
with named fields, a short ``repr`` for a terminal and a rich one for a notebook
(``_repr_html_``, ``_repr_latex_``, ``_repr_svg_``). Runs, comparisons, sweeps, evaluations and
worked examples are the library's own classes (``runs.Run``, ``compare.Comparison``, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backprop_lab.core import records
from backprop_lab.core.display import Displayable
from backprop_lab.core.errors import BplabError
from backprop_lab.core.table import Table
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.options.config import config_from_options
from backprop_lab.results import tables
from backprop_lab.spec.model import ModelSpec, summary_document
from backprop_lab.viz import html
from backprop_lab.viz.display import graph_svg
from backprop_lab.viz.equations import mathml_blocks


@dataclass(frozen=True)
class SummaryLayer:
    layer: str  # name and type, e.g. "dense_0 (Dense)"
    output_shape: str
    params: int
    detail: str  # activation, rate or "frozen"


@dataclass(frozen=True)
class Summary(Displayable):
    """A Keras-style summary: ``summary.layers[0].params``, ``summary.total``."""

    title: str
    input_shape: tuple[int, ...]
    layers: list[SummaryLayer]
    total: int
    trainable: int
    non_trainable: int

    def to_dict(self) -> dict[str, Any]:
        """What ``bplab summary --json`` prints."""
        return {
            "input_shape": list(self.input_shape),
            "layers": [
                {"layer": r.layer, "output_shape": r.output_shape, "params": r.params, "detail": r.detail}
                for r in self.layers
            ],
            "total": self.total,
            "trainable": self.trainable,
            "non_trainable": self.non_trainable,
        }

    def table(self) -> Table:
        return tables.summary_table(self.title, [(r.layer, r.output_shape, r.params, r.detail) for r in self.layers])

    def __repr__(self) -> str:
        return f"Summary({self.title}: {len(self.layers)} layers, {self.total:,} parameters)"


@dataclass
class Model:
    """A model description built on a data set's input shape (``bl.model``)."""

    description: str
    data: str
    spec: ModelSpec

    def summary(self) -> Summary:

        doc = summary_document(self.spec)
        return Summary(
            f"{self.description} on {self.data} (input {tuple(doc['input_shape'])})",
            tuple(doc["input_shape"]),
            [SummaryLayer(**r) for r in doc["layers"]],
            doc["total"],
            doc["trainable"],
            doc["non_trainable"],
        )

    @property
    def parameters(self) -> int:
        return sum(self.spec.count_params())

    def initial_weights(self, seed: int = 0, init: str = "he_normal", dtype: str = "float32") -> dict[str, np.ndarray]:
        """The starting weights every engine trains from for this seed and initialiser (``bplab summary
        --weights-out``): flat keys as in ``weights.npz`` (``dense_0/kernel`` is ``(in, out)``, conv kernels
        ``HWIO``), biases zero. ``bl.train(..., seed=seed, init=init)`` starts from exactly these.

        Example: ``bl.model("mlp:16", data="digits").initial_weights(seed=3)["dense_0/kernel"].shape`` is ``(64, 16)``.
        """
        config = config_from_options({"seed": seed, "init": init, "dtype": dtype})
        return init_weights(self.spec.param_shapes(), config.init, config.seed, config.dtype)

    def __repr__(self) -> str:
        return (
            f"Model({self.description} on {self.data}: {len(self.spec.layers)} layers, {self.parameters:,} parameters)"
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


@dataclass(frozen=True)
class DataInfo(Displayable):
    """What ``bplab data info`` shows: ``info.train``, ``info.class_names``."""

    name: str
    source: str
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: list[str]
    train: int
    test: int
    train_class_counts: list[int]
    validation: int | None = None

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DataInfo:
        return records.load(cls, doc, "data set info")

    def to_dict(self) -> dict[str, Any]:
        """What ``bplab data info --json`` prints."""
        return records.dump(self)

    def table(self) -> Table:
        return tables.data_info_table(self)

    def __repr__(self) -> str:
        return (
            f"DataInfo({self.name}: {self.train} train, {self.test} test, input {self.input_shape}, "
            f"{self.num_classes} classes)"
        )


@dataclass
class GradCheck(Displayable):
    """A gradient check: one row per parameter tensor (``check.rows[0].rel_error``), ``check.passed``."""

    title: str
    tolerance: float
    rows: list  # gradcheck.GradRow
    autograd: bool = False

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def table(self) -> Table:
        return tables.gradcheck_table(self)

    @property
    def worst(self) -> float:
        return max(r.rel_error for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """What ``bplab gradcheck --json`` prints."""
        return {"tolerance": self.tolerance, "rows": [r.to_dict() for r in self.rows]}

    def __repr__(self) -> str:
        return (
            f"GradCheck({len(self.rows)} tensors, worst relative error {self.worst:.2e}, "
            f"{'passed' if self.passed else 'FAILED'})"
        )


@dataclass
class Equations:
    """A model's derived equations: MathML in a notebook, LaTeX for ``_repr_latex_`` and ``.tex``."""

    derivation: Any  # derive.equations.Derivation
    title: str = ""

    @property
    def tex(self) -> list[str]:
        return [eq.tex for eqs in self.derivation.grouped().values() for eq in eqs]

    def __repr__(self) -> str:
        return f"Equations({self.title}: {len(self.tex)} equations)"

    def _repr_html_(self) -> str:

        return html.block(self.title or "equations", html.mathml(mathml_blocks(self.derivation)))

    def _repr_latex_(self) -> str:
        return "\n".join(f"$${t}$$" for t in self.tex)


@dataclass
class Drawing(Displayable):
    """The pictures ``bl.draw`` wrote (``drawing.files``), the graphs they show and the equations."""

    title: str
    folder: Path
    files: list[Path]
    renderer: str
    graphs: list = field(default_factory=list)  # derive.graphs.Graph: network, forward, backward
    equations: Equations | None = None

    @property
    def pictures(self) -> list[Path]:
        return [p for p in self.files if p.suffix in (".svg", ".png", ".pdf") and p.stem != "equations"]

    def svg(self, which: int = 0) -> str:
        """One graph as SVG text (0 network, 1 forward, 2 backward), drawn with matplotlib if it was not
        written as SVG: no Graphviz needed."""

        return graph_svg(self, which)

    def __repr__(self) -> str:
        return f"Drawing({self.title}: {len(self.files)} files in {self.folder}, rendered by {self.renderer})"

    def _repr_svg_(self) -> str:
        return self.svg(0)


@dataclass(frozen=True)
class Exported:
    """A run written out: ``path``, the ``.keras`` file (None when not asked for); ``script``, the standalone
    TensorFlow script that trains it again (``loop``: "tape" for a tf.GradientTape loop, "fit" for compile +
    fit) and ``arrays``, the ``.npz`` beside it with the data, starting weights and batch order."""

    path: Path | None
    parameters: int
    script: Path | None = None
    arrays: Path | None = None
    loop: str = ""

    def __repr__(self) -> str:
        files = [str(p) for p in (self.path, self.script, self.arrays) if p is not None]
        return f"Exported({', '.join(files)}, {self.parameters:,} parameters)"


@dataclass(frozen=True)
class Chains:
    """The correct chain-rule product of every weight and bias (``bl.check_derivation(show_chains=True)``)."""

    model: str
    chains: list[str]
    latex: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "chains": self.chains}

    def __repr__(self) -> str:
        return "\n".join(self.chains)

    def _repr_html_(self) -> str:

        return html.block(f"chain rule on {self.model}", html.pre("\n".join(self.chains)))

    def _repr_latex_(self) -> str | None:
        return "\n".join(f"$${c}$$" for c in self.chains) if self.latex else None


@dataclass
class Transfer(Displayable):
    """Transfer learning to two classes: ``transfer.variants[0].accuracy``, ``transfer.base_unchanged``."""

    result: Any  # experiments.transfer.TransferResult
    engine: str
    folder: Path | None = None

    @property
    def classes(self) -> list[str]:
        return self.result.classes

    def table(self) -> Table:
        return tables.transfer_table(f"transfer to {' vs '.join(self.classes)} ({self.engine})", self)

    @property
    def variants(self) -> list:
        return self.result.variants

    @property
    def base_unchanged(self) -> bool | None:
        return self.result.base_unchanged

    @property
    def finetune_changed_base(self) -> bool | None:
        return self.result.finetune_changed_base

    @property
    def head(self):
        """How the head was trained on the cached features: ``transfer.head.epochs``, ``.stop_reason``, ``.rule``."""
        return self.result.head

    @property
    def scratch_epochs(self) -> int:
        return self.result.scratch_epochs

    @property
    def scratch_epochs_rule(self) -> str:
        return self.result.scratch_epochs_rule

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict()

    def __repr__(self) -> str:
        accs = ", ".join(f"{v.name} {v.accuracy:.4f}" for v in self.variants)
        return f"Transfer({' vs '.join(self.classes)}: {accs})"


@dataclass
class StudyReport(Displayable):
    """A study that ran: its sections (``study.sections[0].numbers``), report files and notebook."""

    folder: Path
    html: Path
    markdown: Path
    sections: list  # study.sections.Section
    cached: set[str] = field(default_factory=set)
    seconds: float = 0.0
    notebook: Path | None = None

    def section(self, key: str):

        for s in self.sections:
            if s.key == key:
                return s
        raise BplabError(f"the study has no section {key!r} (it has {', '.join(s.key for s in self.sections)})")

    def __repr__(self) -> str:
        return f"StudyReport({len(self.sections)} sections in {self.seconds:.1f} s; report {self.html})"
