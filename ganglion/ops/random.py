"""Op family 'random': sampling (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``,
``bernoulli``, ``multinomial``, ``poisson`` and the ``*_like`` forms), the in-place fills
(``Tensor.uniform_``, ``normal_``, ``bernoulli_``, ``exponential_``, ``random_``,
``geometric_``, ``log_normal_``, ``cauchy_``) and, in ``random_dropout``, dropout.

Every draw comes from ``generator.numpy`` (a NumPy ``Generator``) of the ``generator=``
argument or of ``ganglion.default_generator``, so ``manual_seed`` makes it reproducible. The
values differ from torch's (another bit generator); the distributions are the same. float32
samples are drawn in float32 (no float64 temporaries). As in torch, a sample is not
differentiable in its parameters: gradients through it are zero.

Example:
    >>> import ganglion
    >>> _ = ganglion.manual_seed(0)
    >>> a = ganglion.rand(2, 3)
    >>> _ = ganglion.manual_seed(0)
    >>> bool((a == ganglion.rand(2, 3)).all()), a.dtype
    (True, ganglion.float32)
"""
from __future__ import annotations

import numpy as np

from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops.creation import finalize
from ganglion.ops.random_fill import FILL_METHODS, Sampled, rng_of, sample_float
from ganglion.ops.random_dropout import (alpha_dropout, dropout, dropout1d, dropout2d,
                                         dropout3d, feature_alpha_dropout)
from ganglion.ops.random_multinomial import multinomial
from ganglion.tensor import Tensor, _sizes

__all__ = ["rand", "randn", "randint", "rand_like", "randn_like", "randint_like", "randperm",
           "normal", "bernoulli", "multinomial", "poisson", "dropout", "alpha_dropout",
           "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d"]


def _float_dtype(dtype, op):
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if not dt.is_floating_point:
        raise RuntimeError(f"{op}: \"check_uniform_bounds\" not implemented for '{dt}'; {op} "
                           f"draws floating point values, pass a floating dtype")
    return dt


def _shape(size, op):
    shape = _sizes(size, op)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension: "
                           f"{list(shape)}")
    return shape


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False) -> Tensor:
    """Uniform samples on [0, 1).

    Example:
        >>> import ganglion
        >>> ganglion.rand(2, 3).shape
        ganglion.Size([2, 3])
    """
    dt = _float_dtype(dtype, "rand")
    arr = sample_float(rng_of(generator), "random", _shape(size, "rand"), dt.np)
    return finalize(arr, device, requires_grad)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False) -> Tensor:
    """Standard normal samples.

    Example:
        >>> import ganglion
        >>> ganglion.randn(4, dtype=ganglion.float64).dtype
        ganglion.float64
    """
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if not dt.is_floating_point:
        raise RuntimeError(f"randn: \"normal_kernel_cpu\" not implemented for '{dt}'; pass a "
                           f"floating dtype")
    arr = sample_float(rng_of(generator), "standard_normal", _shape(size, "randn"), dt.np)
    return finalize(arr, device, requires_grad)


def _int_bounds(low, high, size, op):
    """torch's forms: (high, size) or (low, high, size)."""
    if size is None:
        if high is None:
            raise TypeError(f"{op}() missing the 'size' argument: use {op}(high, size) or "
                            f"{op}(low, high, size)")
        low, high, size = 0, low, high
    low, high = int(low), int(high)
    if low >= high:
        raise RuntimeError(f"{op}: random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    return low, high, size


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None,
            device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)``; int64 unless ``dtype`` says otherwise.

    Example:
        >>> import ganglion
        >>> x = ganglion.randint(3, 10, (5,))
        >>> x.dtype, bool(((x >= 3) & (x < 10)).all())
        (ganglion.int64, True)
    """
    low, high, size = _int_bounds(low, high, size, "randint")
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    arr = rng_of(generator).integers(low, high, _shape((size,), "randint"), dtype=np.int64)
    return finalize(arr.astype(dt.np, copy=False), device, requires_grad)


def _like_dtype(input, dtype):
    return _dt.to_dtype(dtype) if dtype is not None else input.dtype


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None, generator=None) -> Tensor:
    """``rand`` with the shape (and by default the dtype) of ``input``.

    Example:
        >>> import ganglion
        >>> ganglion.rand_like(ganglion.zeros(2, dtype=ganglion.float64)).dtype
        ganglion.float64
    """
    return rand(tuple(input.shape), generator=generator, dtype=_like_dtype(input, dtype),
                device=device or input.device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None, generator=None) -> Tensor:
    """``randn`` with the shape (and by default the dtype) of ``input``.

    Example:
        >>> import ganglion
        >>> ganglion.randn_like(ganglion.zeros(2, 3)).shape
        ganglion.Size([2, 3])
    """
    return randn(tuple(input.shape), generator=generator, dtype=_like_dtype(input, dtype),
                 device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad=False, memory_format=None, generator=None) -> Tensor:
    """``randint`` with the shape and dtype of ``input``: ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``.

    Example:
        >>> import ganglion
        >>> ganglion.randint_like(ganglion.zeros(3), 5).dtype
        ganglion.float32
    """
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator,
                   dtype=_like_dtype(input, dtype), device=device or input.device,
                   requires_grad=requires_grad)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` says otherwise).

    Example:
        >>> import ganglion
        >>> sorted(ganglion.randperm(5).tolist())
        [0, 1, 2, 3, 4]
    """
    n = int(n)
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    arr = rng_of(generator).permutation(n).astype(dt.np, copy=False)
    return finalize(arr, device, requires_grad)


