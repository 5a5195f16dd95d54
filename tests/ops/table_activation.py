"""Op-table rows for the activation family (ganglion/ops/activation*.py).

Each row calls the same-named function of ``ganglion.ops.activation`` and of
``torch.nn.functional``. Piecewise functions draw their inputs off the kinks (``_off``), so
finite differences and torch's subgradients agree; their second derivatives (0) are checked too.
"""
import numpy as np

import ganglion.ops.activation as GF
from tests.ops.op_table import OpRow

UNARY = [[(3, 4)], [()], [(2, 3, 4)], [(0, 4)]]


def _off(kinks, low=-2.0, high=2.0, margin=0.05):
    """make_inputs drawing U(low, high) floats at least ``margin`` away from every kink."""

    def make(rng, dtype, case):
        out = []
        for shape in case:
            a = np.asarray(rng.uniform(low, high, shape))
            for k in kinks:
                near = np.abs(a - k) < margin
                a = np.where(near, k + np.where(a >= k, 2 * margin, -2 * margin), a)
            out.append(a.astype(dtype))
        return out

    return make


def _row(name, cases, fn_name=None, kw=None, **opts):
    """A row calling F.<fn_name>(*tensors, **kw) on both libraries."""
    fn_name = fn_name or name
    kw = kw or {}

    def g(*ts):
        return getattr(GF, fn_name)(*ts, **kw)

    def t(*ts):
        import torch.nn.functional as TF  # noqa: PLC0415 - torch is the test-time oracle

        return getattr(TF, fn_name)(*ts, **kw)

    return OpRow(name, g, cases, torch_fn=t, **opts)


PRELU = [[(2, 3, 4), (3,)], [(3, 4), (1,)], [(), (1,)], [(0, 3), (3,)], [(2, 5), ()]]

ROWS = [
    # piecewise linear: second derivative 0, compared with torch's
    _row("relu", UNARY, make_inputs=_off([0.0])),
    _row("relu6", UNARY, make_inputs=_off([0.0, 6.0], -1.0, 7.0)),
    _row("hardtanh", UNARY, make_inputs=_off([-1.0, 1.0])),
    _row("hardtanh_bounds", UNARY, "hardtanh", {"min_val": -0.5, "max_val": 1.5},
         make_inputs=_off([-0.5, 1.5])),
    _row("threshold", UNARY, kw={"threshold": 0.5, "value": -1.0}, make_inputs=_off([0.5])),
    _row("leaky_relu", UNARY, make_inputs=_off([0.0])),
    _row("leaky_relu_slope", UNARY, "leaky_relu", {"negative_slope": 0.2},
         make_inputs=_off([0.0])),
    _row("rrelu_eval", UNARY, "rrelu", {"lower": 0.1, "upper": 0.3}, make_inputs=_off([0.0])),
    # torch has no double backward for hardsigmoid, and its float64 gradient uses a float32
    # 1/6: both are checked in test_activation.py instead
    _row("hardsigmoid", UNARY, make_inputs=_off([-3.0, 3.0], -4.0, 4.0), gradgrad=False,
         dtypes=("float32",)),
    _row("hardswish", UNARY, make_inputs=_off([-3.0, 3.0], -4.0, 4.0)),
    _row("hardshrink", UNARY, make_inputs=_off([-0.5, 0.5])),
    _row("softshrink", UNARY, kw={"lambd": 0.3}, make_inputs=_off([-0.3, 0.3])),
    # smooth, or kinked only in a higher derivative (kept off the kink all the same)
    _row("elu", UNARY, make_inputs=_off([0.0])),
    _row("elu_alpha", UNARY, "elu", {"alpha": 0.5}, make_inputs=_off([0.0])),
    _row("selu", UNARY, make_inputs=_off([0.0])),
    _row("celu", UNARY, kw={"alpha": 2.0}, make_inputs=_off([0.0])),
    _row("gelu", UNARY, low=-4.0, high=4.0),
    _row("gelu_tanh", UNARY, "gelu", {"approximate": "tanh"}, low=-4.0, high=4.0),
    _row("silu", UNARY, low=-5.0, high=5.0),
    _row("mish", UNARY, low=-5.0, high=5.0),
    _row("softplus", UNARY, low=-5.0, high=5.0),
    _row("softplus_threshold", UNARY, "softplus", {"beta": 2.0, "threshold": 3.0},
         make_inputs=_off([1.5], -1.0, 3.0)),
    _row("softsign", UNARY, make_inputs=_off([0.0], -3.0, 3.0)),
    _row("logsigmoid", UNARY, low=-6.0, high=6.0),
    _row("tanhshrink", UNARY),
    # reductions along a dim
    _row("softmax", [[(3, 4)], [(2, 3, 4)], [(0, 4)]], kw={"dim": -1}),
    _row("softmax_dim0", [[(3, 4)], [()], [(0, 4)]], "softmax", {"dim": 0}),
    _row("softmax_dim_neg2", [[(2, 3, 4)], [(4, 1)]], "softmax", {"dim": -2}),
    _row("log_softmax", [[(3, 4)], [(2, 3, 4)], [(0, 4)]], kw={"dim": -1}),
    _row("log_softmax_dim0", [[(3, 4)], [()], [(0, 4)]], "log_softmax", {"dim": 0}),
    _row("log_softmax_dim_neg2", [[(2, 3, 4)]], "log_softmax", {"dim": -2}),
    _row("softmin", [[(3, 4)], [(2, 3, 4)], [()]], kw={"dim": -1}),
    _row("softmin_dim1", [[(2, 3, 4)]], "softmin", {"dim": 1}),
    _row("glu", [[(3, 4)], [(0, 6)]]),
    _row("glu_dim_neg2", [[(2, 4, 3)], [(6, 1)]], "glu", {"dim": -2}),
    _row("prelu", PRELU, make_inputs=_off([0.0])),
]
