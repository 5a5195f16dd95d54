"""``ganglion.linalg``: the ``torch.linalg`` namespace (norms; more as they come)."""
from __future__ import annotations
