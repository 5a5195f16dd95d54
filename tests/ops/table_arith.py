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
]
