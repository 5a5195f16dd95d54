"""Index-along-a-dim ops: ``gather``, ``scatter`` (src or value), ``scatter_add``,
``scatter_reduce`` (sum, prod, mean, amax, amin), ``take_along_dim``, ``index_select``,
``index_add``, ``index_copy``, ``index_fill``. In-place forms (``scatter_``, ``index_add_``, ...)
are derived in ``ganglion/ops/__init__.py``.

Every write addresses ``out[i0, .., index[i0, .., in], .., in]`` through one fancy key built from
broadcast aranges (no Python loop over elements); repeated indices accumulate with the unbuffered
``xp.<ufunc>.at``. Backward rules are built from these same ops (gather <-> scatter_add,
index_select <-> index_add), so second derivatives work.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([[1., 2.], [3., 4.]])
    >>> x.gather(1, ganglion.tensor([[1, 1], [0, 1]]))
    tensor([[2., 2.],
            [3., 4.]])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim
from ganglion.ops.indexing_core import IndexGrad
from ganglion.tensor import Tensor

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "take_along_dim",
           "index_select", "index_add", "index_copy", "index_fill"]

_INT_INDEX = (np.dtype(np.int64), np.dtype(np.int32))
_NUMBER = (int, float, bool, np.number, np.bool_)


# -- helpers ---------------------------------------------------------------------------------
def _positions(xp, idx, dim):
    """Fancy key that addresses ``(i0, .., idx[i0, .., in], .., in)`` for every element of idx."""
    key = []
    for d, n in enumerate(idx.shape):
        if d == dim:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _lead(arr, shape):
    """``arr[:shape[0], :shape[1], ...]`` (torch reads src only where index has elements)."""
    if arr.shape == tuple(shape):
        return arr
    return arr[tuple(slice(0, n) for n in shape)]


def _as_nd(arr):
    return arr.reshape(1) if arr.ndim == 0 else arr


def _check_bounds(idx, size, dim, exc=RuntimeError, op=None):
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = idx[(idx < 0) | (idx >= size)].ravel()[0]
        where = f"{op}(): " if op else ""
        raise exc(f"{where}index {bad} is out of bounds for dimension {dim} with size {size}")


def _check_index_dtype(index, op):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.array.dtype not in _INT_INDEX:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype}")
    return index.array


def _check_gather_shapes(x, dim, idx, src, op):
    """torch's gather/scatter shape rules: same ndim; index no larger than self except at dim
    and no larger than src anywhere. 0-d tensors count as 1-d."""
    xs, ishape = x.shape or (1,), idx.shape or (1,)
    if len(ishape) != len(xs):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index shape {tuple(idx.shape)}, input shape "
                           f"{tuple(x.shape)})")
    if src is not None and len(src.shape or (1,)) != len(xs):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"src tensor (index shape {tuple(idx.shape)}, src shape "
                           f"{tuple(src.shape)})")
    if idx.size == 0:
        return
    ss = (src.shape or (1,)) if src is not None else None
    for d, n in enumerate(ishape):
        if (d != dim and n > xs[d]) or (ss is not None and n > ss[d]):
            extra = f" and to be no larger size than src {list(ss)}" if ss is not None else ""
            raise RuntimeError(f"{op}(): Size does not match at dimension {d}: expected index "
                               f"{list(ishape)} to be no larger than self {list(xs)} apart "
                               f"from dimension {dim}{extra}")
    _check_bounds(idx, xs[dim], dim, op=op)


def _pad_grad(gs: Tensor, shape) -> Tensor:
    """A src gradient ``gs`` (index-shaped) placed in zeros of src's ``shape``."""
    if tuple(gs.shape) == tuple(shape):
        return gs
    lead = tuple(slice(0, n) for n in gs.shape) + (Ellipsis,)
    return IndexGrad.apply(gs, tuple(shape), lead, None)


def _zeros(shape, like):
    return get_array_module(like).zeros(shape, like.dtype)


# -- ops -------------------------------------------------------------------------------------
class Gather(Op):
    """``out[i..] = x[i0, .., idx[i..], .., in]``; backward: scatter_add into zeros."""

    @staticmethod
    def forward(ctx, x, dim, idx):
        ctx.shape, ctx.dim, ctx.idx = x.shape, dim, idx
        out = _as_nd(x)[_positions(get_array_module(x), _as_nd(idx), dim)]
        return out.reshape(idx.shape)

    @staticmethod
    def backward(ctx, g):
        return ScatterAdd.apply(_zeros(ctx.shape, g.array), g, ctx.dim, ctx.idx)


