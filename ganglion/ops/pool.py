"""Op family 'pool' (functional forms re-exported by ganglion.nn.functional)."""
from __future__ import annotations

__all__: list = []

TENSOR_METHODS: dict = {}
