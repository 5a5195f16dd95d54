"""The optional ``onnx`` package, imported once with an error that names the extra."""
from __future__ import annotations

try:
    import onnx
    import onnx.checker
    import onnx.helper
    import onnx.numpy_helper
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("ganglion.onnx needs the 'onnx' package: pip install 'ganglion[onnx]' "
                      "(or pip install onnx).") from e

__all__ = ["onnx", "tensor_type"]


def tensor_type(np_dtype) -> int:
    """The ONNX TensorProto element type of a NumPy dtype."""
    return onnx.helper.np_dtype_to_tensor_dtype(np_dtype)
