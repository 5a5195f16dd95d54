"""ONNX ops run with ganglion ops, one module per family (the loader's side)."""
from ganglion.onnx.importers import (  # noqa: F401 - importing registers the importers
    elementwise, nn_ops, recurrent, reduce, shape)
from ganglion.onnx.importers._registry import IMPORTERS, UnsupportedONNXError

__all__ = ["IMPORTERS", "UnsupportedONNXError"]
