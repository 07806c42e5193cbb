"""backprop-lab: one model description, three engines, measured parity."""

__version__ = "0.1.0"
