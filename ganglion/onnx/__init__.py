"""ONNX export and import.

``export(model, args, f, ...)`` traces a model's forward pass and writes an ONNX graph that
onnxruntime runs (torch.onnx.export's arguments); ``load(path)`` turns an ONNX graph back into
a ganglion ``nn.Module`` that runs it with ganglion ops, so that it can be fine-tuned (its
initializers become Parameters with their names).

Needs the ``onnx`` package (``pip install 'ganglion[onnx]'``); onnxruntime is only needed to
run the exported file elsewhere.

Example:
    >>> import io, ganglion
    >>> from ganglion import nn, onnx as gonnx
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    >>> buf = io.BytesIO()
    >>> _ = gonnx.export(model, ganglion.randn(2, 4), buf, dynamic_axes={"input": [0]})
    >>> back = gonnx.load(io.BytesIO(buf.getvalue()))
    >>> x = ganglion.randn(5, 4)
    >>> bool((back(x) - model(x)).abs().max() < 1e-6)
    True
"""
from ganglion.onnx._trace import TraceError
from ganglion.onnx.export import export
from ganglion.onnx.load import ONNXModule, UnsupportedONNXError, load

__all__ = ["export", "load", "ONNXModule", "TraceError", "UnsupportedONNXError"]
