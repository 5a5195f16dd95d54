"""Test helpers: run one expression on ganglion and on PyTorch (the oracle) and compare.

PyTorch is only needed here, at test time (``pip install torch==2.13.0``).

Example:
    >>> from ganglion.testing import check_against_torch
    >>> check_against_torch(lambda t: (t * 2).exp(), shapes=[(3,)])  # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

import ganglion
from ganglion.autograd.gradcheck import gradcheck as _gradcheck

__all__ = ["check_against_torch", "make_inputs", "gradcheck", "assert_close", "to_torch",
           "from_torch"]

gradcheck = _gradcheck


def make_inputs(shapes, dtype=np.float32, low=-2.0, high=2.0, seed=0, noncontig=False):
    """Seeded arrays of ``shapes``; ``noncontig`` gives transposed (strided) views."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if isinstance(shape, np.ndarray):
            out.append(shape)
            continue
        if noncontig and len(shape) >= 2:
            base = rng.uniform(low, high, tuple(reversed(shape))).astype(dtype)
            out.append(base.T)  # same values layout-wise reversed: a non-contiguous view
        else:
            out.append(np.asarray(rng.uniform(low, high, shape)).astype(dtype))
    return out


def to_torch(x, requires_grad=False):
    import torch  # noqa: PLC0415 - test-only dependency

    if isinstance(x, np.ndarray):
        t = torch.from_numpy(np.array(x))
        return t.requires_grad_(requires_grad) if requires_grad else t
    return x


def from_torch(t):
    return t.detach().numpy(force=True)  # force: ZeroTensor second derivatives


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def assert_close(actual, expected, atol, rtol, what):
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} != torch's {e.shape}")
    if a.dtype != e.dtype and not (a.dtype.kind == e.dtype.kind == "f" and what.endswith("grad")):
        raise AssertionError(f"{what}: dtype {a.dtype} != torch's {e.dtype}")
    if a.dtype.kind in "biu":
        np.testing.assert_array_equal(a, e, err_msg=what)
    else:
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), atol=atol,
                                   rtol=rtol, equal_nan=True, err_msg=what)


def check_against_torch(fn, shapes=None, inputs=None, dtype=np.float32, low=-2.0, high=2.0,
                        atol=1e-5, rtol=1e-4, grad=True, grad_atol=None, grad_rtol=None,
                        gradgrad=False, requires_grad=None, noncontig=False, seed=0,
                        torch_fn=None):
    """Run ``fn`` on ganglion and torch tensors built from the same arrays and compare.

    Compares forward outputs (values, shapes and dtypes), then the gradients of
    ``sum(out * cotangent)`` for a seeded random cotangent, and with ``gradgrad`` the gradients
    of ``sum(grads * v)`` (second derivatives, through ``create_graph=True``).

    Args:
        fn: a function of tensors, using names that exist in both libraries.
        shapes: input shapes (arrays are drawn uniformly from [low, high]); or ``inputs``:
            ready arrays (integer arrays are passed without requires_grad).
        requires_grad: which inputs require grad (default: the floating ones).
        torch_fn: the torch side when its spelling differs (default: ``fn``).
    """
    import torch  # noqa: PLC0415

    arrays = list(inputs) if inputs is not None else make_inputs(shapes, dtype, low, high,
                                                                   seed, noncontig)
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" and grad for a in arrays]
    g_in = [ganglion.from_numpy(a.copy() if not noncontig else a).requires_grad_(rg)
            if rg else ganglion.from_numpy(a) for a, rg in zip(arrays, requires_grad)]
    t_in = [to_torch(a, rg) for a, rg in zip(arrays, requires_grad)]
    g_out = _as_tuple(fn(*g_in))
    t_out = _as_tuple((torch_fn or fn)(*t_in))
    if len(g_out) != len(t_out):
        raise AssertionError(f"{len(g_out)} outputs, torch gives {len(t_out)}")
    for k, (go, to) in enumerate(zip(g_out, t_out)):
        if isinstance(to, torch.Tensor):
            assert_close(go.array, from_torch(to), atol, rtol, f"output {k}")
        else:
            assert go == to, f"output {k}: {go!r} != torch's {to!r}"
    diff = [k for k, rg in enumerate(requires_grad) if rg]
    if not grad or not diff:
        return g_out
    rng = np.random.default_rng(seed + 1)
    pairs = [(go, to) for go, to in zip(g_out, t_out)
             if isinstance(to, torch.Tensor) and to.requires_grad]
    if not pairs:
        return g_out
    cots = [rng.uniform(0.5, 1.5, tuple(to.shape)).astype(from_torch(to).dtype)
            for _, to in pairs]
    g_loss = sum((go * ganglion.from_numpy(c)).sum() for (go, _), c in zip(pairs, cots))
    t_loss = sum((to * torch.from_numpy(c)).sum() for (_, to), c in zip(pairs, cots))
    g_grads = ganglion.autograd.grad(g_loss, [g_in[k] for k in diff], create_graph=gradgrad,
                                     allow_unused=True)
    t_grads = torch.autograd.grad(t_loss, [t_in[k] for k in diff], create_graph=gradgrad,
                                  allow_unused=True)
    ga, gr = grad_atol or atol, grad_rtol or rtol
    for k, gg, tg in zip(diff, g_grads, t_grads):
        if tg is None:
            assert gg is None or not np.any(gg.array), f"input {k}: torch has no grad"
            continue
        assert gg is not None, f"input {k}: no gradient, torch has one"
        assert_close(gg.array, from_torch(tg), ga, gr, f"input {k} grad")
    if gradgrad:
        _check_gradgrad(g_in, t_in, diff, g_grads, t_grads, rng, ga, gr)
    return g_out


def _check_gradgrad(g_in, t_in, diff, g_grads, t_grads, rng, atol, rtol):
    import torch  # noqa: PLC0415

    live = [(gg, tg) for gg, tg in zip(g_grads, t_grads)
            if tg is not None and tg.requires_grad and gg is not None]
    if not live:
        return
    vs = [rng.uniform(0.5, 1.5, tuple(tg.shape)).astype(from_torch(tg).dtype) for _, tg in live]
    g2 = sum((gg * ganglion.from_numpy(v)).sum() for (gg, _), v in zip(live, vs))
    t2 = sum((tg * torch.from_numpy(v)).sum() for (_, tg), v in zip(live, vs))
    if not g2.requires_grad:
        raise AssertionError("second derivative: ganglion's gradient is not differentiable "
                             "(create_graph=True gave a gradient without grad_fn)")
    gg2 = ganglion.autograd.grad(g2, [g_in[k] for k in diff], allow_unused=True)
    tg2 = torch.autograd.grad(t2, [t_in[k] for k in diff], allow_unused=True)
    for k, a, b in zip(diff, gg2, tg2):
        if b is None:
            assert a is None or not np.any(a.array), f"input {k}: torch has no 2nd derivative"
            continue
        assert a is not None, f"input {k}: no second derivative, torch has one"
        assert_close(a.array, from_torch(b), atol, rtol, f"input {k} grad-of-grad")
