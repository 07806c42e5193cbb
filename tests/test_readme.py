"""The README stays true: its command table names every command the tool has (and no other),
and every `bplab ...` example in it runs as written, with fewer epochs and seeds so the suite stays
short. The examples run in order in one folder, as a reader would type them."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer
from helpers.cli import bplab

from backprop_lab.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def command_paths(command=None, prefix=()) -> list[tuple[str, ...]]:
    command = command or typer.main.get_command(app)
    subs = getattr(command, "commands", None)
    if not subs:
        return [prefix]
    return [p for name, sub in subs.items() for p in command_paths(sub, prefix + (name,))]


def readme_examples() -> list[list[str]]:
    text = README.read_text()
    examples = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            for part in line.split("&&"):  # `bplab A && bplab B` is two examples, in order
                part = part.strip()
                if part.startswith("bplab "):
                    examples.append(shlex.split(part)[1:])
    return examples


SHORTER = {"--epochs": "1", "--seeds": "2", "--finetune-epochs": "1"}
SMALLER_DATA = {"study": "digits"}  # the quick study on mnist-5k takes minutes; tests/study runs it on digits too


def shortened(args: list[str]) -> list[str]:
    out = list(args)
    for i, arg in enumerate(out[:-1]):
        if arg in SHORTER:
            out[i + 1] = SHORTER[arg]
        if arg == "--data" and out[0] in SMALLER_DATA:
            out[i + 1] = SMALLER_DATA[out[0]]
    if out[0] in ("transfer", "sweep", "blend") and "--epochs" not in out:
        out += ["--epochs", "1"]
    return out


def test_the_command_table_names_every_command_and_only_those():
    table = set(re.findall(r"^\| `bplab ([a-z][a-z -]*?)(?: [A-Z.\[-][^`]*)?`", README.read_text(), flags=re.M))
    table = {" ".join(t.split()[:2]) if t.startswith("data ") else t.split()[0] for t in table}
    actual = {" ".join(p) for p in command_paths()}
    assert actual == table, f"README table: {sorted(table)}; commands: {sorted(actual)}"


def test_every_command_has_a_readme_example():
    examples = {" ".join(e[:2]) if e[0] == "data" else e[0] for e in readme_examples()}
    assert any(">" in e for e in readme_examples())  # the redirect handling below is exercised
    missing = {" ".join(p) for p in command_paths()} - examples
    assert not missing, f"commands without a README example: {sorted(missing)}"


@pytest.mark.slow
def test_every_readme_example_runs(tmp_path):
    shutil.copytree(README.parent / "examples", tmp_path / "examples")  # as a reader in the repository
    examples = readme_examples()
    assert len(examples) >= 10
    for args in examples:
        if "fashion-mnist" in args and not Path("/usr/share/datasets/fashion-mnist").is_dir():
            continue  # Debian's dataset-fashion-mnist is optional
        redirect = args[args.index(">") + 1] if ">" in args else None
        command = args[: args.index(">")] if redirect else args
        result = bplab(*shortened(command), cwd=tmp_path)
        assert result.returncode == 0, f"bplab {' '.join(args)}\n{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr
        if redirect:  # `bplab ... > FILE`, as the shell would
            (tmp_path / redirect).write_text(result.stdout)


def test_the_readme_model_file_example_builds_on_every_bundled_data_set(tmp_path):
    """The inline ``{"layers": ...}`` example, saved as a file, is a model every offline data set accepts."""
    text = " ".join(README.read_text().split())
    found = re.findall(r'`(\{"layers": .*?\]\})`', text)
    assert found, "no model-file example in the README"
    spec = tmp_path / "model.json"
    spec.write_text(found[0])
    for data in ("digits", "mnist-5k"):
        result = bplab("summary", spec, "--data", data)
        assert result.returncode == 0, f"{data}: {result.stderr[-500:]}"
        assert "dense" in result.stdout.lower()


# --- the README's own figures agree with each other and with the tool -----------------------------


def test_the_readme_is_for_users_and_short():
    text = README.read_text()
    assert len(text.splitlines()) <= 450
    diary = re.findall(r"\bissue \d+|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth) round\b", text)
    assert not diary, f"development diary in the README (it belongs in docs/performance.md): {diary}"


def test_make_demo_runs_what_the_readme_says():
    recipe = re.search(r"^demo:.*\n\t(.*)$", (README.parent / "Makefile").read_text(), flags=re.M).group(1)
    data = recipe.split("--data ")[1].split()[0]
    said = [line for line in README.read_text().splitlines() if line.startswith("make demo")]
    assert said and all(data in line for line in said), (data, said)
    others = {"digits", "fashion-mnist", "cifar10"} - {data}
    assert not any(name in line for line in said for name in others)


def test_the_parameter_counts_the_readme_states_are_the_tools():
    import backprop_lab as bl

    claims = re.findall(r"bplab summary (\S+) --data (\S+) .*# ([\d,]+) parameters", README.read_text())
    assert claims
    for model, data, count in claims:
        assert bl.model(model, data=data).summary().total == int(count.replace(",", ""))


def test_the_benchmark_table_is_the_measured_one():
    """Each row of the README's table is the same network, engine and figures as in benchmarks/results.md."""
    results = (README.parent / "benchmarks" / "results.md").read_text()
    date = re.match(r"Measured (\d{4}-\d\d-\d\d)", results).group(1)
    assert f"measured {date}" in README.read_text()
    measured = {}
    for line in results.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith(("mlp:", "cnn:")):
            measured.setdefault((cells[0], cells[1]), (cells[3], cells[4], cells[5]))  # the speed table (first)
    rows = re.findall(
        r"^\| ((?:mlp|cnn):\S+) \| ([^|]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", README.read_text(), re.M
    )
    assert len(rows) >= 8
    for network, engine, *figures in rows:
        assert measured[(network, engine.strip())] == tuple(figures), (network, engine)