class ScatterAdd(Op):
    """``x`` with ``src`` added at the gathered positions (repeats sum)."""

    @staticmethod
    def forward(ctx, x, src, dim, idx):
        ctx.dim, ctx.idx, ctx.src_shape = dim, idx, src.shape
        out = _as_nd(x).copy()
        i = _as_nd(idx)
        get_array_module(x).add.at(out, _positions(get_array_module(x), i, dim),
                                   _lead(_as_nd(src), i.shape))
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = _pad_grad(Gather.apply(g, ctx.dim, ctx.idx), ctx.src_shape)
        return g, gsrc


class Scatter(Op):
    """``x`` with ``src`` (or a 0-d value) written at the gathered positions (last write wins,
    like torch's CPU kernel; torch leaves repeats undefined)."""

    @staticmethod
    def forward(ctx, x, src, dim, idx):
        ctx.dim, ctx.idx, ctx.src_shape = dim, idx, src.shape
        out = _as_nd(x).copy()
        i = _as_nd(idx)
        v = src if src.ndim == 0 else _lead(_as_nd(src), i.shape)
        out[_positions(get_array_module(x), i, dim)] = v
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_src = ctx.needs_input_grad[:2]
        gx = gsrc = None
        if need_x:
            gx = Scatter.apply(g, _zeros((), g.array), ctx.dim, ctx.idx)
        if need_src:
            gsrc = Gather.apply(g, ctx.dim, ctx.idx)
            gsrc = gsrc if len(ctx.src_shape) == 0 else _pad_grad(gsrc, ctx.src_shape)
        return gx, gsrc


class IndexSelect(Op):
    """Slices ``idx`` (1-D) of ``x`` along ``dim``; backward: index_add into zeros."""

    @staticmethod
    def forward(ctx, x, dim, idx):
        ctx.shape, ctx.dim, ctx.idx = x.shape, dim, idx
        out = get_array_module(x).take(_as_nd(x), idx.reshape(-1), axis=dim)
        return out.reshape(()) if x.ndim == 0 else out

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(_zeros(ctx.shape, g.array), g, ctx.dim, ctx.idx, 1)


class IndexAdd(Op):
    """``x`` with ``alpha * src`` added at slices ``idx`` along ``dim`` (repeats sum)."""

    @staticmethod
    def forward(ctx, x, src, dim, idx, alpha):
        ctx.dim, ctx.idx, ctx.alpha = dim, idx, alpha
        xp = get_array_module(x)
        out = _as_nd(x).copy()
        s = _as_nd(src) if alpha == 1 else _as_nd(src) * xp.asarray(alpha, dtype=x.dtype)
        xp.add.at(xp.moveaxis(out, dim, 0), idx.reshape(-1), xp.moveaxis(s, dim, 0))
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        gsrc = None
        if ctx.needs_input_grad[1]:
            gsrc = IndexSelect.apply(g, ctx.dim, ctx.idx)
            gsrc = gsrc if ctx.alpha == 1 else gsrc * ctx.alpha
        return g, gsrc


class IndexCopy(Op):
    """``x`` with slices ``idx`` along ``dim`` replaced by ``src`` (a 0-d src fills them)."""

    @staticmethod
    def forward(ctx, x, src, dim, idx):
        ctx.dim, ctx.idx, ctx.src_ndim = dim, idx, src.ndim
        xp = get_array_module(x)
        out = _as_nd(x).copy()
        v = src if src.ndim == 0 else xp.moveaxis(_as_nd(src), dim, 0)
        xp.moveaxis(out, dim, 0)[idx.reshape(-1)] = v
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_src = ctx.needs_input_grad[:2]
        gx = IndexCopy.apply(g, _zeros((), g.array), ctx.dim, ctx.idx)
        if not need_src:
            gsrc = None
        elif ctx.src_ndim == 0:  # a fill value: every filled position once, even if repeated
            gsrc = (g - gx).sum()
        else:
            gsrc = IndexSelect.apply(g, ctx.dim, ctx.idx)
        return (gx if need_x else None), gsrc


_REDUCE_UFUNC = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum",
                 "amin": "minimum"}


