"""Derived forward, loss, backward and update equations for the actual network.

Generated from the spec's layers in the batch-matrix notation the code uses
(rows are examples): Z[l] = A[l-1] W[l] + b[l], delta[l] = dL/dZ[l],
dW[l] = A[l-1]^T delta[l]. Every equation carries its LaTeX (kept to the
subset matplotlib's mathtext draws, so the SVG needs no TeX) and, where it is a
computation, a NumPy expression: ``evaluate`` runs them in order, so the tests
check the derivation numerically against the scratch engine's backward pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..spec import Conv2D, Dense, Flatten, MaxPool2D, ModelSpec


_DOUBLE_SUPERSCRIPT = re.compile(r"\^\{(\[[^\]]*\])\}\^\\top")


@dataclass
class Equation:
    section: str  # forward, loss, output delta, backward, gradients, chain rule, update
    tex: str
    name: str | None = None  # variable the NumPy expression assigns
    numpy: str | None = None
    layer: int | None = None

    def __post_init__(self) -> None:
        # A^{[l]}^\top is a double superscript: write the transpose inside, A^{[l]\top}
        self.tex = _DOUBLE_SUPERSCRIPT.sub(lambda m: "^{" + m.group(1) + r"\top}", self.tex)


HOLE = "<delta>"  # where the nested delta goes in the chain-rule product form


def _t(symbol: str, l) -> str:
    return f"{symbol}^{{[{l}]}}"


_GPRIME_TEX = {
    "relu": lambda l: rf"\mathbf{{1}}[{_t('Z', l)} > 0]",
    "sigmoid": lambda l: rf"{_t('A', l)} \odot (1 - {_t('A', l)})",
    "tanh": lambda l: rf"(1 - {_t('A', l)} \odot {_t('A', l)})",
}
_GPRIME_NP = {
    "relu": lambda l: f"(Z{l} > 0)",
    "sigmoid": lambda l: f"(A{l} * (1 - A{l}))",
    "tanh": lambda l: f"(1 - A{l} ** 2)",
}
_ACT_TEX = {"relu": r"\mathrm{relu}", "sigmoid": r"\sigma", "tanh": r"\tanh", "softmax": r"\mathrm{softmax}",
            "linear": ""}


def _through_activation(act: str, l: int, g_tex: str, g_np: str) -> tuple[str, str]:
    """dL/dZ[l] from dL/dA[l] = G."""
    if act == "linear":
        return g_tex, g_np
    if act == "softmax":
        return (rf"{_t('A', l)} \odot \left({g_tex} - \mathrm{{rowsum}}({g_tex} \odot {_t('A', l)})\right)",
                f"softmax_back(A{l}, {g_np})")
    return rf"\left({g_tex}\right) \odot {_GPRIME_TEX[act](l)}", f"({g_np}) * {_GPRIME_NP[act](l)}"


def _output_delta(loss: str, act: str, L: int) -> tuple[str, str]:
    A, Y = _t("A", L), "Y"
    if loss == "categorical_crossentropy" and act == "softmax":
        return rf"\frac{{1}}{{m}}({A} - {Y})", f"(A{L} - Y) / m"
    if loss == "binary_crossentropy" and act == "sigmoid":
        return rf"\frac{{1}}{{mK}}({A} - {Y})", f"(A{L} - Y) / (m * K)"
    if loss == "mse":
        return _through_activation(act, L, rf"\frac{{2}}{{mK}}({A} - {Y})", f"2 * (A{L} - Y) / (m * K)")
    raise ValueError(f"no derivation for {loss} with a {act} output")


def _loss_equation(loss: str, L: int) -> Equation:
    A = _t("A", L)
    if loss == "categorical_crossentropy":
        tex = rf"\mathcal{{L}} = -\frac{{1}}{{m}} \sum_{{i=1}}^{{m}} \sum_{{k=1}}^{{K}} Y_{{ik}} \log {A}_{{ik}}"
        code = f"-(Y * np.log(np.clip(A{L}, 1e-7, 1 - 1e-7))).sum(axis=1).mean()"
    elif loss == "binary_crossentropy":
        tex = (rf"\mathcal{{L}} = -\frac{{1}}{{mK}} \sum_{{i,k}} \left[Y_{{ik}} \log {A}_{{ik}} + (1 - Y_{{ik}})"
               rf" \log (1 - {A}_{{ik}})\right]")
        code = f"-(Y * np.log(np.clip(A{L}, 1e-7, 1 - 1e-7)) + (1 - Y) * np.log(np.clip(1 - A{L}, 1e-7, 1))).mean()"
    else:
        tex = rf"\mathcal{{L}} = \frac{{1}}{{mK}} \sum_{{i,k}} ({A}_{{ik}} - Y_{{ik}})^2"
        code = f"((A{L} - Y) ** 2).mean()"
    return Equation("loss", tex, "loss", code)


def _update_equations(config: TrainConfig) -> list[Equation]:
    lr = config.learning_rate
    W, g = r"W", r"dW"
    opt = config.optimizer
    if opt == "sgd":
        rules = [rf"{W} \leftarrow {W} - \eta\, {g}"]
    elif opt == "momentum":
        rules = [rf"v \leftarrow \mu v - \eta\, {g}", rf"{W} \leftarrow {W} + v"]
    elif opt == "nesterov":
        rules = [rf"v \leftarrow \mu v - \eta\, {g}", rf"{W} \leftarrow {W} + \mu v - \eta\, {g}"]
    elif opt == "rmsprop":
        rules = [rf"s \leftarrow \rho s + (1 - \rho)\, {g} \odot {g}", rf"{W} \leftarrow {W} - \frac{{\eta\, {g}}}{{\sqrt{{s + \epsilon}}}}"]
    else:
        rules = [rf"m_W \leftarrow \beta_1 m_W + (1 - \beta_1)\, {g}",
                 rf"v_W \leftarrow \beta_2 v_W + (1 - \beta_2)\, {g} \odot {g}",
                 r"\eta_t = \eta\, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}",
                 rf"{W} \leftarrow {W} - \eta_t \frac{{m_W}}{{\sqrt{{v_W}} + \epsilon}}"]
    values = {"sgd": rf"\eta = {lr:g}", "momentum": rf"\eta = {lr:g},\ \mu = {config.momentum:g}",
              "nesterov": rf"\eta = {lr:g},\ \mu = {config.momentum:g}",
              "rmsprop": rf"\eta = {lr:g},\ \rho = {config.rho:g},\ \epsilon = {config.epsilon:g}",
              "adam": rf"\eta = {lr:g},\ \beta_1 = {config.beta_1:g},\ \beta_2 = {config.beta_2:g},\ \epsilon = {config.epsilon:g}"}
    eqs = [Equation("update", r) for r in rules] + [Equation("update", values[opt])]
    if config.decay != "none":
        power = r"\lfloor t / T \rfloor" if config.decay == "step" else "t / T"
        eqs.append(Equation("update", rf"\eta(t) = {lr:g} \cdot {config.decay_rate:g}^{{{power}}}"))
    if config.alpha:
        eqs.append(Equation("update", rf"W \leftarrow (1 - \alpha) W_{{new}} + \alpha W_{{old}},\ \alpha = {config.alpha:g}"))
    eqs.append(Equation("update", r"\mathrm{the\ same\ rule\ for\ every\ } W^{[l]} \mathrm{\ and\ } b^{[l]}"))
    return eqs


def derive(spec: ModelSpec, config: TrainConfig) -> list[Equation]:
    """All equations for this network, loss, L2 and optimizer, in evaluation order."""
    eqs: list[Equation] = []
    lam = config.l2
    l = 0
    cur_tex, cur_np = "X", "X"
    # forward; remember for each parametric layer how its input was made, to walk it back
    inputs: dict[int, tuple[str, str]] = {}
    chain: dict[int, list[tuple[str, object, str]]] = {}  # ops between A[l-1] and layer l's input
    pending: list[tuple[str, object, str]] = []
    acts: dict[int, str] = {}
    kinds: dict[int, object] = {}
    for info in spec.infos:
        layer = info.spec
        if isinstance(layer, (Dense, Conv2D)):
            l += 1
            if l == 1 and cur_np == "X":
                eqs.append(Equation("forward", r"A^{[0]} = X", "A0", "X", 0))
                cur_tex, cur_np = _t("A", 0), "A0"
            inputs[l], chain[l], acts[l], kinds[l] = (cur_tex, cur_np), pending, layer.activation, layer
            pending = []
            if isinstance(layer, Dense):
                eqs.append(Equation("forward", rf"{_t('Z', l)} = {cur_tex} {_t('W', l)} + {_t('b', l)}", f"Z{l}",
                                    f"{cur_np} @ W{l} + b{l}", l))
            else:
                eqs.append(Equation("forward", rf"{_t('Z', l)} = \mathrm{{conv}}_{{{layer.kernel}\times{layer.kernel},"
                                    rf"\ s={layer.stride},\ {layer.padding}}}({cur_tex}, {_t('W', l)}) + {_t('b', l)}",
                                    f"Z{l}", f"conv2d({cur_np}, W{l}, {layer.stride}, '{layer.padding}') + b{l}", l))
            act_tex = _ACT_TEX[layer.activation]
            eqs.append(Equation("forward", rf"{_t('A', l)} = {act_tex}({_t('Z', l)})" if act_tex else rf"{_t('A', l)} = {_t('Z', l)}",
                                f"A{l}", f"{layer.activation}(Z{l})", l))
            cur_tex, cur_np = _t("A", l), f"A{l}"
            continue
        src_np = cur_np
        if isinstance(layer, Flatten):
            name_tex, name_np = (_t("A", 0), "A0") if l == 0 else (_t("F", l), f"F{l}")
            eqs.append(Equation("forward", rf"{name_tex} = \mathrm{{flatten}}({cur_tex})", name_np, f"flatten({cur_np})", l))
        elif isinstance(layer, MaxPool2D):
            name_tex, name_np = _t("P", l), f"P{l}"
            eqs.append(Equation("forward", rf"{name_tex} = \mathrm{{maxpool}}_{{{layer.pool}\times{layer.pool}}}({cur_tex})",
                                name_np, f"maxpool({cur_np}, {layer.pool}, {layer.step})", l))
        else:
            name_tex, name_np = rf"\tilde{{A}}^{{[{l}]}}", f"D{l}"
            eqs.append(Equation("forward", rf"{name_tex} = {cur_tex} \odot M^{{[{l}]}} / (1 - {layer.rate:g})", name_np,
                                f"{cur_np} * M{l} / (1 - {layer.rate})", l))
        pending.append((layer.kind, layer, src_np))
        cur_tex, cur_np = name_tex, name_np
    L = l
    loss_eq = _loss_equation(config.loss, L)
    if lam:
        loss_eq.tex += rf" + \lambda \sum_{{l=1}}^{{{L}}} \Vert W^{{[l]}} \Vert^2,\ \ \lambda = {lam:g}"
        loss_eq.numpy += " + lam * sum((W ** 2).sum() for W in kernels)"
    eqs.append(loss_eq)
    d_tex, d_np = _output_delta(config.loss, acts[L], L)
    eqs.append(Equation("output delta", rf"\delta^{{[{L}]}} = \frac{{\partial \mathcal{{L}}}}{{\partial {_t('Z', L)}}} = {d_tex}",
                        f"dZ{L}", d_np, L))
    delta_tex = {L: d_tex}
    delta_np = {L: d_np}
    for k in range(L, 0, -1):
        inp_tex, inp_np = inputs[k]
        conv = isinstance(kinds[k], Conv2D)
        reg_tex = rf" + 2\lambda {_t('W', k)}" if lam else ""
        reg_np = f" + 2 * lam * W{k}" if lam else ""
        if conv:
            c = kinds[k]
            eqs.append(Equation("gradients", rf"d{_t('W', k)} = \mathrm{{im2col}}({inp_tex})^\top \delta^{{[{k}]}}{reg_tex}",
                                f"dW{k}", f"conv_dW({inp_np}, dZ{k}, W{k}, {c.stride}, '{c.padding}'){reg_np}", k))
            eqs.append(Equation("gradients", rf"d{_t('b', k)} = \sum_{{i,\,h,\,w}} \delta^{{[{k}]}}_{{ihw}}", f"db{k}",
                                f"dZ{k}.sum(axis=(0, 1, 2))", k))
        else:
            eqs.append(Equation("gradients", rf"d{_t('W', k)} = {inp_tex}^\top \delta^{{[{k}]}}{reg_tex}", f"dW{k}",
                                f"{inp_np}.T @ dZ{k}{reg_np}", k))
            eqs.append(Equation("gradients", rf"d{_t('b', k)} = \mathbf{{1}}^\top \delta^{{[{k}]}}\ \ (\mathrm{{sum\ over\ rows}})",
                                f"db{k}", f"dZ{k}.sum(axis=0)", k))
        if k == 1:
            break
        # dL/d(input of layer k), then back through the ops between A[k-1] and that input
        if conv:
            c = kinds[k]
            g_tex = rf"\mathrm{{col2im}}(\delta^{{[{k}]}} {_t('W', k)}^\top)"
            g_np = f"conv_dX(dZ{k}, W{k}, {inp_np}, {c.stride}, '{c.padding}')"
            g_np_nested = f"conv_dX(({HOLE}), W{k}, {inp_np}, {c.stride}, '{c.padding}')"
            g_tex_nested = rf"\mathrm{{col2im}}(({HOLE}) {_t('W', k)}^\top)"
        else:
            g_tex = rf"\delta^{{[{k}]}} {_t('W', k)}^\top"
            g_np = f"dZ{k} @ W{k}.T"
            g_np_nested = f"({HOLE}) @ W{k}.T"
            g_tex_nested = rf"\left({HOLE}\right) {_t('W', k)}^\top"
        wrap_np, wrap_tex = [], []
        for kind, layer, src_np in reversed(chain[k]):
            if kind == "dropout":
                wrap_np.append(lambda e, l_=k - 1, p=layer.rate: f"({e}) * M{l_} / (1 - {p})")
                wrap_tex.append(lambda e, l_=k - 1, p=layer.rate: rf"\left({e}\right) \odot M^{{[{l_}]}} / (1 - {p:g})")
            elif kind == "flatten":
                wrap_np.append(lambda e, s=src_np: f"unflatten({e}, {s})")
                wrap_tex.append(lambda e: rf"\mathrm{{unflatten}}({e})")
            else:
                wrap_np.append(lambda e, s=src_np, p=layer.pool, st=layer.step: f"maxpool_back({e}, {s}, {p}, {st})")
                wrap_tex.append(lambda e: rf"\mathrm{{maxpool}}'({e})")

        def through_ops(e, parts):
            for f in parts:
                e = f(e)
            return e

        g_tex_full = through_ops(g_tex, wrap_tex)
        g_np_full = through_ops(g_np, wrap_np)
        dz_tex, dz_np = _through_activation(acts[k - 1], k - 1, g_tex_full, g_np_full)
        eqs.append(Equation("backward", rf"\delta^{{[{k - 1}]}} = {dz_tex}", f"dZ{k - 1}", dz_np, k - 1))
        # the same delta written out from the output delta: the chain-rule product form
        nested_tex = _through_activation(acts[k - 1], k - 1,
                                         through_ops(g_tex_nested.replace(HOLE, delta_tex[k]), wrap_tex),
                                         through_ops(g_np_nested.replace(HOLE, delta_np[k]), wrap_np))
        delta_tex[k - 1], delta_np[k - 1] = nested_tex
    for k in range(1, L + 1):
        inp_tex, inp_np = inputs[k]
        if isinstance(kinds[k], Conv2D):
            c = kinds[k]
            tex = rf"d{_t('W', k)} = \mathrm{{im2col}}({inp_tex})^\top \left[{delta_tex[k]}\right]"
            code = f"conv_dW({inp_np}, {delta_np[k]}, W{k}, {c.stride}, '{c.padding}')"
        else:
            tex = rf"d{_t('W', k)} = {inp_tex}^\top \left[{delta_tex[k]}\right]"
            code = f"{inp_np}.T @ ({delta_np[k]})"
        if lam:
            tex += rf" + 2\lambda {_t('W', k)}"
            code += f" + 2 * lam * W{k}"
        eqs.append(Equation("chain rule", tex, f"chain_dW{k}", code, k))
    return eqs + _update_equations(config)


# --- numerical evaluation ------------------------------------------------

def _namespace() -> dict:
    from ..numerics.activations import ACTIVATIONS
    from ..scratch.layers.conv2d import Conv2DLayer
    from ..scratch.layers.maxpool2d import MaxPool2DLayer
    from ..spec import LayerInfo

    def conv_layer(W, s, pad):
        spec = Conv2D(W.shape[3], W.shape[0], s, pad, "linear")
        return Conv2DLayer(LayerInfo("conv", spec, (), (), {}))

    def conv2d(T, W, s, pad):
        return conv_layer(W, s, pad).forward({"kernel": W, "bias": np.zeros(W.shape[3])}, T, False, None)[0]

    def conv_backward(T, G, W, s, pad):
        layer = conv_layer(W, s, pad)
        params = {"kernel": W, "bias": np.zeros(W.shape[3])}
        _, cache = layer.forward(params, T, False, None)
        return layer.backward_z(params, cache, G, True)

    def pool_layer(p, s):
        return MaxPool2DLayer(LayerInfo("pool", MaxPool2D(p, s), (), (), {}))

    def maxpool_back(G, T, p, s):
        layer = pool_layer(p, s)
        _, cache = layer.forward({}, T, False, None)
        return layer.backward({}, cache, G)[0]

    ns = {name: act.forward for name, act in ACTIVATIONS.items()}
    ns.update(
        np=np,
        softmax_back=lambda A, G: A * (G - (G * A).sum(axis=-1, keepdims=True)),
        flatten=lambda T: T.reshape(len(T), -1),
        unflatten=lambda G, like: G.reshape(like.shape),
        conv2d=conv2d,
        conv_dW=lambda T, G, W, s, pad: conv_backward(T, G, W, s, pad)[1]["kernel"],
        conv_dX=lambda G, W, T, s, pad: conv_backward(T, G, W, s, pad)[0],
        maxpool=lambda T, p, s: pool_layer(p, s).forward({}, T, False, None)[0],
        maxpool_back=maxpool_back,
    )
    return ns


def evaluate(equations: list[Equation], spec: ModelSpec, weights: dict[str, np.ndarray], x: np.ndarray, y_targets: np.ndarray,
             l2: float = 0.0, masks: dict[int, np.ndarray] | None = None) -> dict:
    """Run the equations' NumPy expressions in order; returns every named value (dW1, db1, ...)."""
    ns = _namespace()
    params = [info for info in spec.infos if info.params]
    for l, info in enumerate(params, start=1):
        ns[f"W{l}"] = weights[f"{info.name}/kernel"]
        ns[f"b{l}"] = weights[f"{info.name}/bias"]
    ns.update(X=x, Y=y_targets, m=len(x), K=y_targets.shape[1], lam=l2,
              kernels=[ns[f"W{l}"] for l in range(1, len(params) + 1)])
    for l, mask in (masks or {}).items():
        ns[f"M{l}"] = mask
    for eq in equations:
        if eq.numpy is not None:
            ns[eq.name] = eval(eq.numpy, ns)  # noqa: S307 - our own generated expressions only
    return ns


