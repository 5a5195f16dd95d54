"""Shape and movement ops: ``reshape/view``, ``flatten``, ``squeeze/unsqueeze``, ``permute/
transpose``, ``expand``, ``narrow``, ... Views share memory (and the version counter) with their
input. Joining and splitting (``cat``, ``split``, ...) live in ``movement_join``; copies that
rearrange elements (``repeat``, ``flip``, ``roll``) in ``movement_repeat``; diagonals and
triangles in ``movement_diag``. Their functions and methods are merged into this family.

Example:
    >>> import ganglion
    >>> ganglion.arange(6).reshape(2, 3).t().shape
    ganglion.Size([3, 2])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops import movement_diag as _diag
from ganglion.ops import movement_join as _join
from ganglion.ops import movement_repeat as _repeat
from ganglion.ops.movement_diag import *  # noqa: F401,F403 - merged into this family
from ganglion.ops.movement_join import *  # noqa: F401,F403
from ganglion.ops.movement_repeat import *  # noqa: F401,F403
from ganglion.ops._util import broadcast_view, norm_dim, norm_dims
from ganglion.ops.pad import ConstantPad
from ganglion.tensor import Size, Tensor, _sizes

__all__ = ["reshape", "flatten", "unflatten", "ravel", "squeeze", "unsqueeze", "permute",
           "transpose", "swapaxes", "swapdims", "t", "adjoint", "movedim", "moveaxis", "expand",
           "broadcast_to", "broadcast_tensors", "broadcast_shapes", "narrow",
           *_join.__all__, *_repeat.__all__, *_diag.__all__]

_VIEW_ERR = ("view size is not compatible with input tensor's size and stride (at least one "
             "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")


def _infer_shape(shape, numel, op, in_shape):
    if -1 not in shape:  # fast path: explicit sizes
        n = 1
        for s in shape:
            n *= s
        if n == numel and (not shape or min(shape) >= 0):
            return shape
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


def _reshape_nocopy(x, shape):
    """``x`` reshaped without copying, or None when its strides make a copy necessary."""
    if x.flags.c_contiguous:
        return x.reshape(shape)
    try:
        return x.reshape(shape, copy=False)
    except ValueError:
        return None
    except TypeError:  # array modules without reshape(copy=) (CuPy): the shape setter checks
        v = x.view()
        try:
            v.shape = shape
        except AttributeError:
            return None
        return v


class Reshape(Op):
    """A view when the strides allow it, else a copy (then not a view); ``strict`` (``view``)
    raises instead of copying, as torch's ``view`` does."""

    view = True

    @staticmethod
    def forward(ctx, x, shape, strict=False):
        ctx.in_shape = x.shape
        out = _reshape_nocopy(x, shape)
        if out is None:
            if strict:
                strides = tuple(s // x.itemsize for s in x.strides)
                raise RuntimeError(f"view: {_VIEW_ERR} (input shape {tuple(x.shape)} with "
                                   f"strides {strides}, requested shape {tuple(shape)})")
            ctx.view = False  # a copy: the output must not share the input's version counter
            out = x.reshape(shape)
        return out

    @staticmethod
    def backward(ctx, g):
        return Reshape.apply1(g, ctx.in_shape)

    @staticmethod
    def raw_backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Expand(Op):
    view = True

    @staticmethod
    def forward(ctx, x, shape):
        return broadcast_view(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums the broadcast gradient back to the input's shape

    raw_backward = backward


class Permute(Op):
    view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return Permute.apply1(g, _inverse(ctx.dims))

    @staticmethod
    def raw_backward(ctx, g):
        return g.transpose(_inverse(ctx.dims))


def _inverse(dims) -> tuple:
    """The permutation that undoes ``dims``."""
    if len(dims) == 2:  # transpose: its own inverse
        return dims
    inv = [0] * len(dims)
    for i, d in enumerate(dims):
        inv[d] = i
    return tuple(inv)


# -- reshaping ---------------------------------------------------------------------------------
def reshape(input, *shape) -> Tensor:
    """Same data in a new shape (one size may be -1); a view when possible, else a copy.

    >>> import ganglion
    >>> ganglion.zeros(2, 3).reshape(-1, 2).shape
    ganglion.Size([3, 2])
    """
    shape = _infer_shape(_sizes(shape, "reshape"), input.array.size, "reshape",
                         input.array.shape)
    if shape == input.array.shape and not input._rg:
        return input
    return Reshape.apply1(input, shape)


def _view(self, *shape) -> Tensor:
    """``view(*shape)``: a view with the same data (raises if the strides need a copy);
    ``view(dtype)``: the same bytes read as another dtype.

    >>> import ganglion
    >>> ganglion.zeros(2, 3).view(-1).shape
    ganglion.Size([6])
    """
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, Tensor, np.integer)):
        return _view_dtype(self, shape[0])
    shape = _infer_shape(_sizes(shape, "view"), self.array.size, "view", self.array.shape)
    return Reshape.apply1(self, shape, True)


