"""Op family 'activation': the activation functions of ``torch.nn.functional``.

Elementwise activations are one op each (``activation_pointwise.py``); ``softmax``,
``log_softmax``, ``softmin``, ``glu`` and ``prelu`` live in ``activation_softmax.py``. Every
function keeps torch's signature; ``inplace=True`` (and the ``relu_``-style functions) write the
result into the input through ``ganglion.tensor.inplace_update``.

Dtypes follow torch's CPU kernels: ``relu``, ``relu6``, ``hardtanh`` and ``threshold`` accept
integer tensors (and keep their dtype), ``softsign`` and ``tanhshrink`` turn them into the default
float dtype, the rest raise ``NotImplementedError`` for integer and bool inputs.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([-1.0, 0.5], requires_grad=True)
    >>> relu(x).sum().backward(); x.grad
    tensor([0., 1.])
"""
from __future__ import annotations

from ganglion.autograd.function import _new_tensor
from ganglion.backend.random import numpy_rng
from ganglion.ops import activation_pointwise as _pw
from ganglion.ops import activation_softmax as _sm
from ganglion.ops._util import check_tensor, float_dtype_for
from ganglion.ops.activation_softmax import glu, log_softmax, prelu, softmax, softmin
from ganglion.tensor import Tensor, inplace_update

__all__ = ["relu", "relu_", "relu6", "hardtanh", "hardtanh_", "threshold", "threshold_",
           "leaky_relu", "leaky_relu_", "rrelu", "rrelu_", "elu", "elu_", "selu", "selu_",
           "celu", "celu_", "gelu", "silu", "mish", "softplus", "softsign", "hardsigmoid",
           "hardswish", "logsigmoid", "tanhshrink", "hardshrink", "softshrink"] + _sm.__all__


def _float_input(input, name):
    if type(input) is not Tensor:
        check_tensor(input, name)  # subclasses pass; anything else raises TypeError
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"{name}(): not implemented for input dtype {input.dtype}; "
                                  f"expected a floating point tensor (convert with "
                                  f"input.float()).")
    return input


def _int_ok_input(input, name):
    """Integer inputs are fine (their dtype is kept), bool is not, as in torch."""
    if type(input) is not Tensor:
        check_tensor(input, name)
    if input.array.dtype.kind == "b":
        raise RuntimeError(f"{name}(): Boolean inputs not supported (got dtype "
                           f"{input.dtype}); convert the input with input.float() or .long().")
    return input


def _scalar(value, input):
    # Python scalars keep float32 float32 (a NumPy float64 scalar would not); integer inputs
    # see truncated bounds, as torch casts the scalar to the input's dtype
    return float(value) if input.array.dtype.kind == "f" else int(value)


