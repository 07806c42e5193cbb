"""The formulas every engine shares, written as Keras 3 writes them: activations,
losses and initialisers. Nothing here imports an engine."""
