"""Op-table rows for reductions (ganglion/ops/reduce.py, reduce_stats.py, reduce_scan.py; the
``norm`` rows exercise Tensor.norm from the linalg family). Random inputs have no ties; tied
inputs are tested in test_reduce.py."""
import math

from tests.ops.op_table import OpRow

# the usual cases: 0-d, a matrix, a 3-d tensor, an empty dimension
C = [[()], [(3, 4)], [(2, 3, 4)], [(0, 4)]]
C_DIM = [[(3, 4)], [(2, 3, 4)], [(0, 4)]]  # cases for a row reducing dim -1 / dims (0, 1)
C_NONEMPTY = [[()], [(3, 4)], [(2, 3, 4)]]
C_ND = [[(3, 4)], [(2, 3, 4)]]


def _torch():
    import torch  # noqa: PLC0415 - the oracle, only for rows whose torch spelling differs

    return torch


def _with_zeros(per_row):
    """Inputs with ``per_row`` exact zeros in each row of the last dim (prod/cumprod's hard
    case); the other entries stay away from zero."""
    def make(rng, dtype, case):
        out = []
        for shape in case:
            a = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
            rows = a.reshape(-1, shape[-1])
            for r in rows:
                r[rng.choice(shape[-1], per_row, replace=False)] = 0.0
            out.append(rows.reshape(shape).astype(dtype))
        return out
    return make


def _var_mean(a):
    return _torch().var_mean(a, 1)


