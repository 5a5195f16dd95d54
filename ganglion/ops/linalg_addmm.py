"""The fused ``linear`` op and the ``add*`` products (``addmm``, ``baddbmm``, ``addbmm``,
``addmv``, ``addr``), part of the 'linalg' family (see ganglion/ops/linalg.py).

``linear`` is one op: the forward is one GEMM on the input flattened to 2-D, and the weight
gradient ``g.T @ x`` comes out C-contiguous in the weight's own (out, in) layout, which keeps the
optimizer's passes over it fast.

Example:
    >>> import ganglion
    >>> x, w = ganglion.ones(4, 7, 3), ganglion.ones(5, 3)
    >>> ganglion.linear(x, w, ganglion.zeros(5)).shape
    ganglion.Size([4, 7, 5])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.autograd.grad_mode import STATE
from ganglion.backend import jit, parallel
from ganglion.backend.device import get_array_module
from ganglion.ops._util import check_tensor
from ganglion.ops.linalg_matmul import MatMul, bmm, matmul, mm, mv, outer, same_dtype
from ganglion.tensor import Tensor

__all__ = ["linear", "addmm", "baddbmm", "addbmm", "addmv", "addr"]

_PARALLEL_MIN = 1 << 16  # output elements from which the compiled bias add pays (linalg_jit)


class Linear(Op):
    """y = x @ w.T + b for x of shape (..., in), w (out, in), b broadcastable to (..., out)."""

    @staticmethod
    def forward(ctx, x, w, b):
        xp = get_array_module(x)
        x2 = x.reshape(-1, x.shape[-1])
        out2 = parallel.matmul(x2, w.T)
        out = out2.reshape(x.shape[:-1] + (w.shape[0],))
        if b is not None:
            if b.ndim <= 1:
                _add_bias(out2, b)
            else:  # a bias broadcast over the leading dims too
                out += b
            ctx.bias_ndim = b.ndim
        ctx.save_for_backward(x, w)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        if not STATE.enabled:
            # Not recording (no create_graph): the same products on raw arrays, without the
            # per-op overhead of building Tensors for the reshapes and transposes.
            return _raw_grads(ctx, g.array, x.array, w.array)
        m, k = w.shape
        g2 = g.reshape(-1, m)
        gx = MatMul.apply(g2, w).reshape(x.shape) if need_x else None
        gw = MatMul.apply(g2.transpose(0, 1), x.reshape(-1, k)) if need_w else None
        gb = None
        if need_b:
            gb = g2.sum(0) if ctx.bias_ndim == 1 else g  # the engine sums g to b's shape
        return gx, gw, gb


def _raw_grads(ctx, g, x, w):
    need_x, need_w, need_b = ctx.needs_input_grad
    xp = get_array_module(g)
    m, k = w.shape
    g2 = g.reshape(-1, m)
    gx = _new_tensor(parallel.matmul(g2, w).reshape(x.shape)) if need_x else None
    # g2.T @ x2 is a fresh C-ordered (out, in) array: the weight's own layout.
    gw = _new_tensor(parallel.matmul(g2.T, x.reshape(-1, k))) if need_w else None
    gb = None
    if need_b:
        gb = _new_tensor(_bias_grad(xp, g2) if ctx.bias_ndim == 1 else g)
    return gx, gw, gb


def _bias_grad(xp, g2):
    """The column sums of g2 (rows, out): as ``ones @ g2`` (a BLAS gemv, on BLAS's threads)
    for NumPy float32/float64, else a plain sum."""
    if xp is np and g2.dtype in (np.float32, np.float64) and g2.shape[0] > 1:
        return np.ones(g2.shape[0], dtype=g2.dtype) @ g2
    return g2.sum(0)


def _add_bias(out2, b):
    """out2 (rows, out) += b: the compiled row kernel on all cores for a large NumPy output
    and a plain (out,) bias of its dtype, else NumPy's broadcast add."""
    if (out2.size >= _PARALLEL_MIN and b.ndim == 1 and b.dtype == out2.dtype
            and out2.dtype in (np.float32, np.float64) and out2.flags.c_contiguous
            and b.flags.c_contiguous and jit.enabled_for(out2, b)):
        from ganglion.ops import linalg_jit  # noqa: PLC0415 - numba only when used

        linalg_jit.add_bias(out2, b)
    else:
        out2 += b


def linear(input, weight, bias=None) -> Tensor:
    """Affine map ``input @ weight.T + bias``, one fused op (one GEMM forward and per gradient).

    Args:
        input: (..., in_features).
        weight: (out_features, in_features), or (in_features,) for a single output.
        bias: (out_features,) (or anything broadcastable to the output), optional.

    Returns:
        (..., out_features).

    Raises:
        RuntimeError: mismatched feature sizes or dtypes.

    Example:
        >>> import ganglion
        >>> ganglion.linear(ganglion.ones(2, 3), ganglion.ones(4, 3)).shape
        ganglion.Size([2, 4])
    """
    check_tensor(input, "linear", "input")
    check_tensor(weight, "linear", "weight")
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"linear: both arguments to linear need to be at least 1D, but they "
                           f"are {input.ndim}D and {weight.ndim}D")
    same_dtype(input, weight, "linear")
    if weight.ndim != 2:
        if weight.ndim != 1:
            raise RuntimeError(f"linear: weight must be 1-D or 2-D (out_features, in_features), "
                               f"got shape {tuple(weight.shape)}")
        out = matmul(input, weight)
        return out if bias is None else out + bias
    if input.shape[-1] != weight.shape[1]:
        n = int(np.prod(input.shape[:-1]))
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied "
                           f"({n}x{input.shape[-1]} and {weight.shape[1]}x{weight.shape[0]}): "
                           f"input has shape {tuple(input.shape)} but weight of shape "
                           f"{tuple(weight.shape)} expects in_features={weight.shape[1]}")
    if bias is not None:
        check_tensor(bias, "linear", "bias")
        if bias.array.dtype != input.array.dtype:
            raise RuntimeError(f"linear: bias has dtype {bias.dtype} but input and weight are "
                               f"{input.dtype}; cast the bias, e.g. bias.to({input.dtype})")
        out_shape = tuple(input.shape[:-1]) + (weight.shape[0],)
        if _broadcast(bias.shape, out_shape, "linear", "bias") != out_shape:
            raise RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not broadcast "
                               f"to the output shape {out_shape}")
    return Linear.apply(input, weight, bias)


