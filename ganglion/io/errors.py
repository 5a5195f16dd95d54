"""The one error type that loading a damaged or foreign checkpoint raises.

Example:
    >>> from ganglion.io.errors import CheckpointError
    >>> issubclass(CheckpointError, RuntimeError), issubclass(CheckpointError, ValueError)
    (True, True)
"""
from __future__ import annotations

__all__ = ["CheckpointError"]


class CheckpointError(RuntimeError, ValueError):
    """A checkpoint file is truncated, corrupted, neither a safetensors nor a torch.save file,
    its structure metadata is malformed, or (a torch file) it asks for a global, opcode or dtype
    that a weights-only load refuses.

    It derives from ``RuntimeError`` (what ``torch.load`` raises for a damaged archive) and from
    ``ValueError`` (the data is bad), so either ``except`` clause catches it. The message names
    the file and what is wrong.
    """
