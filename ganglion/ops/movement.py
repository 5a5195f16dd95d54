"""Shape and movement ops: ``reshape/view``, ``expand``, ``permute/transpose``, ``squeeze/
unsqueeze``, ... Views share memory (and the version counter) with their input.

Example:
    >>> import ganglion
    >>> ganglion.arange(6).reshape(2, 3).t().shape
    ganglion.Size([3, 2])
"""
from __future__ import annotations

from ganglion.autograd.function import Op
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim
from ganglion.tensor import Tensor, _sizes

__all__ = ["reshape", "permute", "transpose", "expand", "broadcast_to"]


def _infer_shape(shape, numel, op, in_shape):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {tuple(shape)}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {s} in {tuple(shape)}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size "
                               f"{numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel} "
                           f"(input shape {tuple(in_shape)})")
    return tuple(shape)


class Reshape(Op):
    view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Expand(Op):
    view = True

    @staticmethod
    def forward(ctx, x, shape):
        return get_array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums the broadcast gradient back to the input's shape


class Permute(Op):
    view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inv[d] = i
        return g.permute(*inv)


def reshape(input, *shape) -> Tensor:
    shape = _infer_shape(_sizes(shape, "reshape"), input.array.size, "reshape",
                         input.array.shape)
    if shape == input.array.shape:
        return input if not input._rg else Reshape.apply(input, shape)
    return Reshape.apply(input, shape)


def _view(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and shape[0] is not None:
        return self.to(shape[0])  # view(dtype) with the same itemsize
    return reshape(self, *shape)


def expand(input, *sizes) -> Tensor:
    sizes = _sizes(sizes, "expand")
    shape = input.array.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        cur = shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing "
                                   "dimension")
            s = cur
        elif cur is not None and cur != 1 and cur != s:
            raise RuntimeError(f"expand: The expanded size of the tensor ({s}) must match the "
                               f"existing size ({cur}) at non-singleton dimension {i}.  Target "
                               f"sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
        out.append(s)
    out = tuple(out)
    if out == shape:
        return input
    return Expand.apply(input, out)


def broadcast_to(input, size) -> Tensor:
    return expand(input, *size)


def permute(input, *dims) -> Tensor:
    nd = input.array.ndim
    dims = _sizes(dims, "permute")
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(norm_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1) -> Tensor:
    nd = input.array.ndim
    if nd == 0:
        return input
    d0, d1 = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, tuple(dims))


TENSOR_METHODS = {"reshape": reshape, "view": _view, "expand": expand,
                  "broadcast_to": broadcast_to, "permute": permute, "transpose": transpose}