def _view_dtype(self, dtype) -> Tensor:
    dt = _dt.to_dtype(dtype)
    arr = self.array
    if dt.np == arr.dtype:
        return Reshape.apply1(self, arr.shape)
    src = _dt.DTYPE_OF[arr.dtype]
    if dt.itemsize != arr.itemsize:
        what = f"to view {src} as {dt} (different element sizes)"
        if arr.ndim == 0:
            raise RuntimeError(f"view: self.dim() cannot be 0 {what}")
        if arr.shape[-1] != 1 and arr.strides[-1] != arr.itemsize:
            raise RuntimeError(f"view: self.stride(-1) must be 1 {what}, but got "
                               f"{arr.strides[-1] // arr.itemsize}")
        ratio = dt.itemsize // arr.itemsize
        if ratio > 1 and arr.shape[-1] % ratio:
            raise RuntimeError(f"view: self.size(-1) must be divisible by {ratio} {what}, but "
                               f"got {arr.shape[-1]}")
    # reinterpreting bits is not differentiable: the result is a view without grad_fn
    out = _new_tensor(arr.view(dt.np), vc=self._vc)
    base = getattr(self, "_base", None)
    out._base = self if base is None else base
    return out


def _view_as(self, other) -> Tensor:
    """``self.view(other.size())``.

    >>> import ganglion
    >>> ganglion.zeros(6).view_as(ganglion.zeros(2, 3)).shape
    ganglion.Size([2, 3])
    """
    return _view(self, other.array.shape)


def _reshape_as(self, other) -> Tensor:
    """``self.reshape(other.size())``.

    >>> import ganglion
    >>> ganglion.zeros(6).reshape_as(ganglion.zeros(3, 2)).shape
    ganglion.Size([3, 2])
    """
    return reshape(self, other.array.shape)


def ravel(input) -> Tensor:
    """The elements as a 1-D tensor (a view when possible).

    >>> import ganglion
    >>> ganglion.zeros(2, 3).ravel().shape
    ganglion.Size([6])
    """
    return reshape(input, -1)


def flatten(input, start_dim=0, end_dim=-1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a 0-d input becomes 1-D).

    >>> import ganglion
    >>> ganglion.zeros(2, 3, 4).flatten(1).shape
    ganglion.Size([2, 12])
    """
    shape = input.array.shape
    nd = len(shape)
    if nd == 0:
        return Reshape.apply1(input, (1,))
    s, e = norm_dim(start_dim, nd, "flatten"), norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim cannot come after end_dim "
                           f"(got start_dim={start_dim}, end_dim={end_dim} for shape "
                           f"{tuple(shape)})")
    if s == e:
        return input
    n = 1
    for k in shape[s:e + 1]:
        n *= k
    return Reshape.apply1(input, shape[:s] + (n,) + shape[e + 1:])


def unflatten(input, dim, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one of them may be -1).

    >>> import ganglion
    >>> ganglion.zeros(2, 12).unflatten(1, (3, -1)).shape
    ganglion.Size([2, 3, 4])
    """
    shape = input.array.shape
    d = norm_dim(dim, len(shape), "unflatten")
    sizes = _sizes((sizes,), "unflatten") if isinstance(sizes, (tuple, list)) else \
        _sizes(sizes, "unflatten")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = shape[d] if shape else 1
    try:
        sizes = _infer_shape(sizes, n, "unflatten", shape)
    except RuntimeError:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor of shape "
                           f"{tuple(shape)}") from None
    return Reshape.apply1(input, shape[:d] + sizes + shape[d + 1:])


