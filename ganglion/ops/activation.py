"""Op family 'activation' (see ganglion/ops/__init__.py)."""
from __future__ import annotations

__all__: list = []

TENSOR_METHODS: dict = {}
