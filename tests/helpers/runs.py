"""A run folder's saved weights, read as the tests compare them (bit for bit)."""

from pathlib import Path

import numpy as np


def weights(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "weights.npz", allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}
