"""Matrix products: ``matmul`` (``@``), ``mm``, ``bmm``, ``mv``, ``dot``, ``outer``, ``inner``,
``tensordot`` (part of the 'linalg' family; see ganglion/ops/linalg.py).

Every product runs on BLAS through ``matmul`` of the array module and keeps the operands' dtype
(float32 stays float32). Backward rules are matrix products themselves, so second derivatives
work. Operands must share one dtype, as in torch.

Example:
    >>> import ganglion
    >>> a, b = ganglion.ones(2, 1, 3, 4), ganglion.ones(5, 4, 2)
    >>> (a @ b).shape
    ganglion.Size([2, 5, 3, 2])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend.device import get_array_module
from ganglion.ops._util import check_tensor, norm_dim
from ganglion.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "tensordot"]

# torch names dtypes by their C++ type in matmul's dtype-mismatch message
_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool"}


def same_dtype(a, b, op):
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(f"{op}: expected m1 and m2 to have the same dtype, but got: "
                           f"{_C_NAMES[a.dtype.name]} != {_C_NAMES[b.dtype.name]} (input "
                           f"{a.dtype}, other {b.dtype}); cast one operand, e.g. b.to(a.dtype)")
    if a.array.dtype.kind == "b":
        raise NotImplementedError(f"{op}: \"addmm_impl_cpu_\" not implemented for 'Bool'; "
                                  f"convert the operands to a numeric dtype first")


def _shape_error(op, a_shape, b_shape):
    n = int(np.prod(a_shape[:-1])) if len(a_shape) > 1 else 1
    m = b_shape[-1] if len(b_shape) > 1 else 1
    return RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied ({n}x{a_shape[-1]} "
                        f"and {b_shape[-2] if len(b_shape) > 1 else b_shape[0]}x{m}); input "
                        f"shape {tuple(a_shape)}, other shape {tuple(b_shape)}: the last dim "
                        f"of input must equal the contracted dim of other")


class MatMul(Op):
    """a @ b for operands with at least 2 dims each; batch dims broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return get_array_module(a).matmul(a, b)
        except ValueError:
            raise RuntimeError(f"matmul: the batch dimensions of input {a.shape} and other "
                               f"{b.shape} do not broadcast (all but the last two dims must be "
                               f"equal or 1)") from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # Broadcast batch dims are summed back by the engine.
        ga = MatMul.apply(g, b.transpose(-2, -1)) if need_a else None
        gb = None
        if need_b:
            if b.ndim == 2 and a.ndim > 2:
                # One GEMM over all batch rows instead of a batch of products then a sum.
                k = a.shape[-1]
                gb = MatMul.apply(a.reshape(-1, k).transpose(0, 1), g.reshape(-1, g.shape[-1]))
            else:
                gb = MatMul.apply(a.transpose(-2, -1), g)
        return ga, gb


    @staticmethod
    def raw_backward(ctx, g):  # the same two GEMMs on the arrays
        a, b = ctx.saved_arrays()
        edges = ctx._next
        xp = get_array_module(g)
        ga = xp.matmul(g, b.swapaxes(-2, -1)) if edges[0] is not None else None
        gb = None
        if edges[1] is not None:
            if b.ndim == 2 and a.ndim > 2:  # one GEMM over all batch rows (C-ordered result)
                gb = xp.matmul(a.reshape(-1, a.shape[-1]).T, g.reshape(-1, g.shape[-1]))
            else:
                gb = xp.matmul(a.swapaxes(-2, -1), g)
        return ga, gb