def squeeze(input, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or those among ``dim``: an int or a tuple).

    >>> import ganglion
    >>> ganglion.zeros(2, 1, 3, 1).squeeze().shape
    ganglion.Size([2, 3])
    """
    shape = input.array.shape
    dims = norm_dims(dim, len(shape), "squeeze")
    new = tuple(s for i, s in enumerate(shape) if not (s == 1 and i in dims))
    return Reshape.apply1(input, new)


def unsqueeze(input, dim) -> Tensor:
    """Insert a size-1 dim at ``dim`` (range ``[-ndim-1, ndim]``).

    >>> import ganglion
    >>> ganglion.zeros(2, 3).unsqueeze(-1).shape
    ganglion.Size([2, 3, 1])
    """
    shape = input.array.shape
    d = norm_dim(dim, len(shape) + 1, "unsqueeze")
    return Reshape.apply1(input, shape[:d] + (1,) + shape[d:])


# -- reordering dims ---------------------------------------------------------------------------
def permute(input, *dims) -> Tensor:
    """A view with the dims reordered.

    >>> import ganglion
    >>> ganglion.zeros(2, 3, 4).permute(2, 0, 1).shape
    ganglion.Size([4, 2, 3])
    """
    nd = input.array.ndim
    dims = _sizes(dims, "permute")
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(norm_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return Permute.apply1(input, dims)


def transpose(input, dim0, dim1) -> Tensor:
    """A view with dims ``dim0`` and ``dim1`` swapped.

    >>> import ganglion
    >>> ganglion.zeros(2, 3, 4).transpose(0, -1).shape
    ganglion.Size([4, 3, 2])
    """
    nd = input.array.ndim
    d0, d1 = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    if nd:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply1(input, tuple(dims))


def swapaxes(input, axis0, axis1) -> Tensor:
    """Alias of ``transpose`` (NumPy's name).

    >>> import ganglion
    >>> ganglion.zeros(2, 3).swapaxes(0, 1).shape
    ganglion.Size([3, 2])
    """
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1) -> Tensor:
    """Alias of ``transpose``.

    >>> import ganglion
    >>> ganglion.zeros(2, 3).swapdims(0, 1).shape
    ganglion.Size([3, 2])
    """
    return transpose(input, dim0, dim1)


def t(input) -> Tensor:
    """Transpose of a tensor with at most 2 dims (0-d and 1-d come back as they are).

    >>> import ganglion
    >>> ganglion.zeros(2, 3).t().shape
    ganglion.Size([3, 2])
    """
    nd = input.array.ndim
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D "
                           f"(shape {tuple(input.array.shape)}); use transpose(dim0, dim1) or .mT")
    return transpose(input, 0, nd - 1) if nd == 2 else Permute.apply1(input, tuple(range(nd)))


def _T(self) -> Tensor:
    """``x.T``: all dims reversed (meant for matrices; prefer ``mT`` for batches).

    >>> import ganglion
    >>> ganglion.zeros(2, 3).T.shape
    ganglion.Size([3, 2])
    """
    nd = self.array.ndim
    return Permute.apply1(self, tuple(range(nd - 1, -1, -1)))


def _mT(self, name="mT") -> Tensor:
    """``x.mT``: the last two dims swapped (a batch of transposed matrices).

    >>> import ganglion
    >>> ganglion.zeros(5, 2, 3).mT.shape
    ganglion.Size([5, 3, 2])
    """
    nd = self.array.ndim
    if nd < 2:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of matrices. "
                           f"Got {nd}-D tensor.")
    return transpose(self, -2, -1)


def _H(self) -> Tensor:
    """``x.H``: conjugate transpose of a matrix (the transpose, for real dtypes)."""
    nd = self.array.ndim
    if nd not in (0, 2):
        hint = " For batches of matrices, consider using tensor.mH" if nd > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {nd}-D "
                           f"tensor.{hint}")
    return _T(self)  # real dtypes only: the conjugate is the tensor itself


def _mH(self) -> Tensor:
    """``x.mH``: conjugate transpose of the last two dims (``mT`` for real dtypes)."""
    return _mT(self, "mH")


def adjoint(input) -> Tensor:
    """Conjugate transpose of the last two dims (for real tensors: ``.mT``).

    >>> import ganglion
    >>> ganglion.zeros(5, 2, 3).adjoint().shape
    ganglion.Size([5, 3, 2])
    """
    return _mT(input, "adjoint()")


def _dim_list(dims, nd, op, what):
    dims = (dims,) if not isinstance(dims, (tuple, list)) else tuple(dims)
    out = tuple(norm_dim(d, nd, op) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: repeated dim in `{what}` ({list(dims)})")
    return out


def movedim(input, source, destination) -> Tensor:
    """Move dims ``source`` to positions ``destination`` (ints or tuples); the rest keep order.

    >>> import ganglion
    >>> ganglion.zeros(2, 3, 4).movedim(0, -1).shape
    ganglion.Size([3, 4, 2])
    """
    nd = input.array.ndim
    src = _dim_list(source, nd, "movedim", "source")
    dst = _dim_list(destination, nd, "movedim", "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    order = [d for d in range(nd) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply1(input, tuple(order))


def moveaxis(input, source, destination) -> Tensor:
    """Alias of ``movedim`` (NumPy's name).

    >>> import ganglion
    >>> ganglion.zeros(2, 3, 4).moveaxis(-1, 0).shape
    ganglion.Size([4, 2, 3])
    """
    return movedim(input, source, destination)


# -- broadcasting ------------------------------------------------------------------------------
def expand(input, *sizes) -> Tensor:
    """A broadcast view with new sizes (-1 keeps a dim; new leading dims may be added).

    >>> import ganglion
    >>> ganglion.zeros(3, 1).expand(2, -1, 4).shape
    ganglion.Size([2, 3, 4])
    """
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
        elif s < 0:
            raise RuntimeError(f"expand: invalid size {s} in {list(sizes)}")
        out.append(s)
    out = tuple(out)
    if out == shape:
        return input
    return Expand.apply1(input, out)


def _expand_as(self, other) -> Tensor:
    """``self.expand(other.size())``.

    >>> import ganglion
    >>> ganglion.zeros(3, 1).expand_as(ganglion.zeros(3, 4)).shape
    ganglion.Size([3, 4])
    """
    return expand(self, other.array.shape)


def broadcast_to(input, size) -> Tensor:
    """``input.expand(size)``.

    >>> import ganglion
    >>> ganglion.broadcast_to(ganglion.zeros(3), (2, 3)).shape
    ganglion.Size([2, 3])
    """
    return expand(input, *size)


def broadcast_shapes(*shapes) -> Size:
    """The shape that tensors of ``shapes`` broadcast to (an int stands for a 1-D shape).

    >>> import ganglion
    >>> ganglion.broadcast_shapes((2, 1), (3,), 1)
    ganglion.Size([2, 3])
    """
    shapes = [(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]
    out = [1] * max((len(s) for s in shapes), default=0)
    for k, s in enumerate(shapes):
        for i in range(1, len(s) + 1):
            n = int(s[-i])
            if n < 0:
                raise RuntimeError(f"broadcast_shapes: Trying to create tensor with negative "
                                   f"dimension {n}: {list(s)}")
            if out[-i] == 1:
                out[-i] = n
            elif n != 1 and n != out[-i]:
                raise RuntimeError(f"broadcast_shapes: Shape mismatch: objects cannot be "
                                   f"broadcast to a single shape. Attempting to broadcast a "
                                   f"dimension of length {n} at {-i}! Mismatching argument at "
                                   f"index {k} had {s}; but expected shape should be "
                                   f"broadcastable to {out}")
    return Size(out)


def broadcast_tensors(*tensors) -> tuple:
    """Expand all tensors to their common broadcast shape (views).

    >>> import ganglion
    >>> [t.shape for t in ganglion.broadcast_tensors(ganglion.zeros(2, 1), ganglion.zeros(3))]
    [ganglion.Size([2, 3]), ganglion.Size([2, 3])]
    """
    shape = broadcast_shapes(*(t.array.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


# -- narrowing ---------------------------------------------------------------------------------
def narrow(input, dim, start, length) -> Tensor:
    """The view ``input[..., start:start + length, ...]`` along ``dim`` (``start`` may be < 0).

    >>> import ganglion
    >>> ganglion.arange(6).narrow(0, 1, 3)
    tensor([1, 2, 3])
    """
    shape = input.array.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, len(shape), "narrow")
    n = shape[d]
    start, length = int(start), int(length)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], "
                         f"but got {start})")
    start = start + n if start < 0 else start
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}.")
    if start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                           f"({n}) of dim {dim} (input shape {tuple(shape)}).")
    pads = [(0, 0)] * len(shape)
    pads[d] = (-start, start + length - n)
    return ConstantPad.apply(input, tuple(pads), 0, True)


TENSOR_METHODS = {
    "reshape": reshape, "view": _view, "view_as": _view_as, "reshape_as": _reshape_as,
    "ravel": ravel, "flatten": flatten, "unflatten": unflatten, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "permute": permute, "transpose": transpose, "swapaxes": swapaxes,
    "swapdims": swapdims, "t": t, "adjoint": adjoint, "movedim": movedim, "moveaxis": moveaxis,
    "expand": expand, "expand_as": _expand_as, "broadcast_to": broadcast_to, "narrow": narrow,
    "T": property(_T), "mT": property(_mT), "H": property(_H),
    "mH": property(_mH),
}
for _mod in (_join, _repeat, _diag):
    TENSOR_METHODS.update(_mod.TENSOR_METHODS)
