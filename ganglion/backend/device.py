"""Devices and array modules: NumPy on the CPU, CuPy on CUDA (the optional ``gpu`` extra).

Example:
    >>> from ganglion.backend.device import device
    >>> device("cpu")
    device(type='cpu')
"""
from __future__ import annotations

import numpy as np

__all__ = ["device", "get_array_module", "xp_for", "cuda_is_available", "to_device_array"]


class device:
    """Where a tensor's array lives: ``device('cpu')`` or ``device('cuda', 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - torch's argument name
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type!r}.")
        if ":" in type:
            type, idx = type.split(":", 1)
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {type!r}; expected 'cpu' or 'cuda'.")
        self.type = type
        if type == "cpu":
            self.index = None
        else:
            self.index = index if index is not None else 0

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")
_cupy = []


def _load_cupy():
    if not _cupy:
        try:
            import cupy  # noqa: PLC0415 - optional dependency, imported on first use

            cupy.cuda.runtime.getDeviceCount()
            _cupy.append(cupy)
        except Exception:  # noqa: BLE001 - no CuPy or no driver: CUDA is unavailable
            _cupy.append(None)
    return _cupy[0]


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return _load_cupy() is not None


def get_array_module(array):
    """NumPy for NumPy arrays, CuPy for CuPy arrays (Chainer's get_array_module)."""
    if type(array) is np.ndarray:
        return np
    cp = _cupy[0] if _cupy else None
    if cp is not None and isinstance(array, cp.ndarray):
        return cp
    return np


def xp_for(dev: device):
    if dev.type == "cpu":
        return np
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError("CUDA device requested but CuPy with a working GPU is not available; "
                           "install ganglion[gpu] on a machine with an NVIDIA GPU, or use 'cpu'.")
    return cp


def device_of(array) -> device:
    if type(array) is np.ndarray:
        return CPU
    return device("cuda", int(array.device.id))


def to_device_array(array, dev: device):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    if dev.type == "cpu":
        if type(array) is np.ndarray:
            return array
        return array.get()
    cp = xp_for(dev)
    with cp.cuda.Device(dev.index or 0):
        return cp.asarray(array)
