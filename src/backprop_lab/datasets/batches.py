"""The batch plan: which rows form which batch, from (seed, epoch) alone.

Every engine follows the same plan, so the three engines see the same batches
in the same order. ``batch_size=None`` is full-batch mode.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from backprop_lab.core.errors import BplabError


@dataclass(frozen=True)
class BatchPlan:
    n: int
    batch_size: int | None
    seed: int = 0
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ValueError("a batch plan needs at least one example")
        if self.batch_size is not None and self.batch_size <= 0:
            raise ValueError(f"batch size must be positive, got {self.batch_size}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise BplabError(f"--seed: must be a non-negative integer, got {self.seed!r}")

    @property
    def size(self) -> int:
        return self.n if self.batch_size is None else min(self.batch_size, self.n)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n / self.size)

    def order(self, epoch: int) -> np.ndarray:
        if not self.shuffle or self.batch_size is None:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def epoch(self, epoch: int) -> list[np.ndarray]:
        order = self.order(epoch)
        return [order[i : i + self.size] for i in range(0, self.n, self.size)]
