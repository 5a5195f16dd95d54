"""Op-table rows for binary arithmetic (ganglion/ops/arith.py)."""
from tests.ops.op_table import OpRow

BIN = [[(3, 4), (3, 4)], [(2, 3, 4), (4,)], [(), (3,)], [(0, 4), (4,)], [(5, 1), (1, 6)]]

ROWS = [
    OpRow("add", lambda a, b: a + b, BIN),
    OpRow("add_alpha", lambda a, b: a.add(b, alpha=0.5), BIN),
    OpRow("sub", lambda a, b: a - b, BIN),
    OpRow("mul", lambda a, b: a * b, BIN),
    OpRow("div", lambda a, b: a / b, BIN, low=0.5, high=2.0),
    OpRow("pow", lambda a, b: a ** b, BIN, low=0.5, high=2.0),
    OpRow("pow_scalar", lambda a: a ** 3, [[(3, 4)], [()]]),
    OpRow("rpow", lambda a: 2.0 ** a, [[(3, 4)], [()]]),
    OpRow("maximum", lambda a, b: a.maximum(b), BIN),
    OpRow("minimum", lambda a, b: a.minimum(b), BIN),
    OpRow("atan2", lambda a, b: a.atan2(b), BIN, low=0.5, high=2.0),
    OpRow("remainder", lambda a, b: a % b, BIN, low=0.5, high=2.0, gradgrad=False, fd=False),
    OpRow("lerp", lambda a, b, w: a.lerp(b, w), [[(3, 4), (3, 4), (3, 4)]]),
    OpRow("clamp", lambda a: a.clamp(-0.7, 0.9), [[(3, 4)], [()]]),
    OpRow("clamp_tensor", lambda a, lo, hi: a.clamp(lo, hi),
          [[(3, 4), (4,), (3, 4)]], low=-1, high=1, fd=False),
    OpRow("addcmul", lambda a, b, c: a.addcmul(b, c, value=0.5), [[(3, 4), (3, 4), (4,)]]),
    OpRow("addcdiv", lambda a, b, c: a.addcdiv(b, c, value=0.5), [[(3, 4), (3, 4), (4,)]],
          low=0.5, high=2.0),
    OpRow("sub_alpha", lambda a, b: a.sub(b, alpha=2), BIN),
    OpRow("rsub_scalar", lambda a: 1.5 - a, [[(3, 4)], [()]]),
    OpRow("div_scalar", lambda a: a / 3, [[(3, 4)], [()], [(0, 2)]]),
    OpRow("rdiv_scalar", lambda a: 2 / a, [[(3, 4)], [()]], low=0.5, high=2.0),
    OpRow("div_trunc", lambda a, b: a.div(b, rounding_mode="trunc"), BIN, low=0.5, high=2.0),
    OpRow("div_floor", lambda a, b: a.div(b, rounding_mode="floor"), BIN, low=0.5, high=2.0),
    # torch has no derivative for floor_divide (ganglion returns zeros): forward only
    OpRow("floor_divide", lambda a, b: a // b, BIN, low=0.5, high=2.0, grad=False),
    OpRow("fmod", lambda a, b: a.fmod(b), BIN, low=0.5, high=2.0),
    OpRow("remainder_neg", lambda a: a % -0.7, [[(3, 4)], [()]]),
    OpRow("fmax", lambda a, b: a.fmax(b), BIN),
    OpRow("fmin", lambda a, b: a.fmin(b), BIN),
    OpRow("hypot", lambda a, b: a.hypot(b), BIN, low=0.5, high=2.0),
    OpRow("xlogy", lambda a, b: a.xlogy(b), BIN, low=0.5, high=2.0),
    OpRow("where", lambda a, b: a.where(a > 0, b), BIN),
    OpRow("clamp_min", lambda a: a.clamp_min(0.1), [[(3, 4)], [()]]),
    OpRow("clamp_max", lambda a: a.clamp_max(0.1), [[(3, 4)], [(0, 3)]]),
]
