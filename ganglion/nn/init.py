"""Parameter initialisation (``torch.nn.init``): every function fills its tensor in place
without recording a graph and returns it, drawing from ganglion's global generator (seeded by
``ganglion.manual_seed``) or from ``generator``.

Formulas are torch's: e.g. ``kaiming_uniform_`` draws from U(-b, b) with
b = gain * sqrt(3 / fan), and fans follow ``_calculate_fan_in_and_fan_out``.

Example:
    >>> import ganglion
    >>> from ganglion.nn import init
    >>> w = init.kaiming_uniform_(ganglion.empty(64, 27))
    >>> bool(w.abs().max() <= (2 ** 0.5) * (3 / 27) ** 0.5)
    True
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.autograd.grad_mode import no_grad
from ganglion.ops.random_fill import rng_of, sample_float
from ganglion.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_", "uniform", "normal", "constant", "eye",
           "dirac", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
           "orthogonal", "sparse"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def _check(tensor, who):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: expected a ganglion Tensor to fill, got "
                        f"{type(tensor).__name__}")


def _write(tensor, arr):
    """Copy the NumPy array ``arr`` into ``tensor`` in place (any device), outside the graph."""
    with no_grad():
        tensor.copy_(_new_tensor(arr))
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch's table).

    linear/conv*/sigmoid: 1, tanh: 5/3, relu: sqrt(2), leaky_relu: sqrt(2 / (1 + slope^2))
    (``param`` is the slope, default 0.01), selu: 3/4.

    Example:
        >>> from ganglion.nn import init
        >>> init.calculate_gain("tanh")
        1.6666666666666667
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or \
                isinstance(param, float):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4  # torch's empirical value (pytorch/pytorch#50664)
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b).

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> bool(init.uniform_(ganglion.empty(100), -0.1, 0.1).abs().max() <= 0.1)
        True
    """
    _check(tensor, "uniform_")
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2).

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.normal_(ganglion.empty(2, 3), std=0.02).shape
        ganglion.Size([2, 3])
    """
    _check(tensor, "normal_")
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def _norm_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _trunc_normal_array(rng, shape, mean, std, a, b):
    """Exact samples of N(mean, std^2) restricted to [a, b], by vectorised rejection."""
    n = int(np.prod(shape))
    p = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    if p > 0.3:  # plain normal proposals: at most ~3.3 rounds expected per element
        out = rng.standard_normal(n) * std + mean
        bad = (out < a) | (out > b)
        while bad.any():
            out[bad] = rng.standard_normal(int(bad.sum())) * std + mean
            bad = (out < a) | (out > b)
        return out.reshape(shape)
    # a narrow window: uniform proposals on [a, b] accepted with the normal density ratio
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2
    out = np.empty(n)
    pending = np.ones(n, dtype=bool)
    while pending.any():
        k = int(pending.sum())
        cand = rng.uniform(a, b, k)
        accept = np.log(rng.random(k)) <= -0.5 * ((cand - mean) / std) ** 2 - log_peak
        idx = np.flatnonzero(pending)
        out[idx[accept]] = cand[accept]
        pending[idx[accept]] = False
    return out.reshape(shape)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] (values outside are redrawn).

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> w = init.trunc_normal_(ganglion.empty(1000), std=0.02, a=-0.04, b=0.04)
        >>> bool(w.abs().max() <= 0.04)
        True
    """
    _check(tensor, "trunc_normal_")
    if a > b:
        raise RuntimeError(f"trunc_normal_: expects a <= b (the range [a, b]), but found "
                           f"a={a} > b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    arr = _trunc_normal_array(rng_of(generator), tuple(tensor.shape), mean, std, a, b)
    return _write(tensor, np.clip(arr.astype(tensor.array.dtype), a, b))


def constant_(tensor, val):
    """Fill with the value ``val``.

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.constant_(ganglion.empty(2), 0.5)
        tensor([0.5000, 0.5000])
    """
    _check(tensor, "constant_")
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    """Fill with ones.

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.ones_(ganglion.empty(2))
        tensor([1., 1.])
    """
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fill with zeros.

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.zeros_(ganglion.empty(2))
        tensor([0., 0.])
    """
    _check(tensor, "zeros_")
    with no_grad():
        return tensor.zero_()


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal).

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.eye_(ganglion.empty(2, 3))
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, np.eye(*tensor.shape, dtype=tensor.array.dtype))


def dirac_(tensor, groups=1):
    """Fill a 3/4/5-D conv weight with the Dirac delta: the conv then passes its input
    channels through (per group).

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> w = init.dirac_(ganglion.empty(2, 2, 3))
        >>> w[:, :, 1]
        tensor([[1., 0.],
                [0., 1.]])
    """
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = sizes[0] // groups
    d = np.arange(min(per_group, sizes[1]))
    out_ch = (np.arange(groups)[:, None] * per_group + d[None, :]).ravel()
    in_ch = np.tile(d, groups)
    arr = np.zeros(sizes, dtype=tensor.array.dtype)
    arr[(out_ch, in_ch) + tuple(s // 2 for s in sizes[2:])] = 1
    return _write(tensor, arr)


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out): size(1) and size(0) times the receptive field (dims 2 and up)."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.size(1) * receptive, tensor.size(0) * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    Paper: Glorot & Bengio 2010, http://proceedings.mlr.press/v9/glorot10a.html

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> bool(init.xavier_uniform_(ganglion.empty(3, 5)).abs().max() <= 0.75 ** 0.5)
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.xavier_normal_(ganglion.empty(3, 5)).shape
        ganglion.Size([3, 5])
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan) (gain from ``nonlinearity`` and ``a``).

    Paper: He et al. 2015, https://arxiv.org/abs/1502.01852

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.kaiming_uniform_(ganglion.empty(4, 3, 3, 3), mode="fan_out").shape
        ganglion.Size([4, 3, 3, 3])
    """
    _check(tensor, "kaiming_uniform_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2), std = gain / sqrt(fan).

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> init.kaiming_normal_(ganglion.empty(4, 3), nonlinearity="relu").shape
        ganglion.Size([4, 3])
    """
    _check(tensor, "kaiming_normal_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain``: QR of a normal draw with the signs
    of R's diagonal folded into Q, as torch does (dims after the first are flattened).

    Paper: Saxe et al. 2013, https://arxiv.org/abs/1312.6120

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> w = init.orthogonal_(ganglion.empty(3, 5))
        >>> bool(((w @ w.t()) - ganglion.eye(3)).abs().max() < 1e-5)
        True
    """
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    npd = tensor.array.dtype if tensor.array.dtype != np.float16 else np.dtype(np.float32)
    flat = sample_float(rng_of(generator), "standard_normal", (rows, cols), npd)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the result uniform over the orthogonal group
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tuple(tensor.shape)).astype(tensor.array.dtype))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-D tensor with N(0, std^2), then zero ``ceil(sparsity * rows)`` random entries
    in every column.

    Paper: Martens 2010, https://www.cs.toronto.edu/~jmartens/docs/Deep_HessianFree.pdf

    Example:
        >>> import ganglion
        >>> from ganglion.nn import init
        >>> w = init.sparse_(ganglion.empty(10, 4), sparsity=0.3)
        >>> (w == 0).sum(0).tolist()
        [3, 3, 3, 3]
    """
    _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tuple(tensor.shape)
    num_zeros = math.ceil(sparsity * rows)
    rng = rng_of(generator)
    arr = sample_float(rng, "standard_normal", (rows, cols), tensor.array.dtype)
    arr *= arr.dtype.type(std)
    # one independent random permutation of the rows per column, all at once
    zero_rows = np.argsort(rng.random((rows, cols)), axis=0)[:num_zeros]
    arr[zero_rows, np.arange(cols)[None, :]] = 0
    return _write(tensor, arr)


def _make_deprecate(meth):
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return meth(*args, **kwargs)

    deprecated_init.__name__ = old_name
    deprecated_init.__doc__ = f"Deprecated alias of :func:`{new_name}`."
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
