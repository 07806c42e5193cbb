import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lab.core.errors import SpecError
from backprop_lab.spec.model import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelSpec, parse_model, summary_rows


def test_reference_cnn_has_56394_parameters_as_keras_reports():
    spec = parse_model("cnn:32,64,64", (28, 28, 1), 10)
    assert spec.count_params() == (56394, 0)
    assert spec.output_shape == (10,)
    assert [r[1] for r in summary_rows(spec)][:2] == ["(None, 26, 26, 32)", "(None, 13, 13, 32)"]


def test_mlp_shorthand_with_options():
    spec = parse_model("mlp:256,128,64/act=tanh/dropout=0.2", (28, 28, 1), 10)
    kinds = [l.kind for l in spec.layers]
    assert kinds == ["flatten", "dense", "dropout", "dense", "dropout", "dense", "dropout", "dense"]
    assert spec.layers[1] == Dense(256, "tanh")
    assert spec.layers[-1] == Dense(10, "softmax")
    # 784*256+256 + 256*128+128 + 128*64+64 + 64*10+10
    assert spec.count_params()[0] == 242762


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("mlp:0", "units must be a positive integer"),
        ("mlp:-3", "units must be a positive integer"),
        ("mlp:12/act=swish", "unknown activation 'swish'"),
        ("mlp:12/colour=red", "unknown option(s) colour"),
        ("mlp:abc", "width 'abc' is not an integer"),
        ("cnn:8,8,8,8,8", "collapses input"),
        ("rnn:12", "expected mlp:"),
    ],
)
def test_invalid_shorthand_is_refused_naming_the_problem(text, fragment):
    with pytest.raises(SpecError, match=None) as info:
        parse_model(text, (28, 28, 1), 10)
    assert fragment in str(info.value)


def test_conv_on_flat_input_names_the_layer():
    with pytest.raises(SpecError) as info:
        ModelSpec((784,), (Conv2D(8), Flatten(), Dense(10, "softmax")))
    assert str(info.value).startswith("layer 0 (conv2d_0): Conv2D needs image input")


def test_unknown_layer_kind_in_file_names_index(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"layers": [{"kind": "dense", "units": 4, "activation": "relu"}, {"kind": "lstm"}]}))
    with pytest.raises(SpecError, match=r"layer 1: unknown layer kind 'lstm'"):
        parse_model(str(path), (8,), 3)


def test_toml_and_json_files_resolve_classes(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text(
        '[[layers]]\nkind = "flatten"\n[[layers]]\nkind = "dense"\nunits = 32\nactivation = "sigmoid"\n'
        '[[layers]]\nkind = "dense"\nunits = "classes"\nactivation = "softmax"\n'
    )
    spec = parse_model(str(toml), (8, 8, 1), 10)
    assert spec.layers == (Flatten(), Dense(32, "sigmoid"), Dense(10, "softmax"))
    js = tmp_path / "m.json"
    js.write_text(spec.to_json())
    assert parse_model(str(js), (8, 8, 1), 10) == spec
    with pytest.raises(SpecError, match="does not match the data"):
        parse_model(str(js), (28, 28, 1), 10)


layer_strategy = st.one_of(
    st.builds(Dense, st.integers(1, 64), st.sampled_from(["relu", "sigmoid", "tanh", "linear"])),
    st.builds(Dropout, st.floats(0, 0.9)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(layer_strategy, min_size=0, max_size=5), st.integers(1, 50), st.integers(2, 10))
def test_json_round_trip_is_exact(hidden, features, classes):
    spec = ModelSpec((features,), tuple(hidden) + (Dense(classes, "softmax"),))
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.param_shapes() == spec.param_shapes()


def test_cnn_round_trip_with_pool_stride_and_same_padding():
    spec = ModelSpec((32, 32, 3), (Conv2D(4, 5, 2, "same", "tanh"), MaxPool2D(3, 2), Flatten(), Dense(10, "softmax")))
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert spec.infos[0].output_shape == (16, 16, 4)
    assert spec.infos[1].output_shape == (7, 7, 4)