# --- writing -------------------------------------------------------------

SECTION_TITLES = {"forward": "Forward pass", "loss": "Loss", "output delta": "Output delta",
                  "backward": "Backward pass: the delta recursion", "gradients": "Weight and bias gradients",
                  "chain rule": "Chain-rule product form (each layer's weights, written out from the output)",
                  "update": "Update rule"}


def _grouped(equations):
    """Equations by section, in reading order (the derivation interleaves them)."""
    sections: dict[str, list[Equation]] = {name: [] for name in SECTION_TITLES}
    for eq in equations:
        sections[eq.section].append(eq)
    return {name: eqs for name, eqs in sections.items() if eqs}


def to_markdown(equations: list[Equation], title: str) -> str:
    lines = [f"# {title}", "", "Batch-matrix notation as the code runs it: rows are the m examples of a batch, "
             "K outputs; ⊙ is the elementwise product; δ[l] = ∂L/∂Z[l].", ""]
    for section, eqs in _grouped(equations).items():
        lines += [f"## {SECTION_TITLES[section]}", ""]
        for eq in eqs:
            lines += ["$$", eq.tex, "$$", ""]
            if eq.numpy:
                lines += [f"`{eq.name} = {eq.numpy}`", ""]
    return "\n".join(lines)


def to_latex(equations: list[Equation], title: str) -> str:
    body = []
    for section, eqs in _grouped(equations).items():
        body.append(f"\\section*{{{SECTION_TITLES[section]}}}")
        for eq in eqs:
            body.append("\\[")
            body.append(eq.tex)
            body.append("\\]")
    return "\n".join([r"\documentclass{article}", r"\usepackage{amsmath,amssymb}",
                      r"\usepackage[margin=1.5cm,landscape]{geometry}", r"\begin{document}",
                      f"\\section*{{{title}}}", *body, r"\end{document}", ""])