def _broadcast(shape, out_shape, op, what):
    try:
        return tuple(np.broadcast_shapes(tuple(shape), tuple(out_shape)))
    except ValueError:
        raise RuntimeError(f"{op}: {what} of shape {tuple(shape)} cannot be expanded to the "
                           f"result shape {tuple(out_shape)}") from None


def _add_scaled(op, input, prod, beta, alpha):
    """beta * input + alpha * prod; with beta == 0 the input is ignored (nan/inf included),
    as in torch, but still gets a (zero) gradient."""
    check_tensor(input, op, "input")
    if input.array.dtype != prod.array.dtype:
        raise RuntimeError(f"{op}: self and mat2 must have the same dtype, but got "
                           f"{input.dtype} and {prod.dtype}")
    shape = tuple(prod.shape)
    if _broadcast(input.shape, shape, op, "input") != shape:
        raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} cannot be expanded to "
                           f"the result shape {shape}")
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        from ganglion.ops.arith import where  # noqa: PLC0415 - arith is a sibling family

        mask = _new_tensor(get_array_module(input.array).zeros((), dtype=bool))
        return prod + where(mask, input, 0)
    return prod + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` for matrices; ``input`` broadcasts.

    Example:
        >>> import ganglion
        >>> ganglion.addmm(ganglion.ones(3), ganglion.ones(2, 4), ganglion.ones(4, 3),
        ...                beta=0.5, alpha=2)
        tensor([[8.5000, 8.5000, 8.5000],
                [8.5000, 8.5000, 8.5000]])
    """
    check_tensor(mat1, "addmm", "mat1")
    check_tensor(mat2, "addmm", "mat2")
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"addmm: {name} must be a matrix, got {t.ndim}-D tensor")
    return _add_scaled("addmm", input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``.

    Example:
        >>> import ganglion
        >>> ganglion.baddbmm(ganglion.ones(2, 3), ganglion.ones(4, 2, 5),
        ...                  ganglion.ones(4, 5, 3)).shape
        ganglion.Size([4, 2, 3])
    """
    return _add_scaled("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``, computed as one GEMM.

    Example:
        >>> import ganglion
        >>> ganglion.addbmm(ganglion.zeros(2, 3), ganglion.ones(4, 2, 5),
        ...                 ganglion.ones(4, 5, 3))[0]
        tensor([20., 20., 20.])
    """
    _check_bmm(batch1, batch2)
    b, n, k = batch1.shape
    # sum_b A_b @ B_b == [A_0 .. A_B] (n, b*k) @ [B_0; ..; B_B] (b*k, m)
    lhs = batch1.permute(1, 0, 2).reshape(n, b * k)
    prod = MatMul.apply(lhs, batch2.reshape(b * k, batch2.shape[2]))
    return _add_scaled("addbmm", input, prod, beta, alpha)


def _check_bmm(batch1, batch2):
    check_tensor(batch1, "addbmm", "batch1")
    check_tensor(batch2, "addbmm", "batch2")
    if batch1.ndim != 3 or batch2.ndim != 3:
        raise RuntimeError(f"addbmm: batch1 and batch2 must be 3D tensors, got shapes "
                           f"{tuple(batch1.shape)} and {tuple(batch2.shape)}")
    b, _, k = batch1.shape
    if batch2.shape[:2] != (b, k):
        raise RuntimeError(f"addbmm: Expected size for first two dimensions of batch2 tensor to "
                           f"be: [{b}, {k}] but got: [{batch2.shape[0]}, {batch2.shape[1]}]")
    same_dtype(batch1, batch2, "addbmm")


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``.

    Example:
        >>> import ganglion
        >>> ganglion.addmv(ganglion.ones(2), ganglion.ones(2, 3), ganglion.ones(3), beta=2)
        tensor([5., 5.])
    """
    return _add_scaled("addmv", input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``.

    Example:
        >>> import ganglion
        >>> ganglion.addr(ganglion.zeros(2, 3), ganglion.ones(2), ganglion.ones(3)).shape
        ganglion.Size([2, 3])
    """
    return _add_scaled("addr", input, outer(vec1, vec2), beta, alpha)
