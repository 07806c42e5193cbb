"""The classic neuron diagram: a column of circles per layer with all connections.

Large layers are truncated: the first and last few neurons are drawn with an
ellipsis between them and the true size written under the column. Inputs are
labelled as pixels, outputs as the class names.
"""

from __future__ import annotations

from backprop_lab.maths.graphs import Graph, Node, shape_text
from backprop_lab.spec.model import Conv2D, Dense, ModelSpec

MAX_SHOWN = 8  # neurons drawn per column before truncating


def _shown(n: int, max_shown: int) -> list[int | None]:
    """Indices to draw, None for the ellipsis."""
    if n <= max_shown:
        return list(range(n))
    head = max_shown // 2
    tail = max_shown - head - 1
    return list(range(head)) + [None] + list(range(n - tail, n))


def network_graph(spec: ModelSpec, class_names: list[str] | None = None, max_shown: int = MAX_SHOWN) -> Graph:
    g = Graph("network", "Network diagram", direction="LR")
    columns: list[tuple[str, int, str, list[str] | None]] = []
    n_in = 1
    for d in spec.input_shape:
        n_in *= d
    columns.append(("input", n_in, f"input X {shape_text(spec.input_shape)}\n{n_in:,} pixels", None))
    dense_layers = [i for i in spec.infos if isinstance(i.spec, (Dense, Conv2D))]
    for k, info in enumerate(dense_layers):
        layer = info.spec
        last = k == len(dense_layers) - 1
        l = k + 1  # numbered as the equations number the layers with weights: W[l], b[l] (dense_0 is for files)
        if isinstance(layer, Conv2D):
            size = layer.filters
            caption = f"layer {l}: conv\nW[{l}], b[{l}]\n{layer.filters} filters {layer.kernel}x{layer.kernel}\n{layer.activation}"
        else:
            size = layer.units
            role = "output" if last else "hidden"
            caption = f"layer {l}: {role}\nW[{l}], b[{l}]\n{size:,} units\n{layer.activation}"
        names = class_names if last and class_names and len(class_names) == size else None
        columns.append((info.name, size, caption, names))
    previous: list[str] = []
    for rank, (name, size, caption, names) in enumerate(columns):
        ids = []
        limit = max(max_shown, 12) if names else max_shown  # all class names when they fit
        for idx in _shown(size, limit):
            if idx is None:
                ids.append(g.add(Node(f"{name}_more", "⋮", "ellipsis", rank=rank, group=name)))
                continue
            if rank == 0:
                label = f"x{idx + 1}"
            elif names:
                label = names[idx]
            else:
                label = ""
            ids.append(g.add(Node(f"{name}_{idx}", label, "neuron", rank=rank, group=name)))
        g.add(Node(f"{name}_caption", caption, "caption", rank=rank, group=name))
        for a in previous:
            for b in ids:
                if not (a.endswith("_more") or b.endswith("_more")):
                    g.link(a, b)
        previous = ids
    return g
