"""How ``Trainer`` reads data: loaders from tensors, (inputs, targets) batches, device moves.

Example:
    >>> import ganglion
    >>> loader = as_loader((ganglion.zeros(5, 2), ganglion.zeros(5)), batch_size=2,
    ...                    shuffle=False, who="fit")
    >>> [tuple(x.shape) for x, _ in loader]
    [(2, 2), (2, 2), (1, 2)]
"""
from __future__ import annotations

import numpy as np

__all__ = ["as_loader", "split_batch", "predict_inputs", "to_device", "batch_size_of",
           "forward"]


def _is_array(x) -> bool:
    import ganglion  # noqa: PLC0415

    return isinstance(x, (ganglion.Tensor, np.ndarray))


def _tensor_pair(data) -> bool:
    """True for ``(x, y)`` / ``(x,)`` tuples of whole-dataset tensors with a common length."""
    if not isinstance(data, (tuple, list)) or not 1 <= len(data) <= 2:
        return False
    if not all(_is_array(x) and x.ndim >= 1 for x in data):
        return False
    return len({len(x) for x in data}) == 1


def as_loader(data, batch_size: int, shuffle: bool, who: str):
    """A DataLoader over ``(x, y)`` tensors (or a tensor ``x``), or ``data`` itself if it is
    already an iterable of batches (a DataLoader, a list of batches, ...)."""
    import ganglion  # noqa: PLC0415
    from ganglion.utils.data import DataLoader, TensorDataset  # noqa: PLC0415

    if _is_array(data):
        data = (data,)
    if _tensor_pair(data):
        tensors = [ganglion.as_tensor(x) for x in data]
        return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle)
    if not hasattr(data, "__iter__"):
        raise TypeError(f"Trainer.{who}: expected a DataLoader, an iterable of (inputs, targets) "
                        f"batches or an (x, y) tuple of tensors, got {type(data).__name__}.")
    return data


def split_batch(batch, who: str):
    """``(inputs, targets)`` of a training/evaluation batch."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    got = f"a {type(batch).__name__} of length {len(batch)}" \
        if isinstance(batch, (tuple, list)) else type(batch).__name__
    raise TypeError(f"Trainer.{who}: each batch must be an (inputs, targets) pair, got {got}; "
                    f"use a Dataset returning (x, y), or pass inputs as a tuple for models "
                    f"with several inputs: ((x1, x2), y).")


def predict_inputs(batch):
    """The inputs of a prediction batch: ``batch[0]`` of a tuple/list, else the batch."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def to_device(obj, device):
    """``obj`` (a Tensor, or tuples/lists/dicts of them) moved to ``device``; None: unchanged."""
    if device is None:
        return obj
    if hasattr(obj, "to") and _is_array(obj):
        return obj.to(device)
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(x, device) for x in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def batch_size_of(targets, inputs) -> int:
    """Samples in a batch: the leading dimension of the first tensor found (1 if none)."""
    for obj in (targets, inputs):
        while isinstance(obj, (tuple, list)) and obj:
            obj = obj[0]
        if isinstance(obj, dict) and obj:
            obj = next(iter(obj.values()))
        shape = getattr(obj, "shape", None)
        if shape is not None and len(shape):
            return int(shape[0])
    return 1


def forward(model, inputs):
    """``model(*inputs)`` for a tuple/list, ``model(**inputs)`` for a dict, else ``model(x)``."""
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)