def _identity(reduce, dtype):
    """The value a scattered position starts from when include_self=False."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return reduce == "amin"
    return info.min if reduce == "amax" else info.max


def _scatter_reduce_raw(x, src, dim, idx, reduce, include_self):
    """The forward of scatter_reduce on arrays; also returns the per-position counts for mean."""
    xp = get_array_module(x)
    out = _as_nd(x).copy()
    i = _as_nd(idx)
    key = _positions(xp, i, dim)
    if not include_self:
        out[key] = _identity(reduce, out.dtype)
    getattr(xp, _REDUCE_UFUNC[reduce]).at(out, key, _lead(_as_nd(src), i.shape))
    count = None
    if reduce == "mean":
        count = xp.full(out.shape, 1 if include_self else 0, dtype=out.dtype)
        xp.add.at(count, key, 1)
        count[count == 0] = 1
        out = out / count if out.dtype.kind == "f" else out // count  # torch floors int means
    return out.reshape(x.shape), count


class ScatterReduce(Op):
    """torch's ``scatter_reduce``; gradients follow torch's rules (amax/amin split the gradient
    evenly between tied maxima/minima, including ``self`` when it is one of them)."""

    @staticmethod
    def forward(ctx, x, src, dim, idx, reduce, include_self):
        ctx.dim, ctx.idx, ctx.reduce, ctx.include_self = dim, idx, reduce, include_self
        out, count = _scatter_reduce_raw(x, src, dim, idx, reduce, include_self)
        ctx.count = None if count is None else count.reshape(x.shape)
        ctx.save_for_backward(x, src, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, src, out = ctx.saved_tensors
        dim, idx, reduce = ctx.dim, ctx.idx, ctx.reduce
        if reduce == "sum":
            gx, gsrc = g, Gather.apply(g, dim, idx)
        elif reduce == "mean":
            gx = g / _const(ctx.count)
            gsrc = Gather.apply(gx, dim, idx)
        elif reduce in ("amax", "amin"):
            value = Gather.apply(out, dim, idx)
            src_l = _lead_t(src, idx.shape)
            x_is, src_is = (x == out).to(g.dtype), (src_l == value).to(g.dtype)
            share = g / ScatterAdd.apply(x_is, src_is, dim, idx)
            gx = x_is * share
            gsrc = src_is * Gather.apply(share, dim, idx)
        else:
            gx, gsrc = _prod_grads(g, x, src, out, dim, idx, ctx.include_self)
        if not ctx.include_self:
            gx = Scatter.apply(gx, _zeros((), g.array), dim, idx)
        gsrc = _pad_grad(gsrc, src.shape)
        return gx, gsrc


def _const(arr) -> Tensor:
    from ganglion.autograd.function import _new_tensor  # noqa: PLC0415 - internal constructor

    return _new_tensor(arr)


def _lead_t(t: Tensor, shape) -> Tensor:
    if tuple(t.shape) == tuple(shape):
        return t
    return t[tuple(slice(0, n) for n in shape)]


def _prod_grads(g, x, src, out, dim, idx, include_self):
    """torch's prod rule: exclusive products, exact where one factor is 0."""
    src = _lead_t(src, idx.shape)
    masked_x = x.masked_fill(x == 0, 1)
    masked_x_out = ScatterReduce.apply(masked_x, src, dim, idx, "prod", include_self)
    gx = g * masked_x_out / masked_x
    src_zero = src == 0
    n_zero = Gather.apply(ScatterAdd.apply(_zeros(x.shape, x.array), src_zero.to(x.dtype),
                                           dim, idx), dim, idx)
    single_zero = src_zero & (n_zero == 1)
    masked_src_out = ScatterReduce.apply(x, src.masked_fill(single_zero, 1), dim, idx, "prod",
                                         include_self)
    gsrc = Gather.apply(g * masked_src_out, dim, idx).where(
        single_zero, Gather.apply(g * out, dim, idx) / src.masked_fill(src_zero, 1))
    return gx, gsrc


# -- public functions ------------------------------------------------------------------------
def gather(input, dim, index, *, sparse_grad=False, out=None) -> Tensor:
    """Values of ``input`` along ``dim`` at ``index``: ``out[i][j] = input[i][index[i][j]]``
    for ``dim=1``. ``index`` has input's number of dims and is no larger except at ``dim``.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., 2.], [3., 4.]]).gather(0, ganglion.tensor([[1, 0]]))
        tensor([[3., 2.]])
    """
    idx = _check_index_dtype(index, "gather")
    d = norm_dim(dim, input.array.ndim, "gather")
    _check_gather_shapes(input.array, d, idx, None, "gather")
    return Gather.apply(input, d, idx)


def _scatter_args(input, dim, index, src, op):
    idx = _check_index_dtype(index, op)
    d = norm_dim(dim, input.array.ndim, op)
    if isinstance(src, Tensor):
        if src.array.dtype != input.array.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype (got "
                               f"{input.dtype} and {src.dtype})")
        _check_gather_shapes(input.array, d, idx, src.array, op)
    else:
        _check_gather_shapes(input.array, d, idx, None, op)
    return d, idx


