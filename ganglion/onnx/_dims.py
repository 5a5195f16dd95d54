"""Sizes that follow the dynamic axes, computed inside the graph.

The exporter traces the model at the example's sizes and at other sizes of the dynamic axes
(one value per run). A size an op was given (a reshape target, a slice end, the shape of a
zero state) is then a tuple of numbers, one per run: equal numbers are a constant; otherwise
the size is fitted, exactly on every run, as ``a * s + c`` or ``s // k`` for one dynamic axis
``s``, or ``a * s * t`` for two, and emitted with ``Shape``/``Mul``/``Add``/``Div`` nodes
reading the graph inputs' shapes, so no traced size is baked in.

Example:
    >>> fit((6, 15, 24), {"batch": (2, 5, 8)})
    ('affine', 'batch', 3, 0)
    >>> fit((7, 7, 7), {"batch": (2, 5, 8)})
    ('const', 7)
"""
from __future__ import annotations

__all__ = ["fit", "DimEmitter"]


def fit(values, symbols):
    """A formula for ``values`` (one size per run) over ``symbols`` ({name: sizes}), or None."""
    values = tuple(int(v) for v in values)
    if all(v == values[0] for v in values):
        return ("const", values[0])
    syms = list(symbols.items())
    for name, s in syms:
        if s[1] != s[0]:
            a, r = divmod(values[1] - values[0], s[1] - s[0])
            if r == 0 and a != 0:
                c = values[0] - a * s[0]
                if all(a * si + c == v for si, v in zip(s, values)):
                    return ("affine", name, a, c)
    for name, s in syms:
        if values[0] > 0:
            k0 = s[0] // values[0]
            for k in (k0 - 1, k0, k0 + 1):
                if k > 1 and all(si // k == v for si, v in zip(s, values)):
                    return ("div", name, k)
    for i, (n1, s1) in enumerate(syms):
        for n2, s2 in syms[i:]:
            p0 = s1[0] * s2[0]
            if p0 and values[0] % p0 == 0:
                a = values[0] // p0
                if all(a * x * y == v for x, y, v in zip(s1, s2, values)):
                    return ("prod", n1, n2, a)
    return None


class DimEmitter:
    """Emits the nodes of fitted sizes into a :class:`~ganglion.onnx._graph.GraphBuilder`.

    ``sources`` maps each symbol to (graph input name, axis) where it is read."""

    def __init__(self, graph, symbols, sources):
        self.g, self.symbols, self.sources = graph, symbols, sources
        self._cache = {}

    def symbol(self, name) -> str:
        """A 1-element int64 tensor holding the size of dynamic axis ``name``."""
        if name not in self._cache:
            inp, axis = self.sources[name]
            self._cache[name] = self.g.node("Shape", [inp], start=axis, end=axis + 1)
        return self._cache[name]

    def formula(self, f) -> str:
        """A 1-element int64 tensor for a fitted formula."""
        key = ("f",) + tuple(f)
        if key in self._cache:
            return self._cache[key]
        g = self.g
        if f[0] == "const":
            out = g.ints([f[1]])
        elif f[0] == "affine":
            out = self.symbol(f[1])
            if f[2] != 1:
                out = g.node("Mul", [out, g.ints([f[2]])])
            if f[3]:
                out = g.node("Add", [out, g.ints([f[3]])])
        elif f[0] == "div":
            out = g.node("Div", [self.symbol(f[1]), g.ints([f[2]])])
        else:
            out = g.node("Mul", [self.symbol(f[1]), self.symbol(f[2])])
            if f[3] != 1:
                out = g.node("Mul", [out, g.ints([f[3]])])
        self._cache[key] = out
        return out

    def fit_or_raise(self, values, what):
        f = fit(values, self.symbols)
        if f is None:
            sizes = ", ".join(f"{k}={v}" for k, v in self.symbols.items())
            raise ValueError(f"export: {what} takes the sizes {tuple(values)} in the traced "
                             f"runs ({sizes}), which no formula of the dynamic axes matches; "
                             f"make the model compute it from a dynamic axis, or export "
                             f"without that dynamic axis.")
        return f

    def shape(self, per_run, what, minus_one=False) -> str:
        """A 1-D int64 tensor for a shape given per run (a list of tuples of ints).

        ``minus_one``: a reshape target, whose first size that varies may be written -1."""
        dims = list(zip(*per_run))
        if not dims:
            return self.g.ints([])
        fits = []
        for i, vals in enumerate(dims):
            f = fit(vals, self.symbols)
            fits.append(f)
        dynamic = [i for i, f in enumerate(fits) if f is None or f[0] != "const"]
        if minus_one and dynamic:
            unfitted = [i for i in dynamic if fits[i] is None]
            free = unfitted[0] if unfitted else dynamic[0]
            fits[free] = ("const", -1)
        for i, f in enumerate(fits):
            if f is None:
                self.fit_or_raise(dims[i], f"{what} (dimension {i})")
        if all(f[0] == "const" for f in fits):
            return self.g.ints([f[1] for f in fits])
        parts, run = [], []
        for f in fits:  # consecutive constants share one Constant
            if f[0] == "const":
                run.append(f[1])
                continue
            if run:
                parts.append(self.g.ints(run))
                run = []
            parts.append(self.formula(f))
        if run:
            parts.append(self.g.ints(run))
        return parts[0] if len(parts) == 1 else self.g.node("Concat", parts, axis=0)

    def scalar_dim(self, values, what) -> str:
        """A 1-element int64 tensor for one size given per run."""
        return self.formula(self.fit_or_raise(values, what))