def _as_param(v, dtype):
    return v.array if isinstance(v, Tensor) else np.asarray(v, dtype=dtype)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """Normal samples with the given mean and standard deviation.

    Forms (as torch): ``normal(mean: Tensor, std: Tensor)`` (broadcast), ``normal(mean:
    Tensor, std=1.0)``, ``normal(mean: float, std: Tensor)``, ``normal(mean: float, std:
    float, size)``. The result has zero gradient with respect to mean and std (torch's rule).

    Example:
        >>> import ganglion
        >>> ganglion.normal(2.0, 3.0, size=(2, 4)).shape
        ganglion.Size([2, 4])
    """
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not tm and not ts:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: with a "
                            "float mean and std, pass size=(...)")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        dt = _float_dtype(dtype, "normal")
        arr = sample_float(rng_of(generator), "standard_normal", _shape((size,), "normal"),
                           dt.np)
        arr *= dt.np.type(std)
        arr += dt.np.type(mean)
        return finalize(arr, device, requires_grad)
    ref = mean if tm else std
    if tm and ts and mean.array.dtype != std.array.dtype:
        raise RuntimeError(f"normal: expected mean and std to have the same dtype, got "
                           f"{mean.dtype} and {std.dtype}")
    npd = ref.array.dtype
    if npd.kind != "f":
        raise RuntimeError(f"normal: \"normal_kernel_cpu\" not implemented for '{ref.dtype}'")
    m, s = _as_param(mean, npd), _as_param(std, npd)
    if (s < 0).any():
        raise RuntimeError("normal expects all elements of std >= 0.0")
    try:
        shape = np.broadcast_shapes(m.shape, s.shape)
    except ValueError:
        raise RuntimeError(f"normal: the shapes of mean {tuple(m.shape)} and std "
                           f"{tuple(s.shape)} do not broadcast") from None
    z = sample_float(rng_of(generator), "standard_normal", shape, npd)
    arr = get_array_module(ref.array).asarray(z) * s + m
    return Sampled.apply(arr, *(t for t in (mean, std) if isinstance(t, Tensor)))


def bernoulli(input, p=None, *, generator=None, out=None) -> Tensor:
    """0/1 samples, 1 with probability ``input`` (or the scalar ``p``), of ``input``'s dtype.

    Example:
        >>> import ganglion
        >>> ganglion.bernoulli(ganglion.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    probs = input.array if p is None else np.asarray(p)
    if probs.dtype.kind == "f" and ((probs < 0) | (probs > 1)).any():
        raise RuntimeError("bernoulli: expected all probabilities to be in [0, 1] (Expected "
                           "p_in >= 0 && p_in <= 1 to be true)")
    if input.array.dtype.kind != "f" and p is None:
        raise RuntimeError(f"bernoulli: \"bernoulli_tensor_cpu_p_\" not implemented for "
                           f"'{input.dtype}'; pass float probabilities")
    u = sample_float(rng_of(generator), "random", input.shape, np.float32
                     if probs.dtype != np.float64 else np.float64)
    arr = (get_array_module(input.array).asarray(u) < probs).astype(input.array.dtype)
    return Sampled.apply(arr, input)


def poisson(input, generator=None) -> Tensor:
    """Poisson samples with rates ``input``, of ``input``'s dtype.

    Example:
        >>> import ganglion
        >>> ganglion.poisson(ganglion.zeros(3))
        tensor([0., 0., 0.])
    """
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"poisson: \"poisson_cpu\" not implemented for '{input.dtype}'")
    if (input.array < 0).any():
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    arr = rng_of(generator).poisson(input.array).astype(input.array.dtype)
    return Sampled.apply(arr, input)


def _bernoulli_method(self, p=None, *, generator=None):
    return bernoulli(self, p, generator=generator)


TENSOR_METHODS = dict(FILL_METHODS)
TENSOR_METHODS.update({"bernoulli": _bernoulli_method, "multinomial": multinomial})