def scatter(input, dim, index, src=None, *, value=None, reduce=None) -> Tensor:
    """``input`` with ``src`` (a tensor, or a number ``value``) written at ``index`` along
    ``dim``: ``out[i][index[i][j]] = src[i][j]`` for ``dim=1``. ``reduce='add'|'multiply'``
    combines instead of overwriting (not differentiable, as in torch).

    Example:
        >>> import ganglion
        >>> ganglion.zeros(2, 3).scatter(1, ganglion.tensor([[2], [0]]), 1.0)
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
    """
    if src is None:
        src = value
    if src is None or (src is not None and value is not None and src is not value):
        raise TypeError("scatter(): pass exactly one of 'src' (a Tensor) or 'value' (a number)")
    d, idx = _scatter_args(input, dim, index, src, "scatter")
    if not isinstance(src, Tensor):
        if not isinstance(src, _NUMBER):
            raise TypeError(f"scatter(): argument 'src' must be Tensor or a number, not "
                            f"{type(src).__name__}")
        src = get_array_module(input.array).asarray(src, dtype=input.array.dtype)
    if reduce is None:
        return Scatter.apply(input, src, d, idx)
    modes = {"add": "sum", "multiply": "prod"}
    if reduce not in modes:
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    if (input._rg or getattr(src, "_rg", False)) and _grad_enabled():
        raise RuntimeError("scatter(): the derivative for 'scatter' with reduce is not "
                           "implemented; use scatter_reduce (differentiable) instead.")
    arr = src.array if isinstance(src, Tensor) else get_array_module(idx).broadcast_to(
        src, idx.shape)
    out, _ = _scatter_reduce_raw(input.array, arr, d, idx, modes[reduce], True)
    return _const(out)


def _grad_enabled() -> bool:
    from ganglion.autograd.grad_mode import STATE  # noqa: PLC0415

    return STATE.enabled


def scatter_add(input, dim, index, src) -> Tensor:
    """``input`` with ``src`` added at ``index`` along ``dim``; repeated indices sum.

    Example:
        >>> import ganglion
        >>> ganglion.zeros(3).scatter_add(0, ganglion.tensor([0, 0, 2]), ganglion.ones(3))
        tensor([2., 0., 1.])
    """
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not "
                        f"{type(src).__name__}")
    d, idx = _scatter_args(input, dim, index, src, "scatter_add")
    return ScatterAdd.apply(input, src, d, idx)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True) -> Tensor:
    """Reduce ``src`` into ``input`` at ``index`` along ``dim`` with ``reduce`` in ``'sum'``,
    ``'prod'``, ``'mean'``, ``'amax'``, ``'amin'``; ``include_self=False`` leaves input's
    values at scattered positions out of the reduction.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([5., 0., 0.])
        >>> x.scatter_reduce(0, ganglion.tensor([0, 0, 1]), ganglion.tensor([1., 2., 3.]), "amax")
        tensor([5., 3., 0.])
    """
    if reduce not in _REDUCE_UFUNC:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, "
                           f"amax or amin, got {reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not "
                        f"{type(src).__name__}")
    d, idx = _scatter_args(input, dim, index, src, "scatter_reduce")
    return ScatterReduce.apply(input, src, d, idx, reduce, bool(include_self))


def take_along_dim(input, indices, dim=None, *, out=None) -> Tensor:
    """``gather`` with input and indices broadcast against each other except along ``dim``;
    with ``dim=None`` both are flattened.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[10., 30., 20.], [60., 40., 50.]])
        >>> ganglion.take_along_dim(x, ganglion.tensor([[1], [0]]), dim=1)
        tensor([[30.],
                [60.]])
    """
    if not isinstance(indices, Tensor) or indices.array.dtype != np.int64:
        got = indices.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise RuntimeError(f"take_along_dim(): dtype of indices should be int64 but got {got}")
    idx = indices.array
    if dim is None:
        flat = input.reshape(-1)
        _check_bounds(idx, flat.array.size, 0, op="take_along_dim")
        return Gather.apply(flat, 0, idx.reshape(-1))
    nd = input.array.ndim
    if idx.ndim != nd:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number "
                           f"of dimensions, but got {nd} dimensions for input, and {idx.ndim} "
                           f"dimensions for indices")
    d = norm_dim(dim, nd, "take_along_dim")
    xs, ishape = list(input.array.shape), list(idx.shape)
    try:
        b = list(np.broadcast_shapes(tuple(xs[:d] + [1] + xs[d + 1:]),
                                     tuple(ishape[:d] + [1] + ishape[d + 1:])))
    except ValueError:
        raise RuntimeError(f"take_along_dim(): input of shape {tuple(xs)} and indices of shape "
                           f"{tuple(ishape)} cannot be broadcast outside dim {d}") from None
    x = input.expand(*(b[:d] + [xs[d]] + b[d + 1:])) if nd else input
    i = get_array_module(idx).broadcast_to(idx, tuple(b[:d] + [ishape[d]] + b[d + 1:]))
    _check_bounds(i, xs[d] if nd else 1, d, op="take_along_dim")
    return Gather.apply(x, d, i)


