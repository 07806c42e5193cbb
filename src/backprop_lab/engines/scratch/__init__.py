"""The scratch engine: hand-written NumPy forward/backward propagation and optimizers."""