class Dot(Op):
    """Inner product of two 1-D tensors (a 0-d result)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return get_array_module(a).asarray(get_array_module(a).dot(a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


def _tensors(a, b, op):
    check_tensor(a, op, "input")
    check_tensor(b, op, "other")


def matmul(input, other, *, out=None) -> Tensor:
    """Matrix product with torch's rules for every rank.

    1-D @ 1-D is a dot product; a 1-D operand is treated as a row (left) or column (right)
    vector whose added dim is removed from the result; N-D operands are batches of matrices
    whose batch dims broadcast.

    Args:
        input: the first tensor (at least 1-D).
        other: the second tensor (at least 1-D), same dtype as ``input``.

    Returns:
        The product, of the operands' dtype.

    Raises:
        RuntimeError: a 0-d operand, mismatched inner dims, unbroadcastable batch dims or
            different dtypes.

    Example:
        >>> import ganglion
        >>> ganglion.matmul(ganglion.ones(3), ganglion.ones(3, 4)).shape
        ganglion.Size([4])
    """
    _tensors(input, other, "matmul")
    same_dtype(input, other, "matmul")
    da, db = input.array.ndim, other.array.ndim
    sa, sb = input.array.shape, other.array.shape
    if da >= 2 and db >= 2:
        if sa[-1] != sb[-2]:
            raise _shape_error("matmul", sa, sb)
        return MatMul.apply(input, other)
    if da == 0 or db == 0:
        raise RuntimeError(f"matmul: both arguments to matmul need to be at least 1D, but they "
                           f"are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 1:
        if sa[0] != sb[-2]:
            raise _shape_error("matmul", (1,) + sa, sb)
        res = MatMul.apply(input.reshape(1, sa[0]), other)
        return res.reshape(res.shape[:-2] + res.shape[-1:])
    if sa[-1] != sb[0]:
        raise RuntimeError(f"matmul: size mismatch, got input {sa}, other {sb}: the last dim of "
                           f"input must equal the length of the vector")
    res = MatMul.apply(input, other.reshape(sb[0], 1))
    return res.reshape(res.shape[:-1])


def mm(input, mat2, *, out=None) -> Tensor:
    """Product of two matrices (no broadcasting).

    Example:
        >>> import ganglion
        >>> ganglion.mm(ganglion.ones(2, 3), ganglion.ones(3, 4)).shape
        ganglion.Size([2, 4])
    """
    _tensors(input, mat2, "mm")
    if input.ndim != 2:
        raise RuntimeError(f"mm: self must be a matrix, got a {input.ndim}-D tensor of shape "
                           f"{tuple(input.shape)}")
    if mat2.ndim != 2:
        raise RuntimeError(f"mm: mat2 must be a matrix, got a {mat2.ndim}-D tensor of shape "
                           f"{tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2, *, out=None) -> Tensor:
    """Batched product of (b, n, k) and (b, k, m) tensors (no broadcasting).

    Example:
        >>> import ganglion
        >>> ganglion.bmm(ganglion.ones(5, 2, 3), ganglion.ones(5, 3, 4)).shape
        ganglion.Size([5, 2, 4])
    """
    _tensors(input, mat2, "bmm")
    if input.ndim != 3:
        raise RuntimeError(f"bmm: batch1 must be a 3D tensor, got shape {tuple(input.shape)}")
    if mat2.ndim != 3:
        raise RuntimeError(f"bmm: batch2 must be a 3D tensor, got shape {tuple(mat2.shape)}")
    b, _, k = input.shape
    if mat2.shape[:2] != (b, k):
        raise RuntimeError(f"bmm: Expected size for first two dimensions of batch2 tensor to "
                           f"be: [{b}, {k}] but got: [{mat2.shape[0]}, {mat2.shape[1]}] "
                           f"(batch1 {tuple(input.shape)}, batch2 {tuple(mat2.shape)})")
    return matmul(input, mat2)


def mv(input, vec, *, out=None) -> Tensor:
    """Matrix (n, m) times vector (m,).

    Example:
        >>> import ganglion
        >>> ganglion.mv(ganglion.ones(2, 3), ganglion.ones(3))
        tensor([3., 3.])
    """
    _tensors(input, vec, "mv")
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: vector + matrix @ vector expected, got input of shape "
                           f"{tuple(input.shape)} and vec of shape {tuple(vec.shape)}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"mv: size mismatch, got input ({input.shape[0]}), mat "
                           f"({input.shape[0]}x{input.shape[1]}), vec ({vec.shape[0]})")
    return matmul(input, vec)


def dot(input, tensor, *, out=None) -> Tensor:
    """Inner product of two 1-D tensors of the same length and dtype.

    Example:
        >>> import ganglion
        >>> ganglion.dot(ganglion.tensor([1., 2.]), ganglion.tensor([3., 4.]))
        tensor(11.)
    """
    _tensors(input, tensor, "dot")
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and "
                           f"{tensor.ndim}D tensors")
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensor [{input.shape[0]}] "
                           f"and src [{tensor.shape[0]}] to have the same number of elements, "
                           f"but got {input.shape[0]} and {tensor.shape[0]} elements "
                           f"respectively")
    if input.array.dtype != tensor.array.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{input.dtype} and {tensor.dtype}")
    return Dot.apply(input, tensor)


def vdot(input, other, *, out=None) -> Tensor:
    """Dot product (conjugating the first operand, a no-op for real tensors).

    Example:
        >>> import ganglion
        >>> ganglion.vdot(ganglion.ones(3), ganglion.ones(3))
        tensor(3.)
    """
    return dot(input, other)


def outer(input, vec2) -> Tensor:
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``.

    Example:
        >>> import ganglion
        >>> ganglion.outer(ganglion.ones(2), ganglion.ones(3)).shape
        ganglion.Size([2, 3])
    """
    _tensors(input, vec2, "outer")
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D "
                               f"(shape {tuple(t.shape)})")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def tensordot(a, b, dims=2, out=None) -> Tensor:
    """Contract ``dims`` of ``a`` with ``dims`` of ``b`` (one GEMM after permute + reshape).

    Args:
        a, b: the operands.
        dims: an int n (last n dims of ``a`` with first n of ``b``) or two lists of dims.

    Example:
        >>> import ganglion
        >>> ganglion.tensordot(ganglion.ones(2, 3, 4), ganglion.ones(3, 4, 5)).shape
        ganglion.Size([2, 5])
    """
    _tensors(a, b, "tensordot")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError(f"tensordot: both dimension lists should have same length, got "
                           f"{da} and {db}")
    da = [norm_dim(d, a.ndim, "tensordot") for d in da]
    db = [norm_dim(d, b.ndim, "tensordot") for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has "
                               f"size {a.shape[x]} in dim {x} and second has size {b.shape[y]} "
                               f"in dim {y}")
    same_dtype(a, b, "tensordot")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    sa, sb = tuple(a.shape[d] for d in free_a), tuple(b.shape[d] for d in free_b)
    lhs = a.permute(*(free_a + da)).reshape(int(np.prod(sa)), k)
    rhs = b.permute(*(db + free_b)).reshape(k, int(np.prod(sb)))
    shape = sa + sb
    return MatMul.apply(lhs, rhs).reshape(shape)


def inner(input, other, *, out=None) -> Tensor:
    """Sum over the last dims: ``out[..a, ..b] = sum_k input[..a, k] * other[..b, k]``.

    Example:
        >>> import ganglion
        >>> ganglion.inner(ganglion.ones(3, 2), ganglion.ones(4, 2)).shape
        ganglion.Size([3, 4])
    """
    _tensors(input, other, "inner")
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, dims=([-1], [-1]))