def _index_vec(input, dim, index, op, exc):
    """(dim, index array) for the index_* ops: a 0-d or 1-D int32/int64 index in range."""
    idx = _check_index_dtype(index, op)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector/scalar, got shape "
                         f"{tuple(idx.shape)}")
    d = norm_dim(dim, input.array.ndim, op)
    size = input.array.shape[d] if input.array.ndim else 1
    _check_bounds(idx, size, d, exc, op)
    return d, idx


def _check_source(input, d, idx, source, op, exc=RuntimeError):
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): argument 'source' must be Tensor, not {type(source).__name__}")
    if source.array.dtype != input.array.dtype:
        raise RuntimeError(f"{op}(): self ({input.dtype}) and source ({source.dtype}) must have "
                           f"the same scalar type")
    xs, ss = input.array.shape or (1,), source.array.shape or (1,)
    if len(ss) != len(xs) or ss[d] != idx.size or any(
            a != b for k, (a, b) in enumerate(zip(xs, ss)) if k != d):
        raise exc(f"{op}(): Number of indices ({idx.size}) should be equal to source.size(dim) "
                  f"and source {tuple(source.shape)} should match self {tuple(input.shape)} "
                  f"outside dim {d}")


def index_select(input, dim, index, *, out=None) -> Tensor:
    """The slices of ``input`` along ``dim`` at ``index`` (a 1-D int tensor; repeats allowed).

    Example:
        >>> import ganglion
        >>> ganglion.arange(6.).reshape(2, 3).index_select(1, ganglion.tensor([2, 0, 2]))
        tensor([[2., 0., 2.],
                [5., 3., 5.]])
    """
    d, idx = _index_vec(input, dim, index, "index_select", RuntimeError)
    if input.array.ndim == 0 and idx.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{idx.size} value(s)")
    return IndexSelect.apply(input, d, idx)


def index_add(input, dim, index, source, *, alpha=1, out=None) -> Tensor:
    """``input`` with ``alpha * source`` added at the slices ``index`` along ``dim``; repeated
    indices accumulate.

    Example:
        >>> import ganglion
        >>> ganglion.zeros(3, 2).index_add(0, ganglion.tensor([0, 0]), ganglion.ones(2, 2))
        tensor([[2., 2.],
                [0., 0.],
                [0., 0.]])
    """
    d, idx = _index_vec(input, dim, index, "index_add", RuntimeError)
    _check_source(input, d, idx, source, "index_add")
    return IndexAdd.apply(input, source, d, idx, alpha)


def index_copy(input, dim, index, source) -> Tensor:
    """``input`` with the slices ``index`` along ``dim`` replaced by ``source``'s slices.

    Example:
        >>> import ganglion
        >>> ganglion.zeros(2, 3).index_copy(1, ganglion.tensor([2]), ganglion.ones(2, 1))
        tensor([[0., 0., 1.],
                [0., 0., 1.]])
    """
    d, idx = _index_vec(input, dim, index, "index_copy", IndexError)
    _check_source(input, d, idx, source, "index_copy", IndexError)
    return IndexCopy.apply(input, source, d, idx)


def index_fill(input, dim, index, value) -> Tensor:
    """``input`` with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-d
    tensor, which then gets a gradient).

    Example:
        >>> import ganglion
        >>> ganglion.zeros(2, 3).index_fill(1, ganglion.tensor([0, 2]), 7.0)
        tensor([[7., 0., 7.],
                [7., 0., 7.]])
    """
    d, idx = _index_vec(input, dim, index, "index_fill", IndexError)
    if isinstance(value, Tensor):
        if value.array.ndim != 0:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.array.ndim} dimension(s).")
        v = value if value.array.dtype == input.array.dtype else value.to(input.dtype)
    else:
        v = get_array_module(input.array).asarray(value, dtype=input.array.dtype)
    return IndexCopy.apply(input, v, d, idx)


TENSOR_METHODS = {"gather": gather, "scatter": scatter, "scatter_add": scatter_add,
                  "scatter_reduce": scatter_reduce, "take_along_dim": take_along_dim,
                  "index_select": index_select, "index_add": index_add,
                  "index_copy": index_copy, "index_fill": index_fill}
