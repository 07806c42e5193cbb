"""Small random networks on which the derivation is checked, against TensorFlow and by the derivation check:
every activation and loss, L2, dropout and convolutions with either padding."""

NETWORKS = [
    ("mlp:6,5,4", (7,), "categorical_crossentropy", 0.0),
    ("mlp:6,5/act=tanh/out=sigmoid", (7,), "mse", 0.01),
    ("mlp:6,5/act=sigmoid/dropout=0.3", (7,), "categorical_crossentropy", 0.001),
    ("mlp:5/out=sigmoid", (7,), "binary_crossentropy", 0.0),
    ("mlp:5/act=relu/out=linear", (7,), "squared_error", 0.0),
    ("mlp:4/act=sigmoid/out=sigmoid", (3,), "half_squared_error", 0.0),
    ("cnn:3,4/dropout=0.25", (12, 12, 1), "categorical_crossentropy", 0.001),
    ("cnn:3/pad=same", (6, 6, 2), "mse", 0.0),
]
