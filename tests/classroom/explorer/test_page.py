"""``bplab explore``: the page's interpreter against NumPy's (node), and the page in headless Chromium against
``bl.derive``: every step's value, edited numbers, keyboard, screen-reader announcements, no network, layout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers.browser import chromium

import backprop_lab as bl
from backprop_lab.classroom.explorer.page import JS_FUNCTIONS, NODE_NAMES, STATIC, tree
from backprop_lab.maths import expr as E
from backprop_lab.maths.equations import derive as derivation_of
from backprop_lab.maths.graphs import forward_graph
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

ROOT = Path(__file__).resolve().parents[3]
MAZUR = dict(
    weights=str(ROOT / "examples/published-2-2-2.json"),
    input=["0.05,0.10"],
    target=["0.01,0.99"],
    loss="half_squared_error",
    lr=0.5,
)


def close(page, python, what):
    page, python = np.asarray(page, np.float64).reshape(-1), np.asarray(python, np.float64).reshape(-1)
    assert page.shape == python.shape, what
    np.testing.assert_allclose(page, python, rtol=1e-12, atol=1e-15, err_msg=what)


# --- the interpreter, in node, against maths.expr.evaluate -------------------------------------------------


def test_every_node_type_of_the_expression_language_has_a_page_name_that_explorer_js_evaluates():
    kinds = {c for c in vars(E).values() if isinstance(c, type) and issubclass(c, (E.Binary, E.Unary))}
    kinds -= {E.Binary, E.Unary}
    assert kinds == set(NODE_NAMES), "a node type the page cannot name"
    assert set(JS_FUNCTIONS) == set(E.FUNCTIONS), "a function the page does not evaluate"


def _cases():
    rng = np.random.default_rng(3)
    a = E.Sym("A", "A", (3, 4))
    b = E.Sym("B", "B", (4, 2))
    c = E.Sym("C", "C", (3, 4))
    r = E.Sym("r", "r", (4,))
    env = {"A": rng.normal(size=(3, 4)), "B": rng.normal(size=(4, 2)), "C": rng.uniform(0.5, 2, (3, 4))}
    env["r"] = rng.normal(size=4)
    cases = [
        a @ b,
        a + r,
        a - c,
        a * c,
        a / c,
        c ** E.Const(1.5),
        E.Scale(E.Const(0.3), a),
        a.T @ c,
        -a,
        E.SumRows(a),
        E.SumLast(a),
        E.SumAll(a * a),
        1 - a,
        E.Const(2.0) / c,
        E.SumLast(a) * c,
        E.SumCols(a),
        E.SumFirst(a),
    ]
    cases += [E.func(fn, c if fn in ("log", "sqrt") else a) for fn in E.FUNCTIONS]
    return cases, env


def test_explorer_js_evaluates_each_node_as_numpy_does():
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    cases, env = _cases()
    script = (
        f"const X = require({json.dumps(str(STATIC / 'explorer.js'))});"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8')); const env = {};"
        "for (const [k, v] of Object.entries(input.env)) env[k] = X.tensor(v.shape, v.data);"
        "console.log(JSON.stringify(input.trees.map((t) => { const r = X.evaluate(t, env);"
        " return {shape: r.shape, data: Array.from(r.data)}; })));"
    )
    payload = {
        "env": {k: {"shape": list(v.shape), "data": v.reshape(-1).tolist()} for k, v in env.items()},
        "trees": [tree(e) for e in cases],
    }
    done = subprocess.run(["node", "-e", script], input=json.dumps(payload), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for e, got in zip(cases, json.loads(done.stdout)):
        want = np.asarray(E.evaluate(e, env), np.float64)
        assert tuple(got["shape"]) == want.shape, E.to_text(e)
        close(got["data"], want, E.to_text(e))


def test_the_format_function_writes_numbers_as_python_does():
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    numbers = [0.298371109, -0.0380982, 1e-05, 123456.7, 1234567.0, 0.0001, 2.5, -0.0, 0.0, 1e300, 7.0]
    script = (
        f"const X = require({json.dumps(str(STATIC / 'explorer.js'))});"
        f"console.log(JSON.stringify({json.dumps(numbers)}.map((v) => X.fmtG(v, 6))));"
    )
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout) == [f"{v:.6g}" for v in numbers]


# --- the page in a browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _open(browser, path: Path, width: int = 1280):
    browser.set_window_size(width, 1000)
    browser.get(path.resolve().as_uri())
    browser.get_log("browser")  # start the console log afresh
    return browser


def _result_values(browser):
    return browser.execute_script(
        "const r = document.getElementById('result'); const c = r.querySelector('canvas');"
        "return c ? c.dataset.values.split(',').map(Number)"
        " : Array.from(r.querySelectorAll('[data-value]'), (e) => Number(e.dataset.value));"
    )


def test_stepping_with_the_keyboard_shows_derives_numbers_at_every_step(browser, tmp_path):
    page = bl.explore(**MAZUR, out=tmp_path / "page.html")
    example = bl.derive(**MAZUR)
    assert page.size < 300_000
    assert "<iframe" in page._repr_html_() and "srcdoc=" in page._repr_html_()
    by_name = {line.equation.name: line.value for line in example.lines if line.section != "update"}
    updates = [line.value for line in example.lines if line.section == "update"]
    env = {**dict(zip(("X", "Y"), (np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])))), **by_name}
    env |= {"W1": np.array([[0.15, 0.25], [0.2, 0.3]]), "b1": np.array([0.35, 0.35])}
    env |= {"W2": np.array([[0.4, 0.5], [0.45, 0.55]]), "b2": np.array([0.6, 0.6]), "m": 1.0, "K": 2.0}
    spec = parse_model("mlp:2/act=sigmoid/out=sigmoid", (2,), 2)
    graph = forward_graph(derivation_of(spec, TrainConfig(loss="half_squared_error", lr=0.5, dtype="float64")))
    _open(browser, page.path)
    body = browser.find_element("tag name", "body")
    steps = page.data.payload["steps"]
    announced = set()
    for i, step in enumerate(steps):
        if step["graph"] == "forward":
            want = E.evaluate(graph.exprs[step["node"]], env)
        elif step["section"] == "update":
            want = updates[i - len(steps) + len(updates)]
        else:
            want = by_name[step["name"]]
        close(_result_values(browser), want, f"step {i + 1}: {step['text']}")
        announced.add(browser.find_element("id", "announce").text)
        highlighted = browser.execute_script("return document.querySelector('#graph .node.current')?.dataset.node")
        assert highlighted == step["node"], f"step {i + 1}"
        body.send_keys("\ue014")  # the right arrow key
    assert len(announced) == len(steps), "the aria-live region changes at every step"
    assert browser.execute_script("return window.bplab.state.step") == len(steps) - 1
    assert abs(float(example.losses[0]) - 0.298371109) < 1e-9  # the published example's loss
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_edited_numbers_give_derives_loss_and_gradients(browser, tmp_path):
    page = bl.explore(**MAZUR, out=tmp_path / "page.html")
    _open(browser, page.path)
    w1 = browser.find_element("css selector", "input[data-name=W1][data-i='1']")
    w1.clear()
    w1.send_keys("-0.7")
    x = browser.find_element("css selector", "input[data-name=X][data-i='0']")
    x.clear()
    x.send_keys("0.3")
    edited = json.loads(Path(MAZUR["weights"]).read_text())
    edited["dense_0/kernel"][0][1] = -0.7
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    example = bl.derive(**(MAZUR | {"weights": tmp_path / "edited.json", "input": ["0.3,0.10"]}))
    lines = browser.execute_script("return window.bplab.state.result.lines.map((t) => Array.from(t.data))")
    for line, got in zip(example.lines, lines):
        close(got, line.value, line.equation.name)
    table = browser.execute_script(
        "return Array.from(document.querySelectorAll('#computed tr[data-name=loss] [data-value]'),"
        " (e) => Number(e.dataset.value))"
    )
    close(table, example.losses[0], "the loss in the table of values")
    # the arrow keys do not step while an input has focus
    before = browser.execute_script("return window.bplab.state.step")
    x.send_keys("\ue014", "\ue012")
    assert browser.execute_script("return window.bplab.state.step") == before
    # Train takes steps of the optimizer from the edited numbers: the losses bl.derive takes
    steps = browser.find_element("id", "train-steps")
    steps.clear()
    steps.send_keys("3")
    browser.find_element("id", "train").click()
    losses = browser.execute_script("return document.querySelector('[data-losses]').dataset.losses.split(',')")
    trained = bl.derive(**(MAZUR | {"weights": tmp_path / "edited.json", "input": ["0.3,0.10"], "steps": 3}))
    close([float(v) for v in losses], trained.losses, "the losses of Train")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.parametrize(
    "options",
    [
        dict(data="digits", model="mlp:16,8", loss="categorical_crossentropy"),
        dict(
            model="mlp:3/act=relu",
            input=["0.5,-1,2", "1,0.2,-0.3"],
            target=["1,0", "0,1"],
            loss="categorical_crossentropy",
            optimizer="adam",
            l2=0.01,
            fixed_biases=True,
        ),
        dict(
            model="mlp:3/act=tanh/out=softmax",
            input=["0.5,-1", "1,0.2", "-0.3,0.7"],
            target=["1,0", "0,1", "0,1"],
            loss="categorical_crossentropy",
            layout="columns",
        ),
    ],
    ids=["digits-mlp16-8", "adam-l2-two-rows", "columns-layout"],
)
def test_larger_networks_and_other_optimizers_agree_with_derive(browser, tmp_path, options):
    page = bl.explore(**options, out=tmp_path / "page.html")
    example = bl.derive(**options)
    _open(browser, page.path)
    lines = browser.execute_script("return window.bplab.state.result.lines.map((t) => Array.from(t.data))")
    assert len(lines) == len(example.lines)
    for line, got in zip(example.lines, lines):
        close(got, line.value, line.equation.name)
    if "data" in options:
        assert any("heat maps" in n for n in page.notes)
        assert browser.execute_script("return document.querySelectorAll('#value-table canvas').length") > 0
        _open(browser, page.path, 800)
        scroll, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, "horizontal scrolling at 800 px"
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_cnn_page_holds_pythons_values_and_says_editing_is_off(browser, tmp_path):
    options = dict(data="digits", model="cnn:2", loss="categorical_crossentropy")
    page = bl.explore(**options, out=tmp_path / "page.html")
    example = bl.derive(**options)
    _open(browser, page.path)
    assert "editing and training are off" in browser.find_element("id", "notes").text
    assert browser.find_element("id", "train").get_attribute("disabled")
    assert browser.execute_script("return document.querySelectorAll('#value-table input').length") == 0
    lines = browser.execute_script("return window.bplab.state.result.lines.map((t) => Array.from(t.data))")
    for line, got in zip(example.lines, lines):
        close(got, line.value, line.equation.name)


def test_layout_at_800_and_1280_pixels(browser, tmp_path):
    page = bl.explore(**MAZUR, out=tmp_path / "page.html")
    for width, columns in ((800, 1), (1280, 2)):
        _open(browser, page.path, width)
        scroll, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"horizontal scrolling at {width} px"
        grid = browser.execute_script("return getComputedStyle(document.querySelector('main')).gridTemplateColumns")
        assert len(grid.split()) == columns, (width, grid)
        browser.save_screenshot(str(tmp_path / f"page-{width}.png"))
    # every control is reachable by the keyboard, with a visible focus
    focusable = browser.execute_script(
        "return Array.from(document.querySelectorAll('button, input, [tabindex=\"0\"]'))"
        ".filter((e) => !e.disabled).length"
    )
    assert focusable > 20
    browser.find_element("id", "next").send_keys("")  # focus
    outline = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
