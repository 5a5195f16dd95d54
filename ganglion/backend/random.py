"""The global random number generator: ``manual_seed`` makes every draw reproducible.

Example:
    >>> from ganglion.backend import random
    >>> _ = random.manual_seed(0)
    >>> a = random.default_generator.numpy.random()
    >>> _ = random.manual_seed(0)
    >>> a == random.default_generator.numpy.random()
    True
"""
from __future__ import annotations

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state"]


class Generator:
    """A seeded PCG64 stream, as ``torch.Generator`` (CPU)."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = 67280421310721
        self.numpy = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        self._seed = seed
        self.numpy = np.random.Generator(np.random.PCG64(seed & 0xFFFFFFFFFFFFFFFF))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.numpy.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.numpy.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the global generator (init, dropout, shuffling and augmentation all draw from it)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def numpy_rng(generator=None) -> np.random.Generator:
    return (generator or default_generator).numpy
