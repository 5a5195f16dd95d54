"""Op-table rows for the indexing family (ganglion/ops/indexing*.py).

Index inputs are int64/bool arrays built by ``make_inputs`` and marked ``requires_grad=False``;
repeated indices are included wherever gradients must sum (getitem, index_select, gather,
scatter_add, index_add, take, put/index_put with accumulate).
"""
import numpy as np

from tests.ops.op_table import OpRow


def _x(rng, dtype, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape).astype(dtype)


def _idx(*arrays):
    return [np.asarray(a, dtype=np.int64) for a in arrays]


def _with(*index_fns, low=-2.0, high=2.0):
    """make_inputs: a float input of the case's first shape, then index arrays from index_fns."""
    def make(rng, dtype, case):
        x = _x(rng, dtype, case[0], low, high)
        return [x] + [f(rng, case[0]) for f in index_fns]
    return make


def _rep(n, size):
    """``n`` int64 indices in [0, size) with at least one repeat (when n >= 2 and size >= 1)."""
    def f(rng, shape):
        s = size(shape) if callable(size) else size
        i = rng.integers(0, s, n)
        if n >= 2:
            i[-1] = i[0]
        return i.astype(np.int64)
    return f


def _gather_idx(dim, extra=0):
    """An index for gather/scatter_add along ``dim``: the input's shape with size+extra at dim."""
    def f(rng, shape):
        s = list(shape)
        s[dim] = s[dim] + extra
        return rng.integers(0, shape[dim], s).astype(np.int64)
    return f


def _perm_idx(dim, k):
    """A scatter index along ``dim`` with no repeats within a line (scatter overwrites)."""
    def f(rng, shape):
        s = list(shape)
        s[dim] = k
        keys = rng.uniform(size=tuple(shape))
        order = np.argsort(keys, axis=dim)
        return np.take(order, np.arange(k), axis=dim).astype(np.int64)
    return f


def _src(shape_fn):
    def f(rng, shape):
        return _x(rng, np.float64, shape_fn(shape))
    return f


def _mask(shape_fn):
    def f(rng, shape):
        return np.asarray(rng.uniform(size=shape_fn(shape)) > 0.5)
    return f


def _typed(fn):
    """Cast float64 helper inputs to the row dtype (src arrays above are drawn as float64)."""
    def make(rng, dtype, case):
        return [a.astype(dtype) if a.dtype.kind == "f" else a for a in fn(rng, dtype, case)]
    return make


X3 = [[(3, 4, 5)]]
NG2 = [True, False]  # float input requires grad, index input does not
NG3 = [True, False, False]

