"""The course network with a bug: W2 is not transposed in dA1.

    bplab check-code examples/learner/broken_transpose.py --model mlp:128
"""

import numpy as np
import pandas as pd

np.random.seed(42)

INPUT_SIZE = 784
HIDDEN_SIZE = 128
OUTPUT_SIZE = 10
LEARNING_RATE = 0.1


def relu(Z):
    return np.maximum(0, Z)


def relu_derivative(Z):
    return (Z > 0).astype(float)


def softmax(Z):
    expZ = np.exp(Z - np.max(Z, axis=1, keepdims=True))
    return expZ / np.sum(expZ, axis=1, keepdims=True)


def forward_propagation(X, W1, b1, W2, b2):
    Z1 = np.dot(X, W1) + b1
    A1 = relu(Z1)
    Z2 = np.dot(A1, W2) + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def backward_propagation(X, y_true, Z1, A1, A2, W2):
    m = X.shape[0]
    dZ2 = A2 - y_true
    dW2 = np.dot(A1.T, dZ2) / m
    db2 = np.sum(dZ2, axis=0, keepdims=True) / m
    dA1 = np.dot(dZ2, W2)
    dZ1 = dA1 * relu_derivative(Z1)
    dW1 = np.dot(X.T, dZ1) / m
    db1 = np.sum(dZ1, axis=0, keepdims=True) / m
    return dW1, db1, dW2, db2


# Training (skipped by check-code: it needs the data set)
data = pd.read_csv("train.csv")
X = data.drop("label", axis=1).values / 255.0
y = np.eye(OUTPUT_SIZE)[data["label"].values]
W1 = np.random.randn(INPUT_SIZE, HIDDEN_SIZE) * 0.01
b1 = np.zeros((1, HIDDEN_SIZE))
W2 = np.random.randn(HIDDEN_SIZE, OUTPUT_SIZE) * 0.01
b2 = np.zeros((1, OUTPUT_SIZE))
for epoch in range(10):
    Z1, A1, Z2, A2 = forward_propagation(X, W1, b1, W2, b2)
    dW1, db1, dW2, db2 = backward_propagation(X, y, Z1, A1, A2, W2)
    W1 -= LEARNING_RATE * dW1
    b1 -= LEARNING_RATE * db1
    W2 -= LEARNING_RATE * dW2
    b2 -= LEARNING_RATE * db2
    print(epoch, np.mean(np.argmax(A2, axis=1) == np.argmax(y, axis=1)))