def render_svg(equations: list[Equation], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[tuple[str, str]] = [("title", title)]
    for section, eqs in _grouped(equations).items():
        rows.append(("section", SECTION_TITLES[section]))
        rows += [("eq", eq.tex) for eq in eqs]
    longest = max(len(t) for kind, t in rows if kind == "eq")
    fig = plt.figure(figsize=(min(40, max(10, longest * 0.075)), 0.42 * len(rows) + 0.5))
    step = 1.0 / (len(rows) + 1)
    for i, (kind, text) in enumerate(rows):
        y = 1 - (i + 0.8) * step
        if kind == "eq":
            fig.text(0.02, y, f"${text}$", fontsize=12, va="center")
        else:
            fig.text(0.01, y, text, fontsize=14 if kind == "title" else 12, weight="bold", va="center")
    fig.savefig(path)
    plt.close(fig)
    return path


def write_equations(spec: ModelSpec, config: TrainConfig, out_dir: Path, title: str) -> list[Path]:
    equations = derive(spec, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "equations.md"
    md.write_text(to_markdown(equations, title))
    tex = out_dir / "equations.tex"
    tex.write_text(to_latex(equations, title))
    svg = render_svg(equations, out_dir / "equations.svg", title)
    return [md, tex, svg]


@dataclass
class EquationCheck:
    """One layer's derived gradients evaluated and compared with the scratch engine's backward pass."""
    layer: str
    dW_rel: float
    db_rel: float
    chain_rel: float

    @property
    def passed(self) -> bool:
        return max(self.dW_rel, self.db_rel, self.chain_rel) < 1e-8


def check_equations(spec: ModelSpec, config: TrainConfig, x: np.ndarray, y_targets: np.ndarray,
                    seed: int = 0) -> list[EquationCheck]:
    """Evaluate the derived equations (float64) at the config's initial weights, with non-zero biases,
    and compare every dW, db and chain-rule product with the engine's gradients (norm-wise relative)."""
    from ..numerics.initializers import init_weights
    from ..numerics.losses import get_loss, l2_factor
    from ..scratch.model import ScratchModel

    rng = np.random.default_rng(seed)
    w = {k: v + (0.1 * rng.standard_normal(v.shape) if k.endswith("bias") else 0)
         for k, v in init_weights(spec.param_shapes(), config.init, seed, "float64").items()}
    x = x.astype(np.float64)
    t = y_targets.astype(np.float64)
    model = ScratchModel(spec)
    out, caches = model.forward(w, x)
    grads = model.backward(w, caches, out, t, get_loss(config.loss), config.l2)
    ns = evaluate(derive(spec, config), spec, w, x, t, l2_factor(config.l2))

    def rel(a, b) -> float:
        return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))

    checks = []
    for l, info in enumerate([i for i in spec.infos if i.params], start=1):
        kernel, bias = grads[f"{info.name}/kernel"], grads[f"{info.name}/bias"]
        checks.append(EquationCheck(info.name, rel(ns[f"dW{l}"], kernel), rel(ns[f"db{l}"], bias),
                                    rel(ns[f"chain_dW{l}"], kernel) if f"chain_dW{l}" in ns else 0.0))
    return checks
