"""The one error type that loading a damaged or foreign checkpoint raises.

Example:
    >>> from ganglion.io.errors import CheckpointError
    >>> issubclass(CheckpointError, RuntimeError), issubclass(CheckpointError, ValueError)
    (True, True)
"""
from __future__ import annotations

__all__ = ["CheckpointError"]


class CheckpointError(RuntimeError, ValueError):
    """A checkpoint file is truncated, corrupted, not a safetensors file, or its structure
    metadata is malformed.

    It derives from ``RuntimeError`` (what ``torch.load`` raises for a damaged archive) and from
    ``ValueError`` (the data is bad), so either ``except`` clause catches it. The message names
    the file and what is wrong.
    """