def _apply(op, name, input, params, inplace=False):
    if inplace:
        return inplace_update(input, name + "_", op.apply, *params)
    return op.apply(input, *params)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise; gradient 0 at x == 0 (torch's subgradient).

    Example:
        >>> import ganglion
        >>> relu(ganglion.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    return _apply(_pw.Relu, "relu", _int_ok_input(input, "relu"), (), inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([-1.0, 2.0]); _ = relu_(x); x
        tensor([0., 2.])
    """
    return relu(input, inplace=True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clip to [min_val, max_val]; the gradient passes only strictly inside (torch's rule).

    Raises:
        ValueError: ``min_val > max_val``.

    Example:
        >>> import ganglion
        >>> hardtanh(ganglion.tensor([-3.0, 0.5, 3.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val (got "
                         f"min_val={min_val}, max_val={max_val}).")
    _int_ok_input(input, "hardtanh")
    if input.array.dtype.kind == "u" and min(min_val, max_val) < 0:
        raise RuntimeError(f"hardtanh: cannot do hardtanh on an unsigned type with negative "
                           f"limits (dtype {input.dtype}, min_val={min_val}, max_val={max_val}).")
    params = (_scalar(min_val, input), _scalar(max_val, input))
    return _apply(_pw.Hardtanh, "hardtanh", input, params, inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`hardtanh`.

    Example:
        >>> import ganglion
        >>> hardtanh_(ganglion.tensor([-3.0, 3.0]), 0.0, 1.0)
        tensor([0., 1.])
    """
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh on [0, 6] (no gradient at 0 or 6, as torch).

    Example:
        >>> import ganglion
        >>> relu6(ganglion.tensor([-1.0, 3.0, 9.0]))
        tensor([0., 3., 6.])
    """
    _int_ok_input(input, "relu6")
    return _apply(_pw.Hardtanh, "relu6", input, (_scalar(0, input), _scalar(6, input)), inplace)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``; the gradient passes only where x > threshold.

    Example:
        >>> import ganglion
        >>> threshold(ganglion.tensor([0.5, 2.0]), 1.0, -1.0)
        tensor([-1.,  2.])
    """
    return _threshold(input, threshold, value, inplace)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place :func:`threshold`.

    Example:
        >>> import ganglion
        >>> threshold_(ganglion.tensor([0.5, 2.0]), 1.0, 0.0)
        tensor([0., 2.])
    """
    return _threshold(input, threshold, value, True)


def _threshold(input, th, value, inplace):
    check_tensor(input, "threshold")
    if input.array.dtype.kind == "b":
        raise NotImplementedError("threshold(): not implemented for dtype ganglion.bool; "
                                  "convert the input with input.float() or .long().")
    params = (_scalar(th, input), _scalar(value, input))
    return _apply(_pw.Threshold, "threshold", input, params, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x; at x == 0 the gradient is negative_slope (torch).

    Example:
        >>> import ganglion
        >>> leaky_relu(ganglion.tensor([-2.0, 3.0]), 0.5)
        tensor([-1.,  3.])
    """
    _float_input(input, "leaky_relu")
    return _apply(_pw.LeakyRelu, "leaky_relu", input, (float(negative_slope),), inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`.

    Example:
        >>> import ganglion
        >>> leaky_relu_(ganglion.tensor([-2.0, 3.0]), 0.5)
        tensor([-1.,  3.])
    """
    return leaky_relu(input, negative_slope, inplace=True)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU (https://arxiv.org/abs/1505.00853).

    In training, each x <= 0 is scaled by a slope drawn from U(lower, upper) (the global
    generator, so ``manual_seed`` fixes it); otherwise the slope is (lower + upper) / 2.

    Example:
        >>> import ganglion
        >>> rrelu(ganglion.tensor([-3.0, 1.0]), 0.25, 0.75)
        tensor([-1.5000,  1.0000])
    """
    _float_input(input, "rrelu")
    if not training:
        return _apply(_pw.LeakyRelu, "rrelu", input, ((lower + upper) / 2.0,), inplace)
    return _apply(_RreluTrain, "rrelu", input, (float(lower), float(upper)), inplace)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """In-place :func:`rrelu`.

    Example:
        >>> import ganglion
        >>> rrelu_(ganglion.tensor([-3.0, 1.0]), 0.25, 0.75)
        tensor([-1.5000,  1.0000])
    """
    return rrelu(input, lower, upper, training, inplace=True)


class _RreluTrain:
    """x * noise, noise ~ U(lower, upper) where x <= 0 and 1 elsewhere (torch's rule at 0)."""

    @staticmethod
    def apply(x, lower, upper):
        a = x.array
        draw = numpy_rng().uniform(lower, upper, a.shape).astype(a.dtype)
        noise = draw if a.ndim else draw.reshape(())
        noise[a > 0] = 1
        return x * _new_tensor(noise)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1) (https://arxiv.org/abs/1511.07289).

    Example:
        >>> import ganglion
        >>> elu(ganglion.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """
    _float_input(input, "elu")
    return _apply(_pw.Elu, "elu", input, (float(alpha), 1.0, 1.0), inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`.

    Example:
        >>> import ganglion
        >>> elu_(ganglion.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants
    (https://arxiv.org/abs/1706.02515).

    Example:
        >>> import ganglion
        >>> selu(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 1.0507])
    """
    _float_input(input, "selu")
    params = (_pw.SELU_ALPHA, _pw.SELU_SCALE, 1.0)
    return _apply(_pw.Elu, "selu", input, params, inplace)


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`selu`.

    Example:
        >>> import ganglion
        >>> selu_(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 1.0507])
    """
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (https://arxiv.org/abs/1704.07483).

    Raises:
        RuntimeError: ``alpha == 0``.

    Example:
        >>> import ganglion
        >>> celu(ganglion.tensor([0.0, 2.0]), alpha=2.0)
        tensor([0., 2.])
    """
    _float_input(input, "celu")
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU; pass a "
                           "nonzero alpha (default 1.0).")
    return _apply(_pw.Elu, "celu", input, (float(alpha), 1.0, 1.0 / alpha), inplace)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`celu`.

    Example:
        >>> import ganglion
        >>> celu_(ganglion.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (https://arxiv.org/abs/1606.08415); ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Raises:
        RuntimeError: ``approximate`` is neither 'none' nor 'tanh'.

    Example:
        >>> import ganglion
        >>> gelu(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8413])
    """
    _float_input(input, "gelu")
    if approximate == "none":
        return _pw.Gelu.apply(input)
    if approximate == "tanh":
        return _pw.GeluTanh.apply(input)
    raise RuntimeError(f"gelu: approximate argument must be either none or tanh (got "
                       f"{approximate!r}).")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x), a.k.a. swish (https://arxiv.org/abs/1702.03118).

    Example:
        >>> import ganglion
        >>> silu(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7311])
    """
    return _apply(_pw.Silu, "silu", _float_input(input, "silu"), (), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) (https://arxiv.org/abs/1908.08681).

    Example:
        >>> import ganglion
        >>> mish(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8651])
    """
    return _apply(_pw.Mish, "mish", _float_input(input, "mish"), (), inplace)


def softplus(input: Tensor, beta: float = 1, threshold: float = 20) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as torch).

    Example:
        >>> import ganglion
        >>> softplus(ganglion.tensor([0.0, 100.0]))
        tensor([  0.6931, 100.0000])
    """
    _float_input(input, "softplus")
    return _pw.Softplus.apply(input, float(beta), float(threshold))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|); integer inputs give the default float dtype (torch).

    Example:
        >>> import ganglion
        >>> softsign(ganglion.tensor([-1.0, 3.0]))
        tensor([-0.5000,  0.7500])
    """
    return _pw.Softsign.apply(_promoted_input(input, "softsign"))


def _promoted_input(input, name, bool_error=NotImplementedError):
    check_tensor(input, name)
    kind = input.array.dtype.kind
    if kind == "b":
        raise bool_error(f"{name}(): not implemented for dtype ganglion.bool; convert the "
                         f"input with input.float().")
    return input if kind == "f" else input.to(float_dtype_for(input.array))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x + 3, 0), 6) / 6; gradient 1/6 strictly inside (-3, 3), else 0 (torch).

    Example:
        >>> import ganglion
        >>> hardsigmoid(ganglion.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return _apply(_pw.Hardsigmoid, "hardsigmoid", _float_input(input, "hardsigmoid"), (),
                  inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * hardsigmoid(x) (https://arxiv.org/abs/1905.02244).

    Example:
        >>> import ganglion
        >>> hardswish(ganglion.tensor([-4.0, 0.0, 4.0]))
        tensor([-0., 0., 4.])
    """
    return _apply(_pw.Hardswish, "hardswish", _float_input(input, "hardswish"), (), inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for large |x| (logsigmoid(-100) = -100).

    Example:
        >>> import ganglion
        >>> logsigmoid(ganglion.tensor([-100.0, 0.0]))
        tensor([-100.0000,   -0.6931])
    """
    return _pw.Logsigmoid.apply(_float_input(input, "logsigmoid"))


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x); integer inputs give the default float dtype (torch).

    Example:
        >>> import ganglion
        >>> tanhshrink(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 0.2384])
    """
    # torch fails on bool in its subtraction: a RuntimeError, not NotImplementedError
    return _pw.Tanhshrink.apply(_promoted_input(input, "tanhshrink", RuntimeError))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0.

    Example:
        >>> import ganglion
        >>> hardshrink(ganglion.tensor([-1.0, 0.25, 2.0]))
        tensor([-1.,  0.,  2.])
    """
    return _pw.Hardshrink.apply(_float_input(input, "hardshrink"), float(lambd))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 in between.

    Raises:
        RuntimeError: ``lambd < 0``.

    Example:
        >>> import ganglion
        >>> softshrink(ganglion.tensor([-1.0, 0.25, 2.0]))
        tensor([-0.5000,  0.0000,  1.5000])
    """
    _float_input(input, "softshrink")
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be "
                           f"{lambd}.")
    return _pw.Softshrink.apply(input, float(lambd))


def _hardshrink_method(self, lambd=0.5):
    return hardshrink(self, lambd)


TENSOR_METHODS = {"relu": relu, "relu_": relu_, "hardshrink": _hardshrink_method,
                  **_sm.TENSOR_METHODS}
