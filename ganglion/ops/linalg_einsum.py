"""``einsum``: Einstein summation, part of the 'linalg' family (see ganglion/ops/linalg.py).

The equation is first made explicit (ellipses become fresh letters, the implicit output is
spelled out), so the op and its backward only see plain letter subscripts. The gradient of each
operand is itself an einsum of the output gradient with the other operands, so it can be
differentiated again; a letter repeated in an operand (a diagonal, ``'ii->i'``) gets its
gradient through a constant identity matrix, and a letter summed within one operand only
(``'ij->'``) through a constant vector of ones.

Example:
    >>> import ganglion
    >>> a, b = ganglion.ones(2, 3), ganglion.ones(3, 4)
    >>> ganglion.einsum('ij,jk->ik', a, b).shape
    ganglion.Size([2, 4])
"""
from __future__ import annotations

import string

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.tensor import Tensor

__all__ = ["einsum"]

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # torch's label order


class Einsum(Op):
    """``forward(ctx, spec, *arrays)`` with ``spec = (terms, out)`` in explicit letter form."""

    @staticmethod
    def forward(ctx, spec, *arrays):
        terms, out = spec
        ctx.spec = spec
        ctx.save_for_backward(*arrays)
        xp = get_array_module(arrays[0])
        # BLAS-backed contraction paths pay off for 3+ operands or big operands; for small
        # ones the path search costs more than it saves.
        big = len(arrays) > 2 or (len(arrays) == 2 and max(a.size for a in arrays) > 4096)
        res = xp.einsum(",".join(terms) + "->" + out, *arrays, optimize=bool(big))
        res = xp.asarray(res)
        # einsum may return a view of an operand (transposes, diagonals): outputs own memory
        if any(xp.may_share_memory(res, a) for a in arrays):
            res = res.copy()
        return res

    @staticmethod
    def backward(ctx, g):
        terms, out = ctx.spec
        ops = ctx.saved_tensors
        grads = [None]
        for i, need in enumerate(ctx.needs_input_grad[1:]):
            grads.append(_operand_grad(i, g, ops, terms, out) if need else None)
        return tuple(grads)


def _operand_grad(i, g, ops, terms, out):
    """d(sum(g * einsum(...))) / d operand i, as an einsum over g and the other operands."""
    target, shape = terms[i], ops[i].shape
    others = [(t, o) for j, (t, o) in enumerate(zip(terms, ops)) if j != i]
    used = set("".join(terms) + out)
    fresh = iter(c for c in _LETTERS if c not in used)
    arr = ops[i].array
    xp = get_array_module(arr)
    extra_terms, extra_ops = [], []
    new_target, seen = "", set()
    for pos, c in enumerate(target):
        if c in seen:  # repeated letter: a diagonal, spread back through an identity matrix
            f = next(fresh)
            new_target += f
            extra_terms.append(c + f)
            extra_ops.append(_new_tensor(xp.eye(shape[pos], dtype=arr.dtype)))
        else:
            seen.add(c)
            new_target += c
    for pos, c in enumerate(target):
        if target.index(c) != pos:
            continue
        sizes = [o.shape[t.index(c)] for t, o in others if c in t]
        in_extra = any(c in t for t in extra_terms)
        if c not in out and not in_extra and (not sizes or max(sizes) < shape[pos]):
            # summed inside this operand only (or broadcast from size 1 elsewhere): the
            # gradient is constant along it
            extra_terms.append(c)
            extra_ops.append(_new_tensor(xp.ones(shape[pos], dtype=arr.dtype)))
    eq = ",".join([out] + [t for t, _ in others] + extra_terms) + "->" + new_target
    return _apply(eq, [g] + [o for _, o in others] + extra_ops)


def _apply(eq, operands):
    lhs, out = eq.split("->")
    return Einsum.apply((tuple(lhs.split(",")), out), *operands)


def _sublist_to_equation(args):
    """torch's sublist form: einsum(op1, [0, 1], op2, [1, 2], [0, 2])."""
    out = None
    if len(args) % 2:  # a trailing sublist is the output
        args, out = args[:-1], args[-1]
    ops, subs = list(args[0::2]), list(args[1::2])

    def letters(sub):
        s = ""
        for v in sub:
            if v is Ellipsis:
                s += "..."
            elif isinstance(v, int) and 0 <= v < 52:
                s += _LETTERS[v]
            else:
                raise RuntimeError(f"einsum(): expected subscripts to be in range [0, 52) or "
                                   f"Ellipsis, got {v!r}")
        return s

    eq = ",".join(letters(s) for s in subs)
    if out is not None:
        eq += "->" + letters(out)
    return eq, ops


