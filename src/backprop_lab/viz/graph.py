"""Computation graphs of one training step, built from the spec's layers.

``forward_graph``: inputs X and Y, parameters W[l], b[l], operations (matmul,
add, activation, conv, pool, flatten, dropout, loss) as nodes, and tensors with
their shapes on the edges.

``backward_graph``: from dL/dZ[L] back through every layer to dW[l] and db[l]:
each delta comes from a matmul with W[l+1]^T and an elementwise product with
g'(Z[l]); the forward values each step reuses are drawn as dashed inputs.

Both are plain ``Graph`` objects: rendered by ``viz.render`` (Graphviz when
installed, a built-in matplotlib layout otherwise) and written as DOT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spec import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelSpec

# the symbol of a layer's input when a non-parametric layer made it (as in the equations)
INPUT_SYMBOL = {"maxpool2d": "P", "flatten": "F", "dropout": "Ã"}
LOSS_NAMES = {"categorical_crossentropy": "categorical cross-entropy", "binary_crossentropy": "binary cross-entropy",
              "mse": "mean squared error"}


@dataclass
class Node:
    id: str
    label: str
    kind: str  # input, param, op, loss, grad, saved, neuron, ellipsis, value
    shape: tuple | None = None
    rank: int | None = None
    group: str | None = None


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    dashed: bool = False


@dataclass
class Graph:
    name: str
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    direction: str = "LR"

    def add(self, node: Node) -> str:
        self.nodes.append(node)
        return node.id

    def link(self, src: str, dst: str, label: str = "", dashed: bool = False) -> None:
        self.edges.append(Edge(src, dst, label, dashed))

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def by_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]


def shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def batch_shape(shape: tuple) -> tuple:
    return ("m", *shape)


def _param_layers(spec: ModelSpec):
    """(index l from 1, LayerInfo) for layers with weights."""
    return [(i + 1, info) for i, info in enumerate([x for x in spec.infos if x.params])]


def forward_graph(spec: ModelSpec, loss: str = "categorical_crossentropy", l2: float = 0.0) -> Graph:
    g = Graph("forward", f"Forward computation graph ({LOSS_NAMES[loss]})")
    current = g.add(Node("X", "X", "input", batch_shape(spec.input_shape)))
    current_shape = batch_shape(spec.input_shape)
    layer_index = {info.name: l for l, info in _param_layers(spec)}
    last_l = len(layer_index)
    kernels = []

    def tensor(node_id: str, shape: tuple) -> str:
        """Edge label: the tensor's name when it is an activation's output, and its shape."""
        return f"A[{node_id[3:]}] {shape_text(shape)}" if node_id.startswith("act") else shape_text(shape)

    for info in spec.infos:
        layer = info.spec
        out_shape = batch_shape(info.output_shape)
        if isinstance(layer, (Dense, Conv2D)):
            l = layer_index[info.name]
            w = g.add(Node(f"W{l}", f"W[{l}]", "param", info.params["kernel"]))
            b = g.add(Node(f"b{l}", f"b[{l}]", "param", info.params["bias"]))
            kernels.append(w)
            op = g.add(Node(f"mm{l}", "matmul" if isinstance(layer, Dense) else f"conv2d {layer.kernel}x{layer.kernel}"
                            f"{'' if layer.stride == 1 else f' /{layer.stride}'} {layer.padding}", "op", out_shape))
            g.link(current, op, tensor(current, current_shape))
            g.link(w, op, shape_text(info.params["kernel"]))
            add = g.add(Node(f"add{l}", "add", "op", out_shape))
            g.link(op, add, shape_text(out_shape))
            g.link(b, add, shape_text(info.params["bias"]))
            act = g.add(Node(f"act{l}", layer.activation, "op", out_shape))
            g.link(add, act, f"Z[{l}] {shape_text(out_shape)}")
            current, current_shape = act, out_shape
            if l == last_l:
                break
            continue
        if isinstance(layer, MaxPool2D):
            op = g.add(Node(info.name, f"maxpool {layer.pool}x{layer.pool}", "op", out_shape))
        elif isinstance(layer, Flatten):
            op = g.add(Node(info.name, "flatten", "op", out_shape))
        elif isinstance(layer, Dropout):
            op = g.add(Node(info.name, f"dropout p={layer.rate:g}", "op", out_shape))
        else:  # pragma: no cover
            raise TypeError(layer)
        g.link(current, op, tensor(current, current_shape))
        current, current_shape = op, out_shape
    y = g.add(Node("Y", "Y", "input", batch_shape(spec.output_shape)))
    loss_node = g.add(Node("loss", LOSS_NAMES[loss], "loss", ()))
    g.link(current, loss_node, tensor(current, current_shape))
    g.link(y, loss_node, shape_text(batch_shape(spec.output_shape)))
    if l2:
        reg = g.add(Node("l2", f"L2 penalty λ={l2:g}", "op", ()))
        for w in kernels:
            g.link(w, reg, "")
        total = g.add(Node("total", "L = loss + penalty", "loss", ()))
        g.link(loss_node, total, "scalar")
        g.link(reg, total, "scalar")
    return g


def output_delta_text(loss: str, activation: str) -> str:
    """dL/dZ[L] for the loss and output activation, as the scratch engine computes it."""
    if loss == "categorical_crossentropy" and activation == "softmax":
        return "(A[L] - Y) / m"
    if loss == "binary_crossentropy" and activation == "sigmoid":
        return "(A[L] - Y) / (m K)"
    if loss == "mse":
        base = "2 (A[L] - Y) / (m K)"
    elif loss == "binary_crossentropy":
        base = "(A[L] - Y) / (A[L] (1 - A[L]) m K)"
    else:
        base = "-Y / (A[L] m)"
    return {"linear": base, "softmax": f"softmax Jacobian · [{base}]"}.get(activation, f"[{base}] ⊙ g'(Z[L])")


def backward_graph(spec: ModelSpec, loss: str = "categorical_crossentropy", l2: float = 0.0) -> Graph:
    g = Graph("backward", f"Backward computation graph ({LOSS_NAMES[loss]})")
    params = _param_layers(spec)
    L = len(params)
    last = spec.infos[-1]
    start = g.add(Node("dL", "dL/dL = 1", "loss", ()))
    delta = g.add(Node(f"delta{L}", f"δ[{L}] = dL/dZ[{L}]", "grad", batch_shape(last.output_shape)))
    ay = g.add(Node("saved_AL_Y", f"A[{L}], Y", "saved", batch_shape(last.output_shape)))
    g.link(start, delta, output_delta_text(loss, spec.output_activation).replace("[L]", f"[{L}]"))
    g.link(ay, delta, "", dashed=True)
    # walk the layers backwards; ``grad`` is the node holding dL/d(current tensor)
    grad, grad_is_delta_of = delta, L
    infos = list(spec.infos)
    index = {info.name: l for l, info in params}
    for pos in range(len(infos) - 1, -1, -1):
        info = infos[pos]
        layer = info.spec
        in_shape = batch_shape(info.input_shape)
        if isinstance(layer, (Dense, Conv2D)):
            l = index[info.name]
            if grad_is_delta_of != l:  # reach dZ[l] from dA[l]
                op = g.add(Node(f"gprime{l}", f"⊙ g'(Z[{l}])  ({layer.activation})", "op", batch_shape(info.output_shape)))
                g.link(grad, op, f"dA[{l}] {shape_text(batch_shape(info.output_shape))}")
                saved = g.add(Node(f"saved_Z{l}", f"Z[{l}]" if layer.activation == "relu" else f"A[{l}]", "saved",
                                   batch_shape(info.output_shape)))
                g.link(saved, op, "", dashed=True)
                grad = g.add(Node(f"delta{l}", f"δ[{l}]", "grad", batch_shape(info.output_shape)))
                g.link(op, grad, shape_text(batch_shape(info.output_shape)))
            symbol = "A" if pos == 0 or l == 1 else INPUT_SYMBOL.get(infos[pos - 1].spec.kind, "A")
            a_prev = g.add(Node(f"saved_A{l - 1}", f"{symbol}[{l - 1}] (layer input)", "saved", in_shape))
            conv = isinstance(layer, Conv2D)
            mm = g.add(Node(f"dWop{l}", "im2col(A)ᵀ δ" if conv else f"A[{l - 1}]ᵀ δ[{l}]", "op", info.params["kernel"]))
            g.link(grad, mm, f"δ[{l}]")
            g.link(a_prev, mm, "", dashed=True)
            dw = g.add(Node(f"dW{l}", f"dW[{l}]", "param", info.params["kernel"]))
            if l2:
                reg = g.add(Node(f"l2_{l}", f"+ 2λ W[{l}]", "op", info.params["kernel"]))
                g.link(mm, reg, shape_text(info.params["kernel"]))
                g.link(reg, dw, shape_text(info.params["kernel"]))
            else:
                g.link(mm, dw, shape_text(info.params["kernel"]))
            sm = g.add(Node(f"dbop{l}", "sum over rows" + (" and pixels" if conv else ""), "op", info.params["bias"]))
            g.link(grad, sm, f"δ[{l}]")
            db = g.add(Node(f"db{l}", f"db[{l}]", "param", info.params["bias"]))
            g.link(sm, db, shape_text(info.params["bias"]))
            if l == 1 or not any(i.params and i.trainable for i in infos[:pos]):
                break
            back = g.add(Node(f"dXop{l}", f"col2im(δ W[{l}]ᵀ)" if conv else f"δ[{l}] W[{l}]ᵀ", "op", in_shape))
            g.link(grad, back, f"δ[{l}]")
            w_saved = g.add(Node(f"saved_W{l}", f"W[{l}]", "saved", info.params["kernel"]))
            g.link(w_saved, back, "", dashed=True)
            grad, grad_is_delta_of = back, None
            continue
        if isinstance(layer, MaxPool2D):
            op = g.add(Node(f"back_{info.name}", "route to argmax of each window", "op", in_shape))
            saved = g.add(Node(f"saved_{info.name}", "argmax positions", "saved", batch_shape(info.output_shape)))
            g.link(saved, op, "", dashed=True)
        elif isinstance(layer, Flatten):
            op = g.add(Node(f"back_{info.name}", "reshape", "op", in_shape))
        else:
            op = g.add(Node(f"back_{info.name}", "⊙ mask / (1 - p)", "op", in_shape))
            saved = g.add(Node(f"saved_{info.name}", "dropout mask", "saved", batch_shape(info.output_shape)))
            g.link(saved, op, "", dashed=True)
        g.link(grad, op, shape_text(batch_shape(info.output_shape)))
        grad = op
    return g