ROWS = [
    # -- __getitem__ ------------------------------------------------------------------------
    OpRow("getitem_basic", lambda a: a[1:, None, ::2, -1], X3),
    OpRow("getitem_neg_slice", lambda a: a[-2:, ..., -4:-1], [[(3, 4, 5)], [(0, 5)]]),
    OpRow("getitem_0d", lambda a: a[...] * a[None], [[()]]),
    OpRow("getitem_int_list", lambda a: a[[0, 2, 0, -1]], X3),
    OpRow("getitem_index_repeat", lambda a, i: a[i], X3, make_inputs=_with(_rep(6, 3)),
          requires_grad=NG2),
    OpRow("getitem_index_empty", lambda a, i: a[:, i], [[(3, 4)]],
          make_inputs=_with(lambda rng, s: np.zeros(0, np.int64)), requires_grad=NG2),
    OpRow("getitem_mixed", lambda a, i, j: a[i, 1:, j], X3,
          make_inputs=_with(_rep(4, 3), _rep(4, 5)), requires_grad=NG3),
    OpRow("getitem_int_then_index", lambda a, i: a[1, :, i], X3,
          make_inputs=_with(_rep(5, 5)), requires_grad=NG2),
    OpRow("getitem_separated", lambda a, i, j: a[i, :, j], X3,
          make_inputs=_with(lambda r, s: r.integers(0, 3, (2, 1)), _rep(3, 5)),
          requires_grad=NG3),
    OpRow("getitem_bool", lambda a, m: a[m], [[(3, 4, 5)], [(4, 5)]],
          make_inputs=_with(_mask(lambda s: s[:2])), requires_grad=NG2),
    OpRow("getitem_bool_inner", lambda a, m: a[:, m], X3,
          make_inputs=_with(_mask(lambda s: s[1:2])), requires_grad=NG2),
    # -- index_put / take / put -------------------------------------------------------------
    OpRow("index_put_acc", lambda a, i, v: a.index_put((i,), v, accumulate=True), X3,
          make_inputs=_typed(_with(_rep(4, 3), _src(lambda s: (4,) + s[1:]))),
          requires_grad=[True, False, True]),
    OpRow("index_put", lambda a, i, v: a.index_put((i, i), v), X3,
          make_inputs=_typed(_with(lambda r, s: np.array([2, 0], np.int64),
                                   _src(lambda s: (s[2],)))),
          requires_grad=[True, False, True]),
    OpRow("take", lambda a, i: a.take(i), X3,
          make_inputs=_with(lambda r, s: r.integers(-60, 60, (2, 3)).astype(np.int64)),
          requires_grad=NG2),
    OpRow("put_acc", lambda a, i, v: a.put(i, v, accumulate=True), X3,
          make_inputs=_typed(_with(_rep(5, 60), _src(lambda s: (5,)))),
          requires_grad=[True, False, True]),
    # -- gather / scatter -------------------------------------------------------------------
    OpRow("gather", lambda a, i: a.gather(-1, i), X3,
          make_inputs=_with(_gather_idx(2, 2)), requires_grad=NG2),
    OpRow("gather_dim0_small", lambda a, i: a.gather(0, i[:2, :3]), X3,
          make_inputs=_with(_gather_idx(0)), requires_grad=NG2),
    OpRow("scatter_add", lambda a, i, s: a.scatter_add(1, i, s), X3,
          make_inputs=_typed(_with(_gather_idx(1, 2), _src(lambda s: (3, 6, 5)))),
          requires_grad=[True, False, True]),
    OpRow("scatter_src", lambda a, i, s: a.scatter(-1, i, s), X3,
          make_inputs=_typed(_with(_perm_idx(2, 3), _src(lambda s: (3, 4, 3)))),
          requires_grad=[True, False, True]),
    OpRow("scatter_value", lambda a, i: a.scatter(0, i, 1.5), X3,
          make_inputs=_with(_perm_idx(0, 2)), requires_grad=NG2),
] + [
    OpRow(f"scatter_reduce_{red}_{inc}",
          lambda a, i, s, red=red, inc=inc: a.scatter_reduce(1, i, s, red, include_self=inc),
          X3, make_inputs=_typed(_with(_gather_idx(1, 2), _src(lambda s: (3, 6, 5)),
                                       low=0.5, high=2.0)),
          requires_grad=[True, False, True], fd_atol=1e-4)
    for red in ("sum", "mean", "amax", "amin", "prod") for inc in (True, False)
] + [
    # -- index_* ----------------------------------------------------------------------------
    OpRow("index_select", lambda a, i: a.index_select(-2, i), X3,
          make_inputs=_with(_rep(6, 4)), requires_grad=NG2),
    OpRow("index_select_0d", lambda a, i: a.index_select(0, i), [[()]],
          make_inputs=_with(lambda r, s: np.zeros((), np.int64)), requires_grad=NG2),
    OpRow("index_add", lambda a, i, s: a.index_add(1, i, s, alpha=0.5), X3,
          make_inputs=_typed(_with(_rep(6, 4), _src(lambda s: (3, 6, 5)))),
          requires_grad=[True, False, True]),
    OpRow("index_copy", lambda a, i, s: a.index_copy(2, i, s), X3,
          make_inputs=_typed(_with(lambda r, s: np.array([4, 0], np.int64),
                                   _src(lambda s: (3, 4, 2)))),
          requires_grad=[True, False, True]),
    OpRow("index_fill_tensor", lambda a, i, v: a.index_fill(-1, i, v), X3,
          make_inputs=_typed(_with(_rep(3, 5), _src(lambda s: ()))),
          requires_grad=[True, False, True]),
    OpRow("take_along_dim", lambda a, i: a.take_along_dim(i, dim=1), X3,
          make_inputs=_with(lambda r, s: r.integers(0, 4, (3, 6, 1)).astype(np.int64)),
          requires_grad=NG2),
    OpRow("take_along_dim_flat", lambda a, i: a.take_along_dim(i), X3,
          make_inputs=_with(_rep(7, 60)), requires_grad=NG2),
    # -- masks ------------------------------------------------------------------------------
    OpRow("masked_fill", lambda a, m: a.masked_fill(m, -1.0), X3,
          make_inputs=_with(_mask(lambda s: s[1:])), requires_grad=NG2),
    OpRow("masked_fill_tensor", lambda a, m, v: a.masked_fill(m, v), [[(4, 5)], [()]],
          make_inputs=_typed(_with(_mask(lambda s: s), _src(lambda s: ()))),
          requires_grad=[True, False, True]),
    OpRow("masked_fill_bcast_input", lambda a, m: a.masked_fill(m, 0.5), [[(5,)]],
          make_inputs=_with(_mask(lambda s: (3,) + s)), requires_grad=NG2),
    OpRow("masked_select", lambda a, m: a.masked_select(m), X3,
          make_inputs=_with(_mask(lambda s: s[2:])), requires_grad=NG2),
    OpRow("masked_scatter", lambda a, m, s: a.masked_scatter(m, s), [[(4, 5)]],
          make_inputs=_typed(_with(_mask(lambda s: s), _src(lambda s: (25,)))),
          requires_grad=[True, False, True]),
    # -- ordering (random floats: no ties, so indices compare exactly) ----------------------
    OpRow("sort", lambda a: a.sort(dim=1), [[(3, 4, 5)], [(0, 3)]]),
    OpRow("sort_0d", lambda a: a.sort(), [[()]]),
    OpRow("sort_desc", lambda a: a.sort(dim=-1, descending=True), X3),
    OpRow("topk", lambda a: a.topk(2, dim=-1), X3),
    OpRow("topk_smallest", lambda a: a.topk(3, dim=0, largest=False), [[(4, 5)]]),
    OpRow("kthvalue", lambda a: a.kthvalue(2, dim=1), X3),
    OpRow("kthvalue_keepdim", lambda a: a.kthvalue(3, 0, keepdim=True), [[(4, 5)]]),
    OpRow("msort", lambda a: a.msort(), [[(4, 5)]]),
]
