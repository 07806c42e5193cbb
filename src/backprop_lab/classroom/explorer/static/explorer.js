// backprop-lab explorer: the page's interpreter of the derivation's expression trees, and its display.
// The trees come from Python (backprop_lab.classroom.explorer.page, format "backprop-lab-explorer" v1); this file
// evaluates the same node types as backprop_lab.maths.expr.evaluate and restates no rule of backpropagation.
"use strict";

// ---- tensors: {shape: [..], data: Float64Array in row-major order} --------------------------------------
function size(shape) { return shape.reduce((a, b) => a * b, 1); }
function tensor(shape, data) { return { shape: shape.slice(), data: Float64Array.from(data) }; }
function scalar(v) { return { shape: [], data: Float64Array.of(v) }; }
function zerosLike(t) { return { shape: t.shape.slice(), data: new Float64Array(t.data.length) }; }
function map(t, f) { return { shape: t.shape.slice(), data: t.data.map(f) }; }

function broadcast(a, b, f) {
  if (a.shape.length === b.shape.length && a.shape.every((n, i) => n === b.shape[i])) {
    const out = new Float64Array(a.data.length);
    for (let i = 0; i < out.length; i++) out[i] = f(a.data[i], b.data[i]);
    return { shape: a.shape.slice(), data: out };
  }
  const n = Math.max(a.shape.length, b.shape.length);
  const sa = Array(n - a.shape.length).fill(1).concat(a.shape), sb = Array(n - b.shape.length).fill(1).concat(b.shape);
  const shape = sa.map((x, i) => {
    if (x === sb[i] || sb[i] === 1) return x;
    if (x === 1) return sb[i];
    throw new Error(`shapes (${a.shape}) and (${b.shape}) do not broadcast`);
  });
  const strides = (s) => { const st = Array(n).fill(0); let k = 1; for (let i = n - 1; i >= 0; i--) { st[i] = s[i] === 1 ? 0 : k; k *= s[i]; } return st; };
  const ta = strides(sa), tb = strides(sb), out = new Float64Array(size(shape)), idx = Array(n).fill(0);
  for (let o = 0; o < out.length; o++) {
    let ia = 0, ib = 0;
    for (let i = 0; i < n; i++) { ia += idx[i] * ta[i]; ib += idx[i] * tb[i]; }
    out[o] = f(a.data[ia], b.data[ib]);
    for (let i = n - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
  }
  return { shape, data: out };
}

function matmul(a, b) {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0])
    throw new Error(`matrix product of shapes (${a.shape}) and (${b.shape})`);
  const [m, k] = a.shape, n = b.shape[1], out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a.data[i * k + p] * b.data[p * n + j];
    out[i * n + j] = s;
  }
  return { shape: [m, n], data: out };
}

function transpose(a) {  // every axis reversed, as NumPy's .T
  const n = a.shape.length, shape = a.shape.slice().reverse(), out = new Float64Array(a.data.length);
  const st = Array(n).fill(1);
  for (let i = n - 2; i >= 0; i--) st[i] = st[i + 1] * a.shape[i + 1];
  const idx = Array(n).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < n; i++) src += idx[i] * st[n - 1 - i];
    out[o] = a.data[src];
    for (let i = n - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
  }
  return { shape, data: out };
}

function rowwise(a, f) {  // f maps one row (the last axis) to a row of the same length
  const last = a.shape[a.shape.length - 1] || 1, out = new Float64Array(a.data.length);
  for (let r = 0; r < a.data.length; r += last) out.set(f(a.data.subarray(r, r + last)), r);
  return { shape: a.shape.slice(), data: out };
}

function sumRows(a) {  // over every axis but the last
  const last = a.shape[a.shape.length - 1], out = new Float64Array(last);
  for (let i = 0; i < a.data.length; i++) out[i % last] += a.data[i];
  return { shape: [last], data: out };
}

function sumLast(a) {
  const last = a.shape[a.shape.length - 1], out = new Float64Array(a.data.length / last);
  for (let i = 0; i < a.data.length; i++) out[Math.floor(i / last)] += a.data[i];
  return { shape: a.shape.slice(0, -1).concat([1]), data: out };
}

function sumFirst(a) {  // column sums of a matrix, kept as a row
  const last = a.shape[a.shape.length - 1], out = new Float64Array(last);
  for (let i = 0; i < a.data.length; i++) out[i % last] += a.data[i];
  return { shape: [1, last], data: out };
}

