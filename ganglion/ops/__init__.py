"""Primitive ops, one ``Op`` per op, grouped by family; each family module also holds the public
functions of that family and a ``TENSOR_METHODS`` table that ``install_tensor_methods`` puts on
``Tensor``. In-place variants (``add_``, ``exp_``, ...) are derived here from the out-of-place
methods through ``ganglion.tensor.inplace_update``.
"""
from __future__ import annotations

import importlib

__all__ = ["FAMILIES", "install_tensor_methods"]

FAMILIES = ("convert", "creation", "arith", "arith_fast", "compare", "unary", "activation",
            "reduce", "movement", "pad", "indexing", "linalg", "random", "conv",
            "pool", "upsample", "norm", "loss", "embedding", "fast_methods")

# Methods whose in-place form keeps the shape and writes the result into the tensor's buffer.
INPLACE_VALUE_METHODS = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "pow", "neg", "negative", "abs", "absolute", "sign", "exp", "exp2", "log",
    "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan", "atan2", "arcsin", "arccos", "arctan",
    "sigmoid", "logit", "erf", "erfc", "erfinv", "floor", "ceil", "round", "trunc", "fix", "frac",
    "clamp", "clip", "clamp_min", "clamp_max", "lerp", "addcmul", "addcdiv", "nan_to_num",
    "relu", "masked_fill", "masked_scatter", "index_fill", "index_add", "index_copy", "scatter",
    "scatter_add", "scatter_reduce", "tril", "triu", "hypot", "logical_not", "logical_and",
    "logical_or", "logical_xor", "eq", "ne", "lt", "le", "gt", "ge", "maximum", "minimum",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "xlogy", "cumsum", "cumprod",
    "put", "index_put", "copysign", "heaviside", "sinc", "deg2rad", "rad2deg", "digamma",
    "lgamma", "float_power", "mvlgamma", "renorm", "fill_diagonal",
)


def _make_inplace(name, method):
    from ganglion.tensor import inplace_update  # noqa: PLC0415 - tensor imports this package

    def inplace(self, *args, **kwargs):
        return inplace_update(self, name + "_", method, *args, **kwargs)

    inplace.__name__ = name + "_"
    inplace.__doc__ = f"In-place version of :meth:`Tensor.{name}`."
    return inplace


def install_tensor_methods(tensor_cls) -> None:
    for fam in FAMILIES:
        mod = importlib.import_module(f"ganglion.ops.{fam}")
        for name, fn in getattr(mod, "TENSOR_METHODS", {}).items():
            setattr(tensor_cls, name, fn)
    for name in INPLACE_VALUE_METHODS:
        method = getattr(tensor_cls, name, None)
        if method is not None and not hasattr(tensor_cls, name + "_"):
            setattr(tensor_cls, name + "_", _make_inplace(name, method))