def _split_terms(equation, n_ops):
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise RuntimeError(f"einsum(): invalid equation {equation!r}: more than one '->'")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > n_ops:
        raise RuntimeError(f"einsum(): fewer operands were provided than specified in the "
                           f"equation {equation!r} ({n_ops} operands, {len(terms)} terms)")
    if len(terms) < n_ops:
        raise RuntimeError(f"einsum(): more operands were provided than specified in the "
                           f"equation {equation!r} ({n_ops} operands, {len(terms)} terms)")
    for t in terms + ([rhs] if arrow else []):
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.count("...") > 1 or t.replace("...", "").count(".") or (t.count(".") % 3):
            raise RuntimeError(f"einsum(): invalid subscript in equation {equation!r}: "
                               f"subscripts must be letters [a-zA-Z], with at most one '...' "
                               f"per operand")
    return terms, (rhs if arrow else None)


def _explicit(equation, shapes):
    """Return (terms, out) with ellipses replaced by fresh letters and the output explicit."""
    terms, rhs = _split_terms(equation, len(shapes))
    used = set(equation)
    fresh = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for i, (t, s) in enumerate(zip(terms, shapes)):
        n = len(t.replace("...", ""))
        if "..." in t:
            if n > len(s):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) "
                                   f"is more than the number of dimensions ({len(s)}) for "
                                   f"operand {i}")
            n_ell = max(n_ell, len(s) - n)
        elif n != len(s):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does "
                               f"not match the number of dimensions ({len(s)}) for operand {i} "
                               f"and no ellipsis was given")
    ell = "".join(fresh[:n_ell])
    terms = [t.replace("...", ell[n_ell - (len(s) - len(t) + 3):]) if "..." in t else t
             for t, s in zip(terms, shapes)]
    if rhs is None:
        joined = "".join(terms)
        once = sorted((c for c in set(joined) if joined.count(c) == 1 and c not in ell),
                      key=_LETTERS.index)
        out = ell + "".join(once)
    else:
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output of {equation!r}")
            if not any(c in t for t in terms):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation {equation!r} for any input operand")
    return terms, out


def _check_sizes(terms, shapes, equation):
    sizes = {}
    for i, (t, s) in enumerate(zip(terms, shapes)):
        local = {}
        for c, n in zip(t, s):
            if c in local and local[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but "
                                   f"the sizes don't match, {n} != {local[c]} ({equation!r})")
            local[c] = n
        for c, n in local.items():
            prev = sizes.get(c, 1)
            if n != 1 and prev != 1 and n != prev:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {prev} "
                                   f"({equation!r}, shapes {[tuple(x) for x in shapes]})")
            sizes[c] = max(prev, n) if n != 1 else prev


def einsum(*args) -> Tensor:
    """Einstein summation: ``einsum(equation, *operands)`` (or the operands as one list).

    Args:
        equation: subscripts such as ``'bij,bjk->bik'``; letters a-z/A-Z, ``...`` for
            broadcast dims; without ``->`` the output holds the letters used once, sorted.
        operands: tensors of one dtype. torch's sublist form ``einsum(a, [0, 1], b, [1, 2])``
            is accepted too.

    Returns:
        The contraction, of the operands' dtype.

    Raises:
        RuntimeError: a malformed equation, a subscript count that does not match an
            operand's dims, sizes that do not broadcast, or mixed dtypes.

    Example:
        >>> import ganglion
        >>> ganglion.einsum('ii->i', ganglion.eye(3))
        tensor([1., 1., 1.])
    """
    if not args:
        raise TypeError("einsum(): missing the equation and the operands")
    if isinstance(args[0], Tensor):
        equation, operands = _sublist_to_equation(args)
    else:
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a str, got {type(equation).__name__}")
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for i, o in enumerate(operands):
        if not isinstance(o, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, not {type(o).__name__}")
        if o.array.dtype != operands[0].array.dtype:
            raise RuntimeError(f"einsum(): expected scalar type {operands[0].dtype} but found "
                               f"{o.dtype} (operand {i}); cast the operands to one dtype")
    shapes = [tuple(o.shape) for o in operands]
    terms, out = _explicit(equation, shapes)
    _check_sizes(terms, shapes, equation)
    return Einsum.apply((tuple(terms), out), *operands)

