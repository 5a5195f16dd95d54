"""Loading a state_dict (from a file or a mapping) into a model with a report of what did not
match: missing keys, unexpected keys and shape mismatches, all three at once.

``Module.load_state_dict`` follows torch: ``strict=False`` forgives missing and unexpected keys
but still raises on the first pass's shape mismatches. ``load_state_dict_file`` adds the mode
transfer learning needs: ``strict=False`` loads every tensor whose key and shape match, skips
the rest, and returns a ``StateDictReport`` listing them; ``strict=True`` raises
``StateDictMismatchError`` listing all three kinds (as torch, tensors that match are copied
before the error is raised). It reads every format ``ganglion.load`` reads: ganglion files,
plain safetensors files and torch ``.pt``/``.bin`` checkpoints.

Example:
    >>> import ganglion
    >>> from ganglion import nn
    >>> from ganglion.io import load_state_dict_file
    >>> src = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 10))
    >>> dst = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))   # a new head
    >>> report = load_state_dict_file(dst, src.state_dict(), strict=False)
    >>> report.mismatched_keys
    [('2.weight', (10, 8), (3, 8)), ('2.bias', (10,), (3,))]
    >>> bool(ganglion.equal(dst[0].weight, src[0].weight))
    True
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["StateDictReport", "StateDictMismatchError", "load_state_dict_file"]


class StateDictReport(NamedTuple):
    """What a state_dict load did not match.

    Attributes:
        missing_keys: keys the model has and the checkpoint lacks (left as they were).
        unexpected_keys: keys the checkpoint has and the model lacks (ignored).
        mismatched_keys: ``(key, checkpoint_shape, model_shape)`` for keys in both whose
            shapes differ (left as they were).
    """

    missing_keys: list
    unexpected_keys: list
    mismatched_keys: list

    def __bool__(self) -> bool:  # truthy when something did not match
        return bool(self.missing_keys or self.unexpected_keys or self.mismatched_keys)

    def describe(self) -> str:
        """The report as text, one line per kind that is not empty."""
        lines = []
        if self.missing_keys:
            lines.append(f"missing keys (in the model, not in the checkpoint): "
                         f"{', '.join(map(repr, self.missing_keys))}")
        if self.unexpected_keys:
            lines.append(f"unexpected keys (in the checkpoint, not in the model): "
                         f"{', '.join(map(repr, self.unexpected_keys))}")
        if self.mismatched_keys:
            lines.append("shape mismatches: " + ", ".join(
                f"{k!r} checkpoint {tuple(c)} vs model {tuple(m)}"
                for k, c, m in self.mismatched_keys))
        return "\n".join(lines) or "all keys matched"

    def __repr__(self) -> str:
        if not self:
            return "<All keys matched successfully>"
        return (f"StateDictReport(missing_keys={self.missing_keys}, unexpected_keys="
                f"{self.unexpected_keys}, mismatched_keys={self.mismatched_keys})")


class StateDictMismatchError(RuntimeError):
    """A strict load found missing, unexpected or shape-mismatched keys; ``.report`` has them."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def load_state_dict_file(model, f, strict: bool = True, *, key=None, map_location="cpu",
                         assign: bool = False, who: str = "load_state_dict_file"):
    """Load a state_dict from a file (or a mapping) into ``model``, reporting what did not match.

    Args:
        model: an ``nn.Module``.
        f: a path or binary file object that ``ganglion.load`` reads (ganglion, safetensors or
            torch ``.pt``/``.bin``), or an already loaded state_dict mapping.
        strict: raise ``StateDictMismatchError`` unless every key and shape matches.
            With False, load every tensor whose key and shape match and return the report.
            Default: True.
        key: the entry holding the state_dict in a nested checkpoint
            (``{"model": ..., "optimizer": ...}``); dotted for deeper ones (``"module.net"``).
        map_location: passed to ``ganglion.load``. Default: ``"cpu"``.
        assign: as in ``Module.load_state_dict``.

    Returns:
        StateDictReport (falsy when everything matched).

    Raises:
        StateDictMismatchError (a RuntimeError): ``strict`` and something did not match; the
            message lists every missing, unexpected and mismatched key.
        TypeError/KeyError: the file does not hold a state_dict (at ``key``).
    """
    state = _state_dict_of(f, key, map_location, who)
    missing, unexpected, errors = model._load_state_dict_lists(state, assign)
    mismatched = [(e.key, e.checkpoint_shape, e.model_shape) for e in errors
                  if hasattr(e, "checkpoint_shape")]
    others = [e for e in errors if not hasattr(e, "checkpoint_shape")]
    if others:  # values that are not tensors etc.: what Module.load_state_dict raises
        raise RuntimeError(f"{who}: error(s) loading the state_dict into "
                           f"{type(model).__name__}:\n\t" + "\n\t".join(others))
    report = StateDictReport(missing, unexpected, mismatched)
    if strict and report:
        matched = len(state) - len(unexpected) - len(mismatched)
        raise StateDictMismatchError(
            f"{who}: the checkpoint does not match {type(model).__name__}:\n\t" +
            report.describe().replace("\n", "\n\t") +
            f"\nPass strict=False to load the {matched} matching tensors and get this report "
            f"back (for transfer learning: a new head, extra layers).", report)
    return report


def _state_dict_of(f, key, map_location, who):
    if isinstance(f, Mapping):
        obj, where = f, "the state_dict"
    else:
        from ganglion.io.safetensors_io import load  # noqa: PLC0415 - avoids an import cycle

        obj = load(f, map_location=map_location)
        where = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file"
    for part in key.split(".") if key else ():
        if not isinstance(obj, Mapping) or part not in obj:
            have = sorted(map(str, obj)) if isinstance(obj, Mapping) else type(obj).__name__
            raise KeyError(f"{who}: {where} has no entry {key!r} (at {part!r}; it has "
                           f"{have}).")
        obj = obj[part]
    if not isinstance(obj, Mapping):
        raise TypeError(f"{who}: {where} holds a {type(obj).__name__}, expected a state_dict "
                        f"(a mapping of names to tensors).")
    nested = [k for k, v in obj.items() if isinstance(v, Mapping)]
    if nested and not any(hasattr(v, "shape") for v in obj.values()):
        raise TypeError(f"{who}: {where} holds a checkpoint with the entries {nested}, not a "
                        f"state_dict; pass key= to name the one with the weights (e.g. "
                        f"key={nested[0]!r}).")
    return obj
