"""In-place random fills (``Tensor.uniform_``, ``normal_``, ``bernoulli_``, ``exponential_``,
``random_``, ``geometric_``, ``log_normal_``, ``cauchy_``) and the sampling helpers of the
'random' family (see ganglion/ops/random.py).

A fill follows torch's in-place rules through ``ganglion.tensor.inplace_update``: it raises on a
leaf that requires grad while grad mode is on, bumps the version counter, and on a non-leaf
that requires grad the filled tensor gets a zero gradient (a sample does not depend on the
values it replaces).

Example:
    >>> import ganglion
    >>> x = ganglion.empty(1000).uniform_(-1, 1)
    >>> bool((x >= -1).all() and (x < 1).all())
    True
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend import random as _random
from ganglion.backend.device import get_array_module
from ganglion.tensor import Tensor, inplace_update

__all__ = ["FILL_METHODS", "Sampled", "rng_of", "sample_float"]


def rng_of(generator):
    """The NumPy Generator to draw from: ``generator.numpy`` or the default generator's."""
    if generator is None:
        return _random.default_generator.numpy
    rng = getattr(generator, "numpy", None)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"generator must be a ganglion.Generator, got "
                        f"{type(generator).__name__}")
    return rng


def sample_float(rng, kind, shape, npd):
    """``rng.<kind>(shape)`` drawn directly in float32/float64 (float16 via float32)."""
    npd = np.dtype(npd)
    draw = getattr(rng, kind)
    if npd in (np.float32, np.float64):
        return draw(tuple(shape), dtype=npd)
    return draw(tuple(shape), dtype=np.float32).astype(npd)


class Sampled(Op):
    """``forward(ctx, sample, *params)`` returns the sample; its gradient with respect to the
    parameter tensors is zero, as torch defines it for non-reparameterized sampling."""

    @staticmethod
    def forward(ctx, sample, *params):
        if params and type(params[0]) is not type(sample):  # host draw for a device tensor
            return get_array_module(params[0]).asarray(sample)
        return sample

    @staticmethod
    def backward(ctx, g):
        zero = g * 0
        return (None,) + tuple(zero if need else None for need in ctx.needs_input_grad[1:])


def _fill(self, name, draw):
    """Write ``draw(shape, np_dtype)`` into ``self`` with torch's in-place semantics."""

    def fn(t):
        return Sampled.apply(draw(tuple(t.shape), t.array.dtype), t)

    return inplace_update(self, name, fn)


def _float_only(self, name, kernel):
    if self.array.dtype.kind != "f":
        raise RuntimeError(f"{name}: \"{kernel}\" not implemented for '{self.dtype}'; fill a "
                           f"floating tensor")


def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kwargs):
    """Fill with uniform samples on [from, to)."""
    from_ = kwargs.pop("from", from_)
    _float_only(self, "uniform_", "check_uniform_bounds")
    if from_ > to:
        raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found "
                           f"from={from_} > to={to}")
    rng = rng_of(generator)

    def draw(shape, npd):
        u = sample_float(rng, "random", shape, npd)
        u *= npd.type(to - from_)
        u += npd.type(from_)
        return u

    return _fill(self, "uniform_", draw)


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal samples of the given mean and standard deviation."""
    _float_only(self, "normal_", "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    rng = rng_of(generator)

    def draw(shape, npd):
        z = sample_float(rng, "standard_normal", shape, npd)
        z *= npd.type(std)
        z += npd.type(mean)
        return z

    return _fill(self, "normal_", draw)


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 samples, 1 with probability ``p`` (a float or a broadcastable tensor)."""
    probs = p.array if isinstance(p, Tensor) else np.asarray(p)
    if ((probs < 0) | (probs > 1)).any():
        raise RuntimeError(f"bernoulli_: expects p to be in [0, 1], but got p={p}")
    rng = rng_of(generator)
    udt = np.float64 if probs.dtype == np.float64 else np.float32
    return _fill(self, "bernoulli_",
                 lambda shape, npd: (sample_float(rng, "random", shape, udt) < probs).astype(npd))


def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with exponential samples of rate ``lambd``."""
    _float_only(self, "exponential_", "exponential_cpu")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    rng = rng_of(generator)

    def draw(shape, npd):
        e = sample_float(rng, "standard_exponential", shape, npd)
        e /= npd.type(lambd)
        return e

    return _fill(self, "exponential_", draw)


def _random_range(self, from_, to):
    """torch's random_ forms: () -> [0, 2^mantissa] or [0, max]; (to) -> [0, to); (from, to)."""
    npd = self.array.dtype
    if to is None and from_ is not None and from_ != 0:
        from_, to = 0, from_
    from_ = 0 if from_ is None else int(from_)
    if to is None:
        if npd.kind == "f":
            to = 2 ** (np.finfo(npd).nmant + 1) + 1
        elif npd.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(npd).max) + (0 if npd == np.int64 else 1)
    if from_ >= to:
        raise RuntimeError(f"random_: expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    return from_, int(to)


def random_(self, from_=0, to=None, *, generator=None, **kwargs):
    """Fill with integers drawn uniformly: ``random_()``, ``random_(to)``, ``random_(from, to)``."""
    from_ = kwargs.pop("from", from_)
    lo, hi = _random_range(self, from_, to)
    rng = rng_of(generator)
    return _fill(self, "random_",
                 lambda shape, npd: rng.integers(lo, hi, shape, dtype=np.int64).astype(npd))


def geometric_(self, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    rng = rng_of(generator)
    return _fill(self, "geometric_", lambda shape, npd: rng.geometric(p, shape).astype(npd))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with exp(N(mean, std^2)) samples."""
    _float_only(self, "log_normal_", "log_normal_cpu")
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    rng = rng_of(generator)

    def draw(shape, npd):
        z = sample_float(rng, "standard_normal", shape, npd)
        z *= npd.type(std)
        z += npd.type(mean)
        return np.exp(z, out=z)

    return _fill(self, "log_normal_", draw)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with Cauchy samples: median + sigma * tan(pi * (u - 1/2))."""
    _float_only(self, "cauchy_", "cauchy_cpu")
    rng = rng_of(generator)

    def draw(shape, npd):
        u = sample_float(rng, "random", shape, npd)
        u -= npd.type(0.5)
        u *= npd.type(math.pi)
        np.tan(u, out=u)
        u *= npd.type(sigma)
        u += npd.type(median)
        return u

    return _fill(self, "cauchy_", draw)


FILL_METHODS = {"uniform_": uniform_, "normal_": normal_, "bernoulli_": bernoulli_,
                "exponential_": exponential_, "random_": random_, "geometric_": geometric_,
                "log_normal_": log_normal_, "cauchy_": cauchy_}
