"""Checkpoint files and the random state a bit-identical resume needs.

Checkpoints are written through ``ganglion.save``/``ganglion.load`` (safetensors + JSON, never
pickle) by ``save_checkpoint``/``load_checkpoint`` only, atomically: the file is written to a
temporary name in the same directory, flushed to disk, then renamed over the target with
``os.replace``, so a process killed mid-write leaves the previous checkpoint intact.

The random state covers every stream a training loop draws from: ganglion's global generator
(init, dropout, shuffling without an explicit generator), NumPy's global RNG, Python's
``random`` and the ``generator`` of each DataLoader/sampler that has one.

Example:
    >>> import os, tempfile, ganglion
    >>> path = os.path.join(tempfile.mkdtemp(), "state.ckpt")
    >>> save_checkpoint(path, {"epoch": 2, "rng": capture_rng_state()})
    >>> ckpt = load_checkpoint(path)
    >>> a = ganglion.rand(2)
    >>> restore_rng_state(ckpt["rng"])
    >>> bool((ganglion.rand(2) == a).all()), ckpt["epoch"]
    (True, 2)
"""
from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint", "capture_rng_state", "restore_rng_state",
           "loader_generators"]


def _io():
    """ganglion's save/load (the top-level names, or ganglion.io's before they are exported)."""
    import ganglion  # noqa: PLC0415 - train sits beside io in the layering: resolve at call time

    save, load = getattr(ganglion, "save", None), getattr(ganglion, "load", None)
    if save is None or load is None:
        import ganglion.io as gio  # noqa: PLC0415

        save, load = gio.save, gio.load
    return save, load


def save_checkpoint(path, obj: dict) -> None:
    """Write ``obj`` to ``path`` atomically (temporary file, fsync, ``os.replace``)."""
    save, _ = _io()
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path, map_location=None) -> dict:
    """Read a checkpoint written by ``save_checkpoint``."""
    _, load = _io()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {os.fspath(path)!r}.")
    return load(path, map_location=map_location)


def loader_generators(*loaders) -> list:
    """The distinct ``ganglion.Generator`` objects the loaders (and their samplers) draw from."""
    found, seen = [], set()
    for loader in loaders:
        if loader is None:
            continue
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(loader, "batch_sampler", None)
        for owner in (loader, sampler, batch_sampler, getattr(batch_sampler, "sampler", None)):
            gen = getattr(owner, "generator", None)
            if gen is not None and hasattr(gen, "get_state") and id(gen) not in seen:
                seen.add(id(gen))
                found.append(gen)
    return found


def capture_rng_state(*loaders) -> dict:
    """Snapshot of every random stream (see the module docstring)."""
    import ganglion  # noqa: PLC0415

    return {"ganglion": ganglion.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate(),
            "generators": [g.get_state() for g in loader_generators(*loaders)]}


def restore_rng_state(state: dict, *loaders) -> None:
    """Put back a ``capture_rng_state`` snapshot; loaders must match the ones captured."""
    import ganglion  # noqa: PLC0415

    ganglion.set_rng_state(state["ganglion"])
    np.random.set_state(_as_tuple(state["numpy"]))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    generators = loader_generators(*loaders)
    if len(generators) != len(state["generators"]):
        raise ValueError(f"resume: the checkpoint holds {len(state['generators'])} DataLoader "
                         f"generator state(s) but the loaders given to fit() have "
                         f"{len(generators)}; build the loaders as in the original run.")
    for gen, gen_state in zip(generators, state["generators"]):
        gen.set_state(gen_state)


def _as_tuple(value):
    return tuple(value) if isinstance(value, list) else value