ROWS = [
    OpRow("sum_all", lambda a: a.sum(), C),
    OpRow("sum_dim", lambda a: a.sum(-1), C_DIM),
    OpRow("sum_dims_keepdim", lambda a: a.sum((0, -1), keepdim=True), C_DIM),
    OpRow("sum_to_size", lambda a: a.sum_to_size(1, 4), [[(3, 4)], [(2, 3, 4)]]),
    OpRow("mean_all", lambda a: a.mean(), C),
    OpRow("mean_dim", lambda a: a.mean(-1), C_DIM),
    OpRow("mean_dims_keepdim", lambda a: a.mean((0, 1), keepdim=True), C_DIM),
    OpRow("nansum", lambda a: a.nansum(-1), C_DIM),
    OpRow("nanmean", lambda a: a.nanmean((0, 1), keepdim=True), C_ND),
    OpRow("prod_all", lambda a: a.prod(), [[()], [(3, 4)], [(2, 3)]], low=0.5, high=1.5),
    OpRow("prod_dim", lambda a: a.prod(-1), C_DIM, low=0.5, high=1.5),
    OpRow("prod_dim_keepdim", lambda a: a.prod(0, keepdim=True), C_DIM, low=0.5, high=1.5),
    OpRow("prod_one_zero", lambda a: a.prod(-1), C_ND, make_inputs=_with_zeros(1)),
    OpRow("prod_all_one_zero", lambda a: a.prod(), [[(1, 5)], [(1, 3)]],
          make_inputs=_with_zeros(1)),
    OpRow("prod_two_zeros", lambda a: a.prod(-1), C_ND, make_inputs=_with_zeros(2)),
    OpRow("amax_dim", lambda a: a.amax(-1), C_DIM),
    OpRow("amax_dims_keepdim", lambda a: a.amax((0, 1), keepdim=True), C_ND),
    OpRow("amax_all", lambda a: a.amax(), C_NONEMPTY),
    OpRow("amin_dim", lambda a: a.amin(-1), C_DIM),
    OpRow("amin_dims", lambda a: a.amin((0, -1)), C_ND),
    OpRow("max_all", lambda a: a.max(), C_NONEMPTY),
    OpRow("max_dim", lambda a: a.max(-1), [[()], [(3, 4)], [(2, 3, 4)], [(0, 4)]]),
    OpRow("max_dim_keepdim", lambda a: a.max(0, keepdim=True), C_ND),
    OpRow("max_other", lambda a, b: a.max(b), [[(3, 4), (3, 4)], [(2, 3, 4), (4,)]]),
    OpRow("min_all", lambda a: a.min(), C_NONEMPTY),
    OpRow("min_dim", lambda a: a.min(-1), [[()], [(3, 4)], [(2, 3, 4)], [(0, 4)]]),
    OpRow("min_dim_keepdim", lambda a: a.min(1, keepdim=True), C_ND),
    OpRow("var_all", lambda a: a.var(), C_ND),
    OpRow("var_dim", lambda a: a.var(-1), C_DIM),
    OpRow("var_dims_keepdim", lambda a: a.var((0, 1), keepdim=True), C_DIM),
    OpRow("var_correction0", lambda a: a.var(1, correction=0), C_ND + [[(0, 4)]]),
    OpRow("var_0d", lambda a: a.var(correction=0), [[()]], fd=False),
    OpRow("var_unbiased_false", lambda a: a.var(-1, False, True), C_ND),
    OpRow("std_all", lambda a: a.std(), C_ND),
    OpRow("std_dim", lambda a: a.std(-1), C_DIM),
    OpRow("std_dims_keepdim", lambda a: a.std((0, 1), keepdim=True, correction=2), C_ND),
    OpRow("var_mean", lambda a: __import__("ganglion").var_mean(a, 1), C_ND,
          torch_fn=_var_mean),
    OpRow("std_mean", lambda a: __import__("ganglion").std_mean(a, -1, correction=0), C_ND,
          torch_fn=lambda a: _torch().std_mean(a, -1, correction=0)),
    OpRow("logsumexp_dim", lambda a: a.logsumexp(-1), C_DIM),
    OpRow("logsumexp_dims_keepdim", lambda a: a.logsumexp((0, 1), keepdim=True), C_DIM),
    OpRow("logsumexp_0d", lambda a: a.logsumexp(0), [[()]]),
    OpRow("logsumexp_empty_dim", lambda a: a.logsumexp(0), [[(0, 4)]], fd=False),
    OpRow("norm_fro", lambda a: a.norm(), C),
    OpRow("norm_2_dim", lambda a: a.norm(dim=-1), C_DIM),
    OpRow("norm_fro_dims", lambda a: a.norm("fro", dim=(0, 1), keepdim=True), C_ND),
    OpRow("norm_1", lambda a: a.norm(1, dim=1), C_ND),
    OpRow("norm_inf", lambda a: a.norm(math.inf, dim=-1), C_ND),
    OpRow("norm_neg_inf", lambda a: a.norm(-math.inf), C_ND),
    OpRow("norm_3", lambda a: a.norm(3, dim=(0, 1)), C_ND),
    OpRow("norm_1_5", lambda a: a.norm(1.5, dim=-1), C_ND),
    OpRow("norm_0_5", lambda a: a.norm(0.5, dim=-1), C_ND),
    OpRow("norm_0", lambda a: a.norm(0, dim=-1), C_ND, fd=False),
    OpRow("median_all", lambda a: a.median(), C_NONEMPTY),
    OpRow("median_dim", lambda a: a.median(-1), [[()], [(3, 4)], [(2, 3, 5)], [(0, 4)]]),
    OpRow("median_dim_keepdim", lambda a: a.median(0, keepdim=True), C_ND),
    OpRow("cumsum", lambda a: a.cumsum(-1), C_DIM),
    OpRow("cumsum_dim0", lambda a: a.cumsum(0), C),
    OpRow("cumprod", lambda a: a.cumprod(-1), C_DIM, low=0.5, high=1.5),
    OpRow("cumprod_dim0", lambda a: a.cumprod(0), C, low=0.5, high=1.5),
    OpRow("cumprod_one_zero", lambda a: a.cumprod(-1), [[(3, 5)], [(2, 2, 4)]],
          make_inputs=_with_zeros(1)),
    OpRow("cumprod_two_zeros", lambda a: a.cumprod(-1), [[(3, 5)]],
          make_inputs=_with_zeros(2)),
]

ROWS += [
    OpRow("diff", lambda a: a.diff(), [[(5,)], [(3, 4)]]),
    OpRow("diff_n2_dim0", lambda a: a.diff(n=2, dim=0), [[(5, 3)]]),
    OpRow("diff_prepend", lambda a, b: a.diff(dim=-1, prepend=b), [[(3, 4), (3, 2)]]),
]
