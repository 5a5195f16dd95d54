"""Finite-difference checks of gradients (``gradcheck``) and of gradients of gradients
(``gradgradcheck``), in float64, as ``torch.autograd.gradcheck``.

Example:
    >>> import ganglion
    >>> x = ganglion.randn(3, dtype=ganglion.float64, requires_grad=True)
    >>> ganglion.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    True
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd import function as _fn

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def _as_inputs(inputs):
    T = _fn.Tensor
    if isinstance(inputs, (T, np.ndarray)):
        inputs = (inputs,)
    out = []
    for x in inputs:
        if isinstance(x, np.ndarray):
            x = _fn._new_tensor(np.array(x, dtype=np.float64) if x.dtype.kind == "f" else x)
            x._rg = x.array.dtype.kind == "f"
        out.append(x)
    return tuple(out)


def _outputs(func, inputs):
    out = func(*inputs)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _numerical_jacobian(func, inputs, k, eps):
    """d(all outputs flattened) / d(inputs[k] flattened) by central differences."""
    x = inputs[k]
    if not x.array.flags.c_contiguous:
        x.array = np.ascontiguousarray(x.array)
    flat = x.array.reshape(-1)  # a view: perturbing it perturbs the input in place
    cols = []
    # grad mode stays on: gradgradcheck's function itself calls autograd.grad
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = np.concatenate([o.array.reshape(-1).astype(np.float64)
                               for o in _outputs(func, inputs) if o.is_floating_point()])
        flat[j] = orig - eps
        minus = np.concatenate([o.array.reshape(-1).astype(np.float64)
                                for o in _outputs(func, inputs) if o.is_floating_point()])
        flat[j] = orig
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def _analytical_jacobians(func, inputs, diff_idx):
    from ganglion.autograd import grad as _grad  # noqa: PLC0415 - package-level helper

    outs = [o for o in _outputs(func, inputs) if o.is_floating_point()]
    sizes = [o.numel() for o in outs]
    total = sum(sizes)
    jac = {k: np.zeros((total, inputs[k].numel())) for k in diff_idx}
    row = 0
    for o, n in zip(outs, sizes):
        for j in range(n if o.requires_grad else 0):  # no grad_fn: a zero Jacobian block
            g = np.zeros(n, dtype=o.array.dtype)
            g[j] = 1.0
            gs = _grad([o], [inputs[k] for k in diff_idx],
                       grad_outputs=[_fn._new_tensor(g.reshape(o.array.shape))],
                       retain_graph=True, allow_unused=True)
            for k, gk in zip(diff_idx, gs):
                if gk is not None:
                    jac[k][row + j] = gk.array.reshape(-1)
        row += n
    return jac, total


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, masked=None,
              check_grad_dtypes=False, check_batched_grad=False):
    """Compare the analytical gradients of ``func`` at ``inputs`` with central differences.

    Inputs that require grad should be float64. Returns True, or raises ``GradcheckError``
    (returns False when ``raise_exception=False``). Options torch uses for its own internals
    (``fast_mode``, ``check_batched_grad``, ...) are accepted and ignored.
    """
    inputs = _as_inputs(inputs)
    diff_idx = [k for k, x in enumerate(inputs) if isinstance(x, _fn.Tensor) and x.requires_grad]
    for k in diff_idx:
        if inputs[k].array.dtype != np.float64:
            raise ValueError(f"gradcheck: input {k} is {inputs[k].dtype}; finite differences "
                             f"need float64 inputs (pass x.double()).")
    jac, total = _analytical_jacobians(func, inputs, diff_idx)
    for k in diff_idx:
        if inputs[k].numel() == 0:
            continue  # nothing to perturb
        num = _numerical_jacobian(func, inputs, k, eps)
        if not np.allclose(jac[k], num, atol=atol, rtol=rtol):
            err = np.abs(jac[k] - num).max()
            msg = (f"gradcheck: Jacobian mismatch for input {k} (max abs difference {err:.3g}, "
                   f"atol={atol}, rtol={rtol}).\nnumerical:\n{num}\nanalytical:\n{jac[k]}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  fast_mode=False, masked=False):
    """Check second derivatives: gradcheck of the vector-Jacobian product of ``func``."""
    from ganglion.autograd import grad as _grad  # noqa: PLC0415

    inputs = _as_inputs(inputs)
    outs = [o for o in _outputs(func, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [_fn._new_tensor(rng.standard_normal(o.array.shape), None, 0, True)
                        for o in outs]
    else:
        grad_outputs = list(_as_inputs(grad_outputs))
    n_in = len(inputs)
    diff_idx = [k for k, x in enumerate(inputs) if isinstance(x, _fn.Tensor) and x.requires_grad]

    def vjp(*args):
        xs, gos = args[:n_in], args[n_in:]
        ys = [o for o in _outputs(func, xs) if o.requires_grad]
        gs = _grad(ys, [xs[k] for k in diff_idx], grad_outputs=list(gos), create_graph=True,
                   allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(vjp, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