function sigmoid(z) { const e = Math.exp(-Math.abs(z)); return z >= 0 ? 1 / (1 + e) : e / (1 + e); }
function softmaxRow(z) {
  const top = Math.max(...z), e = z.map((v) => Math.exp(v - top)), s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
function logsumexpRow(z) {
  const top = Math.max(...z), s = z.reduce((a, v) => a + Math.exp(v - top), 0);
  return z.map(() => top + Math.log(s));
}

// the functions of backprop_lab.maths.expr.FUNCTIONS
const FUNCTIONS = {
  relu: (t) => map(t, (z) => Math.max(z, 0)),
  max0: (t) => map(t, (z) => Math.max(z, 0)),
  sigmoid: (t) => map(t, sigmoid),
  tanh: (t) => map(t, Math.tanh),
  exp: (t) => map(t, Math.exp),
  log: (t) => map(t, Math.log),
  abs: (t) => map(t, Math.abs),
  floor: (t) => map(t, Math.floor),
  sqrt: (t) => map(t, Math.sqrt),
  step: (t) => map(t, (z) => (z > 0 ? 1 : 0)),
  softmax: (t) => rowwise(t, softmaxRow),
  logsumexp: (t) => { const r = rowwise(t, logsumexpRow), last = t.shape[t.shape.length - 1];
    return { shape: t.shape.slice(0, -1).concat([1]), data: r.data.filter((_, i) => i % last === 0) }; },
  // the columns layout's: over each column (an example), as the row-wise ones on the transpose
  softmax_cols: (t) => transpose(FUNCTIONS.softmax(transpose(t))),
  logsumexp_cols: (t) => transpose(FUNCTIONS.logsumexp(transpose(t))),
};

// the tensor operations the page computes (the others stay Python's, and editing is off)
const OPS = {
  flatten: (v) => ({ shape: [v[0].shape[0], v[0].data.length / v[0].shape[0]], data: v[0].data.slice() }),
  unflatten: (v, p) => ({ shape: [v[0].shape[0]].concat(p.in_shape), data: v[0].data.slice() }),
};

const BINARY = {
  add: (x, y) => x + y, sub: (x, y) => x - y, hadamard: (x, y) => x * y, scale: (x, y) => x * y,
  div: (x, y) => x / y, pow: (x, y) => Math.pow(x, y),
};

// The value of a tree (["sym", name], ["const", v], ["func", fn, a], ["op", name, [args], params], [node, a, b?]).
function evaluate(e, env) {
  const [kind] = e;
  if (kind === "sym") {
    if (!(e[1] in env)) throw new Error(`no value for ${e[1]}`);
    return env[e[1]];
  }
  if (kind === "const") return scalar(e[1]);
  if (kind === "func") return FUNCTIONS[e[1]](evaluate(e[2], env));
  if (kind === "op") {
    if (!(e[1] in OPS)) throw new Error(`the page does not compute ${e[1]}`);
    return OPS[e[1]](e[2].map((a) => evaluate(a, env)), e[3]);
  }
  if (kind in BINARY) return broadcast(evaluate(e[1], env), evaluate(e[2], env), BINARY[kind]);
  const a = evaluate(e[1], env);
  switch (kind) {
    case "matmul": return matmul(a, evaluate(e[2], env));
    case "transpose": return transpose(a);
    case "neg": return map(a, (x) => -x);
    case "sumrows": return sumRows(a);
    case "sumlast": return sumLast(a);
    case "sumcols": return sumLast(a);  // the columns layout's examples are the columns: row sums, as a column
    case "sumfirst": return sumFirst(a);
    case "sumall": return scalar(a.data.reduce((s, x) => s + x, 0));
  }
  throw new Error(`cannot evaluate ${kind}`);
}

// One training step from `start` (name -> tensor): every equation in order, as worked_example evaluates them.
// Returns the environment after the update, each line's value, the values each line read, and the values
// before the update (those the graphs' nodes show).
function runStep(D, start) {
  const env = Object.assign({}, start), lines = [], seen = [];
  let before = null;
  D.equations.forEach((eq) => {
    if (eq.section === "update") {
      if (!before) before = Object.assign({}, env);
      if (!(eq.lhs in env)) env[eq.lhs] = zerosLike(env[eq.param]);
    }
    const read = {};
    eq.reads.forEach((n) => { read[n] = env[n]; });
    seen.push(read);
    const v = evaluate(eq.rhs, env);
    lines.push(v);
    env[eq.lhs] = v;
  });
  return { env, lines, seen, before: before || Object.assign({}, env) };
}

// The start of the next step: the parameters and the optimizer's state after this one, t + 1.
function nextStart(D, start, result) {
  const next = Object.assign({}, start);
  D.equations.forEach((eq) => {
    if (eq.section === "update" && ["param", "state"].includes(D.symbols[eq.lhs].kind)) next[eq.lhs] = result.env[eq.lhs];
  });
  next.t = scalar(start.t.data[0] + 1);
  return next;
}

// Python's format(v, ".Ng")
function fmtG(v, p) {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const [mant, expText] = v.toExponential(p - 1).split("e"), ex = parseInt(expText, 10);
  const trim = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  if (ex < -4 || ex >= p) return `${trim(mant)}e${ex < 0 ? "-" : "+"}${String(Math.abs(ex)).padStart(2, "0")}`;
  return trim(v.toFixed(Math.max(0, p - 1 - ex)));
}

function stats(t) {
  const d = Array.from(t.data), n = d.length, mean = d.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) * (b - mean), 0) / n);
  return { mean, std, min: Math.min(...d), max: Math.max(...d), norm: Math.sqrt(d.reduce((a, b) => a + b * b, 0)) };
}

