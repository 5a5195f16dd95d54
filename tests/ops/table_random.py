"""Op-table rows for the 'random' family (ganglion/ops/random*.py).

Random draws differ from torch's (another bit generator), so the rows use the deterministic
corners: dropout outside training or with p in {0, 1}, ``normal`` with std 0, ``bernoulli`` of
0/1 probabilities. They check values, gradients (zero for samples, as torch defines them) and
second derivatives; tests/ops/test_random.py checks the distributions."""
import ganglion
from tests.ops.op_table import OpRow


def F(t):
    if isinstance(t, ganglion.Tensor):
        return ganglion
    import torch  # noqa: PLC0415 - test oracle

    return torch.nn.functional


def L(t):
    if isinstance(t, ganglion.Tensor):
        return ganglion
    import torch  # noqa: PLC0415

    return torch


def _zero_one(rng, dtype, case):
    return [rng.integers(0, 2, s).astype(dtype) for s in case]


ROWS = [
    OpRow("dropout_eval", lambda x: F(x).dropout(x, 0.3, training=False) * 2,
          [[(3, 4)], [()], [(0, 2)]]),
    OpRow("dropout_p0", lambda x: F(x).dropout(x, 0.0) * 2, [[(3, 4)]]),
    OpRow("dropout_p1", lambda x: F(x).dropout(x, 1.0) + x, [[(3, 4)], [()]]),
    OpRow("alpha_dropout_eval", lambda x: F(x).alpha_dropout(x, 0.3) * 2, [[(3, 4)]]),
    OpRow("dropout2d_eval", lambda x: F(x).dropout2d(x, 0.3, training=False) * 2,
          [[(2, 3, 2, 2)]]),
    # torch defines a sample's gradient in its parameters as 0 (finite differences see 1)
    OpRow("normal_std0", lambda m: L(m).normal(m, 0.0) + m, [[(3, 4)], [()]], fd=False),
    OpRow("normal_tensor_std0", lambda m, s: L(m).normal(m, s * 0) + m * s,
          [[(3, 4), (4,)]], fd=False),
    OpRow("bernoulli_01", lambda p: L(p).bernoulli(p) + p, [[(3, 4)]], make_inputs=_zero_one,
          fd=False),
]
