"""Converters from ganglion ops to ONNX nodes, one module per op family."""
from ganglion.onnx.converters import (  # noqa: F401 - importing registers the converters
    activation, attention, conv_pool, elementwise, linalg, norm, recurrent, reduce, shape,
    unary)
from ganglion.onnx.converters._registry import CONVERTERS

__all__ = ["CONVERTERS"]
