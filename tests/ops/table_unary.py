"""Op-table rows for elementwise unary ops (ganglion/ops/unary*.py).

Input ranges keep each op inside its domain and away from its kinks/jumps (abs at 0, floor at
integers: uniform draws land within the finite-difference step of one with probability ~1e-6).
"""
import numpy as np

from tests.ops.op_table import OpRow

U = [[(3, 4)], [()], [(0, 3)], [(2, 3, 4)]]


def _with_nonfinite(rng, dtype, case):
    """Inputs for nan_to_num: finite values with NaN, +inf and -inf sprinkled in."""
    a = rng.uniform(-2, 2, case[0]).astype(dtype)
    flat = a.reshape(-1)
    for i, v in zip(range(0, flat.size, 3), (np.nan, np.inf, -np.inf) * flat.size):
        flat[i] = v
    return [a]


def _row(name, fn, low=-2.0, high=2.0, **kw):
    return OpRow(name, fn, U, low=low, high=high, **kw)


ROWS = [
    _row("neg", lambda a: -a),
    _row("negative", lambda a: a.negative()),
    _row("abs", lambda a: a.abs()),
    _row("absolute", lambda a: a.absolute()),
    _row("sign", lambda a: a.sign()),
    _row("sgn", lambda a: a.sgn()),
    _row("exp", lambda a: a.exp()),
    _row("exp2", lambda a: a.exp2()),
    _row("expm1", lambda a: a.expm1()),
    _row("log", lambda a: a.log(), low=0.5),
    _row("log2", lambda a: a.log2(), low=0.5),
    _row("log10", lambda a: a.log10(), low=0.5),
    _row("log1p", lambda a: a.log1p(), low=-0.5),
    _row("sqrt", lambda a: a.sqrt(), low=0.5),
    _row("rsqrt", lambda a: a.rsqrt(), low=0.5),
    _row("square", lambda a: a.square()),
    _row("reciprocal", lambda a: a.reciprocal(), low=0.5),
    _row("sin", lambda a: a.sin()),
    _row("cos", lambda a: a.cos()),
    _row("tan", lambda a: a.tan(), low=-1.2, high=1.2),
    _row("tanh", lambda a: a.tanh()),
    _row("sinh", lambda a: a.sinh()),
    _row("cosh", lambda a: a.cosh()),
    _row("asin", lambda a: a.asin(), low=-0.9, high=0.9),
    _row("acos", lambda a: a.acos(), low=-0.9, high=0.9),
    _row("atan", lambda a: a.atan()),
    _row("arcsin", lambda a: a.arcsin(), low=-0.9, high=0.9),
    _row("asinh", lambda a: a.asinh()),
    _row("acosh", lambda a: a.acosh(), low=1.2, high=3.0),
    _row("atanh", lambda a: a.atanh(), low=-0.9, high=0.9),
    _row("sigmoid", lambda a: a.sigmoid(), low=-4.0, high=4.0),
    _row("logit", lambda a: a.logit(), low=0.1, high=0.9),
    # eps=0.2 clamps part of [0.05, 0.95]: zero gradient there, as torch
    _row("logit_eps", lambda a: a.logit(eps=0.2), low=0.05, high=0.95),
    _row("erf", lambda a: a.erf()),
    _row("erfc", lambda a: a.erfc()),
    _row("erfinv", lambda a: a.erfinv(), low=-0.9, high=0.9),
    _row("floor", lambda a: a.floor()),
    _row("ceil", lambda a: a.ceil()),
    _row("round", lambda a: a.round()),
    _row("round_decimals", lambda a: a.round(decimals=1)),
    _row("trunc", lambda a: a.trunc()),
    _row("fix", lambda a: a.fix()),
    _row("frac", lambda a: a.frac()),
    _row("deg2rad", lambda a: a.deg2rad()),
    _row("rad2deg", lambda a: a.rad2deg()),
    _row("nan_to_num", lambda a: a.nan_to_num()),
    OpRow("nan_to_num_nonfinite", lambda a: a.nan_to_num(nan=0.5, posinf=3.0, neginf=-4.0),
          [[(3, 4)], [(2, 3, 4)]], make_inputs=_with_nonfinite, fd=False),
    # composite: chains two unary ops so the second derivative mixes both rules
    _row("sigmoid_tanh", lambda a: a.tanh().sigmoid()),
]
