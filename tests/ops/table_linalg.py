"""Op-table rows for the 'linalg' family (ganglion/ops/linalg*.py)."""
import math

import numpy as np

import ganglion
from tests.ops.op_table import OpRow

INF = math.inf
# Piecewise-linear norms have an identically zero second derivative, which torch returns as a
# ZeroTensor that ganglion.testing.from_torch cannot convert (t.detach().numpy() raises):
# their gradgrad check is off until from_torch handles it.
ZERO_2ND = True  # torch returns ZeroTensors here; testing.from_torch handles them


def L(t):
    """The library a tensor belongs to (ganglion or torch), for functions outside Tensor."""
    if isinstance(t, ganglion.Tensor):
        return ganglion
    import torch  # noqa: PLC0415 - test oracle

    return torch


def _F(t):
    return L(t).nn.functional if not isinstance(t, ganglion.Tensor) else ganglion


def _vn(ord, **kw):
    return lambda a: L(a).linalg.vector_norm(a, ord, **kw)


def _mn(ord, **kw):
    return lambda a: L(a).linalg.matrix_norm(a, ord, **kw)


def _well_conditioned(n, batch=()):
    def make(rng, dtype, case):
        a = rng.uniform(-1, 1, batch + (n, n)) + 3 * np.eye(n)
        extra = [rng.uniform(-1, 1, s) for s in case[1:]]
        return [a.astype(dtype)] + [e.astype(dtype) for e in extra]

    return make


def _spd_fn(upper=False):
    def fn(a):
        lib = L(a)
        eye = lib.eye(a.shape[-1], dtype=a.dtype)
        return lib.linalg.cholesky(a @ a.transpose(-2, -1) + 3 * eye, upper=upper)

    return fn


MATMUL_CASES = [
    [(3, 4), (4, 5)], [(4,), (4,)], [(4,), (4, 5)], [(3, 4), (4,)], [(2, 1, 3, 4), (5, 4, 2)],
    [(2, 3, 4), (4,)], [(4,), (2, 4, 3)], [(3, 0), (0, 4)], [(2, 3, 4), (4, 5)],
    [(3, 4), (2, 4, 5)], [(0, 3, 4), (4, 2)],
]