if (typeof module !== "undefined") module.exports = { evaluate, runStep, nextStart, fmtG, tensor, scalar, stats };

// ---- the page ------------------------------------------------------------------------------------------
if (typeof document !== "undefined") (function page() {
  const D = JSON.parse(document.getElementById("bplab-data").textContent);
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const fmt = (v) => fmtG(v, D.digits);
  const fromJSON = (a) => tensor(a.shape, a.data);
  const original = {};
  Object.entries(D.start).forEach(([k, v]) => { original[k] = fromJSON(v); });
  const state = { start: Object.assign({}, original), step: 0, graph: "forward", result: null, losses: [] };
  const steps = D.steps;
  const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];

  function compute() {
    if (D.editable) { state.result = runStep(D, state.start); return; }
    const c = D.computed, lines = c.lines.map(fromJSON), before = {};
    Object.entries(c.before).forEach(([k, v]) => { before[k] = fromJSON(v); });
    state.result = { lines, before, env: before, seen: lines.map(() => ({})) };
  }
  function stepValue(i) {
    const s = steps[i], r = state.result;
    if (s.graph === "forward") return D.editable ? evaluate(s.expr, r.before) : fromJSON(D.computed.steps[i]);
    return r.lines[s.eq];
  }
  function nodeValue(graph, node) {
    if (!node.expr) return null;
    try { return D.editable || node.expr[0] === "sym" ? evaluate(node.expr, state.result.before) : null; } catch (err) { return null; }
  }

  // -- MathML and values
  function mathMatrix(t) {
    const mn = (v) => `<mn data-value="${v}">${esc(fmt(v))}</mn>`;
    if (t.shape.length === 0) return mn(t.data[0]);
    const cols = t.shape[t.shape.length - 1], rows = t.data.length / cols;
    let body = "";
    for (let r = 0; r < rows; r++) body += "<mtr>" + Array.from(t.data.subarray(r * cols, (r + 1) * cols), (v) => `<mtd>${mn(v)}</mtd>`).join("") + "</mtr>";
    return `<mrow><mo>[</mo><mtable>${body}</mtable><mo>]</mo></mrow>`;
  }
  function heatMap(t, label) {
    const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1, rows = t.data.length / cols;
    const cell = Math.max(2, Math.min(14, Math.floor(280 / Math.max(cols, rows)))), s = stats(t);
    const canvas = document.createElement("canvas");
    canvas.width = cols * cell; canvas.height = rows * cell;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${label}: heat map of ${t.shape.join(" × ")} values from ${fmtG(s.min, 3)} to ${fmtG(s.max, 3)}`);
    canvas.dataset.values = Array.from(t.data).join(",");
    canvas.dataset.shape = t.shape.join(",");
    const g = canvas.getContext("2d"), span = s.max - s.min || 1;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      const k = Math.min(9, Math.floor(((t.data[r * cols + c] - s.min) / span) * 10));
      g.fillStyle = VIRIDIS[k]; g.fillRect(c * cell, r * cell, cell, cell);
    }
    const box = document.createElement("div");
    box.className = "heat";
    box.append(canvas);
    const legend = document.createElement("span");
    legend.textContent = `${fmtG(s.min, 3)} (dark) … ${fmtG(s.max, 3)} (light); mean ${fmtG(s.mean, 3)} ± ${fmtG(s.std, 3)}`;
    box.append(legend);
    return box;
  }
  function statsText(t, grad) {
    if (t.data.length === 1) return `= ${fmtG(t.data[0], 4)}`;
    const s = stats(t);
    return `mean ${fmtG(s.mean, 3)} ± ${fmtG(s.std, 3)}, range [${fmtG(s.min, 3)}, ${fmtG(s.max, 3)}]` + (grad ? `; ‖·‖ = ${fmtG(s.norm, 3)}` : "");
  }
  function shortText(t) {
    if (t.data.length === 1) return fmt(t.data[0]);
    if (t.data.length <= 4) return "[" + Array.from(t.data, fmt).join(", ") + "]";
    return `${t.shape.join(" × ")} values, ${statsText(t, false)}`;
  }
  function refill(root, values) {
    root.querySelectorAll("[data-ref]").forEach((el) => {
      const t = values[el.dataset.ref];
      if (!t) return;
      const v = t.data[+el.dataset.i];
      el.textContent = fmt(v);
      el.dataset.value = String(v);
    });
  }

  // -- the step
  function showStep() {
    const i = state.step, s = steps[i], v = stepValue(i), sym = s.name ? D.symbols[s.name] : null;
    $("step-title").textContent = `Step ${i + 1} of ${steps.length}: ${D.sections[s.section]}`;
    $("position").textContent = `${i + 1} / ${steps.length}`;
    const math = $("step-math");
    math.innerHTML = `<math display="block">${s.mathml}</math><math display="block"><mrow><mo>=</mo>${s.filled}</mrow></math>`;
    refill(math, s.graph === "forward" ? state.result.before : state.result.seen[s.eq]);
    const res = $("result");
    res.innerHTML = "";
    res.dataset.shape = v.shape.join(",");
    if (v.data.length <= D.max_entries) {
      res.innerHTML = `<math display="block"><mrow>${sym ? sym.mathml : ""}<mo>=</mo>${mathMatrix(v)}</mrow></math>`;
    } else {
      const p = document.createElement("p");
      p.textContent = `${sym ? sym.text : "the value"}: ${v.shape.join(" × ")} values, too many to write out.`;
      res.append(p, heatMap(v, sym ? sym.text : "value"));
    }
    $("back").disabled = i === 0;
    $("next").disabled = i === steps.length - 1;
    document.querySelectorAll("#equations .eq").forEach((el) => el.classList.toggle("current", +el.dataset.eq === s.eq));
    document.querySelectorAll("#value-table tr[data-name]").forEach((el) => el.classList.toggle("current", el.dataset.name === s.name));
    if (s.graph !== state.graph) showGraph(s.graph);
    markGraph();
    $("announce").textContent = `Step ${i + 1} of ${steps.length}, ${D.sections[s.section]}: ${s.text} = ${shortText(v)}`;
  }
  function go(i) {
    state.step = Math.max(0, Math.min(steps.length - 1, i));
    showStep();
  }

  // -- the graphs: nodes ranked by their longest path from a source (top to bottom, or left to right)
  function layout(g) {
    const preds = {}, succs = {}, rank = {};
    g.nodes.forEach((n) => { preds[n.id] = []; succs[n.id] = []; rank[n.id] = 0; });
    g.edges.forEach((e) => { preds[e.dst].push(e.src); succs[e.src].push(e.dst); });
    for (let pass = 0; pass < g.nodes.length; pass++) {
      let changed = false;
      g.nodes.forEach((n) => preds[n.id].forEach((p) => { if (rank[p] + 1 > rank[n.id]) { rank[n.id] = rank[p] + 1; changed = true; } }));
      if (!changed) break;
    }
    g.nodes.forEach((n) => { if (!preds[n.id].length && succs[n.id].length) rank[n.id] = Math.min(...succs[n.id].map((s) => rank[s])) - 1; });
    const ranks = [];
    g.nodes.forEach((n) => { (ranks[rank[n.id]] = ranks[rank[n.id]] || []).push(n); });
    const wide = g.direction === "lr", pos = {}, W = 150, H = 30, gapMain = wide ? 180 : 62, gapCross = wide ? 44 : 162;
    const most = Math.max(...ranks.filter(Boolean).map((r) => r.length));
    ranks.forEach((r, k) => r && r.forEach((n, j) => {
      const cross = (j - (r.length - 1) / 2) * gapCross + ((most - 1) / 2) * gapCross + (wide ? H : W / 2 + 8);
      const main = k * gapMain + (wide ? W / 2 + 8 : H);
      pos[n.id] = wide ? [main, cross] : [cross, main];
    }));
    const width = wide ? ranks.length * gapMain + 16 : most * gapCross + 16, height = wide ? most * gapCross + 16 : ranks.length * gapMain;
    return { pos, width, height, W, H };
  }
  function drawGraph(name) {
    const g = D.graphs[name], L = layout(g), NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${L.width} ${L.height}`);
    svg.setAttribute("width", L.width);
    svg.setAttribute("role", "group");
    svg.setAttribute("aria-label", g.title);
    svg.dataset.graph = name;
    svg.innerHTML = `<defs><marker id="arrow-${name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#6b6b6b"/></marker></defs>`;
    g.edges.forEach((e) => {
      const [x1, y1] = L.pos[e.src], [x2, y2] = L.pos[e.dst], line = document.createElementNS(NS, "line");
      const wide = g.direction === "lr", dy = wide ? 0 : L.H / 2, dx = wide ? L.W / 2 : 0;
      line.setAttribute("x1", x1 + dx); line.setAttribute("y1", y1 + dy);
      line.setAttribute("x2", x2 - dx); line.setAttribute("y2", y2 - dy);
      line.setAttribute("class", "edge" + (e.dashed ? " dashed" : ""));
      line.setAttribute("marker-end", `url(#arrow-${name})`);
      svg.append(line);
    });
    g.nodes.forEach((n) => {
      const [x, y] = L.pos[n.id], el = document.createElementNS(NS, "g"), label = n.label.split("\n")[0];
      el.setAttribute("class", `node ${n.kind}`);
      el.setAttribute("tabindex", "0");
      el.setAttribute("role", "button");
      el.setAttribute("aria-label", `${label}, ${n.kind}${n.shape.length ? ", shape (" + n.shape.join(", ") + ")" : ""}`);
      el.dataset.node = n.id;
      el.innerHTML = `<rect x="${x - L.W / 2}" y="${y - L.H / 2}" width="${L.W}" height="${L.H}" rx="6"/>` +
        `<text x="${x}" y="${y + 4}" text-anchor="middle">${esc(label.length > 21 ? label.slice(0, 20) + "…" : label)}</text>`;
      const show = () => showDetails(name, n);
      el.addEventListener("mouseenter", show);
      el.addEventListener("focus", show);
      el.addEventListener("click", () => { show(); jumpToNode(name, n.id); });
      el.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); show(); jumpToNode(name, n.id); } });
      svg.append(el);
    });
    return svg;
  }
  function showGraph(name) {
    state.graph = name;
    const box = $("graph");
    box.innerHTML = "";
    box.append(drawGraph(name));
    $("graph-title").textContent = D.graphs[name].title;
    $("show-forward").setAttribute("aria-pressed", String(name === "forward"));
    $("show-backward").setAttribute("aria-pressed", String(name === "backward"));
    markGraph();
  }
  function markGraph() {
    const s = steps[state.step], done = new Set(steps.slice(0, state.step).filter((x) => x.graph === state.graph).map((x) => x.node));
    document.querySelectorAll("#graph .node").forEach((el) => {
      el.classList.toggle("current", s.graph === state.graph && el.dataset.node === s.node);
      el.classList.toggle("done", done.has(el.dataset.node));
    });
  }
  function jumpToNode(graph, id) {
    const i = steps.findIndex((s) => s.graph === graph && s.node === id);
    if (i >= 0) go(i);
  }
  function showDetails(graph, n) {
    const box = $("details"), v = nodeValue(graph, n), label = n.label.split("\n")[0];
    box.innerHTML = "";
    const h = document.createElement("p");
    h.innerHTML = `<strong>${esc(label)}</strong> (${esc(n.kind)})` + (n.shape.length ? `, shape (${esc(n.shape.join(", "))})` : "");
    box.append(h);
    if (!v) return;
    const p = document.createElement("p");
    p.className = "stats";
    p.textContent = (v.shape.length ? `actual shape (${v.shape.join(", ")}); ` : "") + statsText(v, graph === "backward" && n.kind !== "saved");
    box.append(p);
    if (v.data.length > D.max_entries) box.append(heatMap(v, label));
  }

  // -- the equations
  function drawEquations() {
    const box = $("equations");
    box.innerHTML = "";
    let list = null, section = null;
    D.equations.forEach((eq, i) => {
      if (eq.section !== section) {
        section = eq.section;
        const h = document.createElement("h3");
        h.textContent = D.sections[section];
        list = document.createElement("ol");
        box.append(h, list);
      }
      const li = document.createElement("li"), b = document.createElement("button");
      b.type = "button"; b.className = "eq"; b.dataset.eq = i;
      b.setAttribute("aria-label", `Go to ${eq.text}`);
      b.innerHTML = `<math>${eq.mathml}</math>`;
      b.addEventListener("click", () => { const k = steps.findIndex((s) => s.eq === i); if (k >= 0) go(k); });
      li.append(b); list.append(li);
    });
  }

  // -- the values: the starting numbers (editable) and every computed value
  function cells(t, name, editable) {
    const box = document.createElement("div");
    box.className = "cells";
    if (t.data.length > D.max_entries) { box.append(heatMap(t, D.symbols[name].text)); return box; }
    const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1, rows = t.data.length / cols, table = document.createElement("table");
    for (let r = 0; r < rows; r++) {
      const tr = table.insertRow();
      for (let c = 0; c < cols; c++) {
        const k = r * cols + c, td = tr.insertCell(), v = t.data[k];
        if (editable) {
          const input = document.createElement("input");
          input.type = "text"; input.inputMode = "decimal"; input.value = String(v);
          input.dataset.name = name; input.dataset.i = k;
          input.setAttribute("aria-label", `${D.symbols[name].text}` + (t.data.length > 1 ? ` row ${r + 1} column ${c + 1}` : ""));
          input.addEventListener("input", onEdit);
          td.append(input);
        } else {
          td.dataset.value = String(v);
          td.textContent = fmt(v);
        }
      }
    }
    box.append(table);
    return box;
  }
  function valueRow(name, t, editable, note) {
    const tr = document.createElement("tr");
    tr.dataset.name = name;
    const sym = D.symbols[name];
    tr.innerHTML = `<th scope="row"><math>${sym.mathml}</math>${note ? `<br><span class="stats">${esc(note)}</span>` : ""}</th><td>${esc(t.shape.join(" × ") || "scalar")}</td>`;
    const td = document.createElement("td");
    td.append(cells(t, name, editable));
    tr.append(td);
    return tr;
  }
  function drawValues(keepInputs) {
    const box = $("value-table");
    let table = box.querySelector("table");
    if (!keepInputs || !table) {
      box.innerHTML = "";
      table = document.createElement("table");
      table.className = "values";
      table.innerHTML = "<colgroup><col class='name'><col class='shape'><col></colgroup><thead><tr><th scope='col'>value</th><th scope='col'>shape</th><th scope='col'>numbers</th></tr></thead>";
      const given = document.createElement("tbody");
      given.id = "given";
      D.editable_names.forEach((n) => given.append(valueRow(n, state.start[n], D.editable && state.start[n].data.length <= D.max_entries, "given")));
      table.append(given);
      box.append(table);
    }
    table.querySelector("#computed")?.remove();
    const body = document.createElement("tbody");
    body.id = "computed";
    D.equations.forEach((eq, i) => {
      const after = eq.section === "update";
      if (after && D.symbols[eq.lhs].kind !== "param") return;
      body.append(valueRow(eq.lhs, state.result.lines[i], false, after ? "after the update" : D.sections[eq.section]));
    });
    table.append(body);
  }
  function onEdit(ev) {
    const input = ev.target, v = Number(input.value.trim());
    if (input.value.trim() === "" || !Number.isFinite(v)) {
      input.setAttribute("aria-invalid", "true");
      $("edit-status").textContent = `${input.getAttribute("aria-label")}: “${input.value}” is not a number; the values use the last valid one.`;
      return;
    }
    input.removeAttribute("aria-invalid");
    const name = input.dataset.name, t = state.start[name], copy = tensor(t.shape, t.data);
    copy.data[+input.dataset.i] = v;
    state.start[name] = copy;
    recompute(true);
    $("edit-status").textContent = `Recomputed with ${input.getAttribute("aria-label")} = ${v}: loss ${fmt(state.result.lines[lossLine].data[0])}.`;
  }
  const lossLine = D.equations.findIndex((eq) => eq.lhs === "loss");
  function recompute(keepInputs) {
    compute();
    drawValues(keepInputs);
    showStep();
  }

  // -- training: steps of the optimizer from the current numbers, and the loss plotted
  function train() {
    const n = Math.floor(Number($("train-steps").value));
    if (!(n >= 1 && n <= 100000)) { $("announce").textContent = "Steps: give a whole number from 1 to 100000."; return; }
    let start = state.start;
    if (!state.losses.length) state.losses.push(runStep(D, start).lines[lossLine].data[0]);
    for (let k = 0; k < n; k++) {
      const r = runStep(D, start);
      start = nextStart(D, start, r);
      state.losses.push(runStep(D, start).lines[lossLine].data[0]);
    }
    state.start = start;
    recompute(false);
    plot();
    const L = state.losses;
    $("announce").textContent = `Trained ${n} steps: loss ${fmt(L[L.length - n - 1])} → ${fmt(L[L.length - 1])}.`;
  }
  function plot() {
    const L = state.losses, W = 520, H = 200, pad = 44, lo = Math.min(...L), hi = Math.max(...L), span = hi - lo || 1;
    const pts = L.map((v, k) => `${pad + (k / Math.max(1, L.length - 1)) * (W - pad - 10)},${10 + (1 - (v - lo) / span) * (H - pad)}`).join(" ");
    $("plot").innerHTML = `<svg viewBox="0 0 ${W} ${H}" width="${W}" role="img" aria-label="The loss after each of ${L.length - 1} steps, from ${esc(fmt(L[0]))} to ${esc(fmt(L[L.length - 1]))}">` +
      `<line class="axis" x1="${pad}" y1="10" x2="${pad}" y2="${H - pad + 10}"/><line class="axis" x1="${pad}" y1="${H - pad + 10}" x2="${W - 10}" y2="${H - pad + 10}"/>` +
      `<text x="4" y="16">${esc(fmtG(hi, 3))}</text><text x="4" y="${H - pad + 10}">${esc(fmtG(lo, 3))}</text>` +
      `<text x="${pad}" y="${H - 14}">step 0</text><text x="${W - 10}" y="${H - 14}" text-anchor="end">step ${L.length - 1}</text>` +
      `<polyline class="curve" points="${pts}"/></svg><p class="stats" data-losses="${L.join(",")}">Loss ${esc(fmt(L[0]))} at step 0, ${esc(fmt(L[L.length - 1]))} after step ${L.length - 1}.</p>`;
  }
  function reset() {
    state.start = Object.assign({}, original);
    state.losses = [];
    $("plot").innerHTML = "<p>Press “Train” to take steps and plot the loss.</p>";
    $("edit-status").textContent = "Back to the starting numbers.";
    recompute(false);
  }

  // -- wiring
  const notes = $("notes");
  D.notes.forEach((t) => { const li = document.createElement("li"); li.textContent = t; notes.append(li); });
  $("format").textContent = `${D.format} v${D.version}`;
  $("train-steps").value = String(Math.max(D.train_steps, 20));
  if (!D.editable) ["train", "reset", "train-steps"].forEach((id) => { $(id).disabled = true; });
  $("back").addEventListener("click", () => go(state.step - 1));
  $("next").addEventListener("click", () => go(state.step + 1));
  $("show-forward").addEventListener("click", () => showGraph("forward"));
  $("show-backward").addEventListener("click", () => showGraph("backward"));
  $("train").addEventListener("click", train);
  $("reset").addEventListener("click", reset);
  document.addEventListener("keydown", (ev) => {
    const t = ev.target, typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (typing || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === "ArrowRight") { ev.preventDefault(); go(state.step + 1); }
    if (ev.key === "ArrowLeft") { ev.preventDefault(); go(state.step - 1); }
  });
  compute();
  drawEquations();
  showGraph(steps[0].graph);
  drawValues(false);
  showStep();
  window.bplab = { data: D, state, go, evaluate, runStep, fmtG };
})();