ROWS = [
    OpRow("matmul", lambda a, b: a @ b, MATMUL_CASES),
    OpRow("matmul_fn", lambda a, b: L(a).matmul(a, b), [[(2, 3), (3, 2)]]),
    OpRow("rmatmul_method", lambda a, b: b.__rmatmul__(a), [[(2, 3), (3, 2)]]),
    OpRow("mm", lambda a, b: a.mm(b), [[(3, 4), (4, 5)], [(2, 0), (0, 3)]]),
    OpRow("bmm", lambda a, b: a.bmm(b), [[(2, 3, 4), (2, 4, 5)], [(0, 3, 4), (0, 4, 2)]]),
    OpRow("mv", lambda a, b: a.mv(b), [[(3, 4), (4,)]]),
    OpRow("dot", lambda a, b: a.dot(b), [[(5,), (5,)], [(0,), (0,)]]),
    OpRow("vdot", lambda a, b: L(a).vdot(a, b), [[(5,), (5,)]]),
    OpRow("outer", lambda a, b: a.outer(b), [[(3,), (4,)], [(0,), (2,)]]),
    OpRow("ger", lambda a, b: a.ger(b), [[(3,), (4,)]]),
    OpRow("inner", lambda a, b: a.inner(b), [[(3, 2), (4, 2)], [(2, 3, 4), (4,)], [(), (3,)]]),
    OpRow("tensordot", lambda a, b: L(a).tensordot(a, b, dims=([1, -1], [1, 0])),
          [[(2, 3, 4), (4, 3, 5)]]),
    OpRow("tensordot_int", lambda a, b: L(a).tensordot(a, b, dims=2),
          [[(2, 3, 4), (3, 4, 5)]]),
    OpRow("einsum_mm", lambda a, b: L(a).einsum("ij,jk->ik", a, b), [[(3, 4), (4, 5)]]),
    OpRow("einsum_bmm", lambda a, b: L(a).einsum("bij,bjk->bik", a, b),
          [[(2, 3, 4), (2, 4, 5)]]),
    OpRow("einsum_diag", lambda a: L(a).einsum("ii->i", a), [[(3, 3)]]),
    OpRow("einsum_trace", lambda a: L(a).einsum("ii", a), [[(4, 4)]]),
    OpRow("einsum_sum", lambda a: L(a).einsum("ij->", a), [[(3, 4)], [(0, 4)]]),
    OpRow("einsum_outer", lambda a, b: L(a).einsum("i,j->ij", a, b), [[(3,), (4,)]]),
    OpRow("einsum_transpose", lambda a: L(a).einsum("ij->ji", a), [[(3, 4)]]),
    OpRow("einsum_implicit", lambda a, b: L(a).einsum("ij,kj", a, b), [[(3, 4), (5, 4)]]),
    OpRow("einsum_three", lambda a, b, c: L(a).einsum("ij,jk,kl->il", a, b, c),
          [[(2, 3), (3, 4), (4, 5)]]),
    OpRow("einsum_list", lambda a, b: L(a).einsum("ij,jk->ik", [a, b]), [[(3, 4), (4, 2)]]),
    OpRow("einsum_ellipsis", lambda a, b: L(a).einsum("...ij,...jk->...ik", a, b),
          [[(2, 1, 2, 3), (4, 3, 5)]]),
    OpRow("einsum_broadcast_label", lambda a, b: L(a).einsum("ij,jk->ik", a, b),
          [[(2, 1), (3, 5)]]),
    OpRow("einsum_inner_only", lambda a, b: L(a).einsum("ij,k->k", a, b), [[(2, 3), (4,)]]),
    OpRow("einsum_sublist", lambda a, b: L(a).einsum(a, [0, 1], b, [1, 2], [0, 2]),
          [[(3, 4), (4, 2)]]),
    OpRow("linear", lambda x, w: _F(x).linear(x, w), [[(4, 3), (5, 3)], [(3,), (5, 3)],
                                                      [(0, 3), (2, 3)]]),
    OpRow("linear_bias", lambda x, w, b: _F(x).linear(x, w, b),
          [[(4, 3), (5, 3), (5,)], [(2, 4, 3), (5, 3), (5,)], [(4, 3), (5, 3), ()],
           [(4, 3), (5, 3), (4, 5)], [(3,), (3,), ()]]),
    OpRow("addmm", lambda i, a, b: i.addmm(a, b, beta=0.5, alpha=2.0),
          [[(3,), (2, 4), (4, 3)], [(2, 3), (2, 4), (4, 3)]]),
    OpRow("addmm_fn", lambda i, a, b: L(i).addmm(i, a, b), [[(2, 3), (2, 4), (4, 3)]]),
    OpRow("addmm_beta0", lambda i, a, b: L(i).addmm(i, a, b, beta=0), [[(2, 3), (2, 4), (4, 3)]]),
    OpRow("baddbmm", lambda i, a, b: i.baddbmm(a, b, beta=1.5, alpha=0.5),
          [[(3, 2), (4, 3, 5), (4, 5, 2)]]),
    OpRow("addbmm", lambda i, a, b: i.addbmm(a, b, beta=1.5, alpha=0.5),
          [[(3, 2), (4, 3, 5), (4, 5, 2)]]),
    OpRow("addmv", lambda i, a, b: i.addmv(a, b, alpha=2), [[(3,), (3, 4), (4,)]]),
    OpRow("addr", lambda i, a, b: i.addr(a, b, beta=2), [[(3, 4), (3,), (4,)]]),
    # norms (inputs in [-2, 2] stay off the kinks at 0 and off ties)
    OpRow("vector_norm", lambda a: L(a).linalg.vector_norm(a), [[(3, 4)], [()], [(0, 3)]]),
    OpRow("vector_norm_dim", lambda a: L(a).linalg.vector_norm(a, dim=-1, keepdim=True),
          [[(3, 4)]]),
    OpRow("vector_norm_ord1", _vn(1, dim=(0, -1)), [[(3, 2, 4)]], gradgrad=ZERO_2ND),
    OpRow("vector_norm_inf", _vn(INF, dim=1), [[(3, 4)]], gradgrad=ZERO_2ND),
    OpRow("vector_norm_ninf", _vn(-INF), [[(3, 4)]], gradgrad=ZERO_2ND),
    OpRow("vector_norm_p3", _vn(3, dim=0), [[(3, 4)]]),
    OpRow("vector_norm_p1_5", _vn(1.5), [[(3, 4)]]),
    OpRow("vector_norm_p0_5", _vn(0.5, dim=-1), [[(3, 4)]], low=0.3, high=2.0),
    OpRow("vector_norm_p0", _vn(0, dim=-1), [[(3, 4)]], gradgrad=False),
    OpRow("matrix_norm_fro", _mn("fro"), [[(2, 3, 4)], [(3, 4)]]),
    OpRow("matrix_norm_1", _mn(1), [[(2, 3, 4)]], gradgrad=ZERO_2ND),
    OpRow("matrix_norm_ninf", _mn(-INF, dim=(0, 2), keepdim=True), [[(3, 2, 4)]],
          gradgrad=ZERO_2ND),
    OpRow("matrix_norm_inf", _mn(INF), [[(3, 4)]], gradgrad=ZERO_2ND),
    OpRow("matrix_norm_nuc", _mn("nuc"), [[(3, 4)], [(2, 4, 3)]]),
    OpRow("matrix_norm_2", _mn(2), [[(3, 4)]]),
    OpRow("matrix_norm_m2", _mn(-2, keepdim=True), [[(4, 3)]]),
    OpRow("linalg_norm", lambda a: L(a).linalg.norm(a), [[(2, 3, 4)], [()]]),
    OpRow("linalg_norm_ord", lambda a: L(a).linalg.norm(a, INF), [[(3, 4)], [(5,)]],
          gradgrad=ZERO_2ND),
    OpRow("linalg_norm_dim", lambda a: L(a).linalg.norm(a, 3, dim=-1), [[(3, 4)]]),
    OpRow("linalg_norm_fro_dims", lambda a: L(a).linalg.norm(a, "fro", dim=(0, 2)),
          [[(3, 2, 4)]]),
    OpRow("tensor_norm", lambda a: a.norm(), [[(3, 4)]]),
    OpRow("tensor_norm_p", lambda a: a.norm(p=1, dim=(1, 2)), [[(2, 3, 4)]], gradgrad=ZERO_2ND),
    OpRow("tensor_norm_dim", lambda a: a.norm(dim=1, keepdim=True), [[(3, 4)]]),
    OpRow("vecdot", lambda a, b: L(a).linalg.vecdot(a, b), [[(2, 3), (3,)]]),
    OpRow("multi_dot", lambda a, b, c: L(a).linalg.multi_dot([a, b, c]),
          [[(2, 3), (3, 4), (4,)], [(5, 2), (2, 6), (6, 3)]]),
    # decompositions (well-conditioned inputs; gradients assume the generic case)
    OpRow("inv", lambda a: L(a).linalg.inv(a), [[(3, 3)], [(2, 3, 3)]],
          make_inputs=_well_conditioned(3)),
    OpRow("det", lambda a: L(a).linalg.det(a), [[(3, 3)], [(2, 3, 3)]],
          make_inputs=_well_conditioned(3)),
    OpRow("slogdet", lambda a: L(a).linalg.slogdet(a)[1], [[(3, 3)]],
          make_inputs=_well_conditioned(3)),
    OpRow("solve", lambda a, b: L(a).linalg.solve(a, b), [[(3, 3), (3, 2)], [(3, 3), (3,)]],
          make_inputs=_well_conditioned(3)),
    OpRow("solve_right", lambda a, b: L(a).linalg.solve(a, b, left=False),
          [[(3, 3), (2, 3)]], make_inputs=_well_conditioned(3)),
    OpRow("cholesky", _spd_fn(), [[(3, 3)], [(2, 3, 3)]]),
    OpRow("cholesky_upper", _spd_fn(upper=True), [[(3, 3)]]),
    OpRow("svdvals", lambda a: L(a).linalg.svdvals(a), [[(4, 3)], [(3, 4)]]),
    OpRow("svd_reduced", lambda a: _svd_invariant(a), [[(4, 3)], [(3, 4)], [(3, 3)]]),
]


def _svd_invariant(a):
    """Sign-invariant functions of U and Vh (singular vectors are defined up to sign)."""
    U, S, Vh = L(a).linalg.svd(a, full_matrices=False)
    return U * U, S, Vh * Vh, U @ Vh
