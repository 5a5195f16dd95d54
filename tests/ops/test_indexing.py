"""Targeted tests for the indexing family: key forms, setitem, errors, ties, dtypes, one_hot."""
import warnings

import numpy as np
import pytest

import ganglion
from ganglion.ops.indexing import one_hot
from ganglion.testing import check_against_torch

torch = pytest.importorskip("torch")


def _mod(t):
    return torch if isinstance(t, torch.Tensor) else ganglion


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.array)


X = np.random.default_rng(0).uniform(-1, 1, (5, 6, 7))

# Each key is built per library (index tensors of that library) from the module M.
KEYS = [
    lambda M: 2, lambda M: -1, lambda M: (slice(1, 4), None, Ellipsis, 3),
    lambda M: (slice(None, None, 2), slice(-3, None), slice(-1, -6, 1)),
    lambda M: (Ellipsis, None), lambda M: (None, Ellipsis, 0), lambda M: slice(-2, -5),
    lambda M: [0, 0, 4, -1], lambda M: ([0, 1], slice(None), 0),
    lambda M: (0, slice(None), [1, 2, 1]),  # torch: (6, 3); NumPy would give (3, 6)
    lambda M: ([0, 1], None, [1, 2]), lambda M: (slice(None), [0, 1], None, [1, 2]),
    lambda M: ([[0], [1]], slice(1, 3), [2, 3, 2]), lambda M: (Ellipsis, [0, 0], [1, 1]),
    lambda M: M.tensor(1), lambda M: (M.tensor(1), slice(None), [1, 2]),
    lambda M: M.tensor([[0, 1], [4, 4]]), lambda M: (M.tensor([0, 2]), M.tensor([[1], [5]])),
    lambda M: M.tensor([0, 3], dtype=M.int32), lambda M: (2, Ellipsis, [0, 0, 1]),
    lambda M: M.tensor([True, False, True, True, False]),
    lambda M: (slice(None), M.tensor(np.array([[True, False] * 3] * 7).T.copy())),
    lambda M: (M.tensor([True, False, True, False, True]), slice(None), [1, 2, 3]),
    lambda M: True, lambda M: (0, True), lambda M: (Ellipsis, False), lambda M: [],
    lambda M: [[0, 1], [1, 2]],  # a list of lists is a tuple of indices (torch's rule)
    lambda M: np.array([[0, 1], [1, 2]]), lambda M: (np.int64(2), np.array([1, 1])),
]


@pytest.mark.parametrize("k", range(len(KEYS)))
def test_getitem_matches_torch(k):
    def fn(t):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return t[KEYS[k](_mod(t))] * 1.0
    check_against_torch(fn, inputs=[X], gradgrad=True, atol=1e-12, rtol=1e-12)


def test_getitem_repeated_indices_sum_gradient():
    x = ganglion.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


@pytest.mark.parametrize("key,exc,match", [
    (lambda M: (slice(None, None, -1),), ValueError, "step must be greater than zero"),
    (lambda M: (7,), IndexError, "index 7 is out of bounds for dimension 0 with size 5"),
    (lambda M: (slice(None), 9), IndexError, "index 9 is out of bounds for dimension 1 with "
                                             "size 6"),
    (lambda M: ([0, 5],), IndexError, "index 5 is out of bounds"),
    (lambda M: M.tensor([-6]), IndexError, "index -6 is out of bounds"),
    (lambda M: (0, 0, 0, 0), IndexError, "too many indices for tensor of dimension 3"),
    (lambda M: (1.5,), IndexError, "only integers, slices"),
    (lambda M: M.tensor([1.0]), IndexError, "tensors used as indices must be long, int, byte"),
    (lambda M: ([0, 1], [0, 1, 2]), IndexError, "shape mismatch"),
    (lambda M: M.tensor([True, False]), IndexError, "The shape of the mask"),
])
def test_getitem_errors_like_torch(key, exc, match):
    with pytest.raises(exc, match=match):
        ganglion.tensor(X)[key(ganglion)]
    with pytest.raises(exc):
        torch.tensor(X)[key(torch)]


def test_basic_getitem_is_a_view():
    x = ganglion.zeros(3, 4)
    row, elem = x[1], x[2, 3]
    row.add_(1.0)
    elem.fill_(7.0)
    assert x[1].tolist() == [1.0] * 4 and x[2, 3].item() == 7.0
    assert row._version == x._version == elem._version


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16", "uint8"])
def test_getitem_keeps_dtype(dtype):
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    g, t = ganglion.from_numpy(a.copy()), torch.from_numpy(a.copy())
    for key in ((1,), ([0, 2], slice(1, 3)), (a[:, 0] > 0,)):
        assert np.array_equal(_np(g[key]), _np(t[key])) and g[key].dtype.name == dtype


# -- setitem ---------------------------------------------------------------------------------
SET_KEYS = [
    lambda M: 1, lambda M: (slice(None), 2), lambda M: (Ellipsis, slice(1, 5, 2)),
    lambda M: ([0, 3], slice(None), 1), lambda M: (0, slice(None), [1, 2]),
    lambda M: M.tensor([True, False, True, False, True]), lambda M: (None, 1),
]


@pytest.mark.parametrize("k", range(len(SET_KEYS)))
@pytest.mark.parametrize("value_kind", ["number", "tensor", "broadcast"])
def test_setitem_matches_torch_with_grads(k, value_kind):
    def fn(a, v):
        M = _mod(a)
        y = a.clone()
        key = SET_KEYS[k](M)
        if value_kind == "number":
            y[key] = 0.5
            return y * v.sum()
        slot = tuple(y[key].shape)
        vv = v.reshape(-1)[:int(np.prod(slot))].reshape(slot) if value_kind == "tensor" \
            else v.reshape(-1)[:slot[-1] if slot else 1].reshape(slot[-1:] if slot else ())
        y[key] = vv * 2
        return y
    v = np.random.default_rng(1).uniform(-1, 1, (5 * 6 * 7,))
    check_against_torch(fn, inputs=[X, v], gradgrad=True, atol=1e-12, rtol=1e-12)


def test_setitem_fast_path_casts_and_bumps_version():
    for M in (ganglion, torch):
        x = M.zeros(4, dtype=M.int64)
        x[1] = 2.7
        x[M.tensor([False, False, True, True])] = M.tensor([5, 6])
        x[0:1] = M.tensor([[9]])  # leading 1-dims of the value are dropped, as in torch
        assert x.tolist() == [9, 2, 5, 6] and x._version == 3


def test_setitem_value_requires_grad_into_plain_tensor():
    v = ganglion.tensor(3.0, requires_grad=True)
    out = ganglion.zeros(3)
    out[1] = v
    (out * ganglion.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert v.grad.item() == 2.0 and out.grad_fn is not None


def test_setitem_errors():
    leaf = ganglion.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf[0] = 2.0
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape \\[2\\]"):
        ganglion.zeros(3)[0:3] = ganglion.ones(2)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        ganglion.zeros(3)[::-1] = 1.0
    with pytest.raises(IndexError, match="out of bounds"):
        ganglion.zeros(3)[[3]] = 1.0


def test_index_put_accumulate_in_place_vs_torch():
    idx = np.array([0, 2, 0, 0])
    vals = np.array([1.0, 2.0, 3.0, 4.0])
    outs = []
    for M in (ganglion, torch):
        x = M.zeros(4, dtype=M.float64)
        x.index_put_((M.tensor(idx),), M.tensor(vals), accumulate=True)
        outs.append(_np(x))
    np.testing.assert_array_equal(*outs)
    with pytest.raises(RuntimeError, match="Index put requires the source and destination"):
        ganglion.zeros(3).index_put((ganglion.tensor([0]),),
                                    ganglion.ones(1, dtype=ganglion.float64))


# -- gather / scatter / index_* ----------------------------------------------------------------
def _i(M, a):
    return M.tensor(np.asarray(a, dtype=np.int64))


@pytest.mark.parametrize("call,exc,match", [
    (lambda M, x: x.gather(1, _i(M, [[0, 5]])), RuntimeError, "out of bounds"),
    (lambda M, x: x.gather(1, _i(M, [[0, -1]])), RuntimeError, "out of bounds"),
    (lambda M, x: x.gather(1, M.tensor([[0.0]])), RuntimeError, "gather"),
    (lambda M, x: x.gather(1, _i(M, [0, 1])), RuntimeError, "same number of dimensions"),
    (lambda M, x: x.gather(1, _i(M, [[0]] * 3)), RuntimeError, "no larger than self"),
    (lambda M, x: x.scatter(1, _i(M, [[0, 5]]), 1.0), RuntimeError, "out of bounds"),
    (lambda M, x: x.scatter(1, _i(M, [[0, 1]]), x.double()), RuntimeError, "dtype"),
    (lambda M, x: x.scatter(1, _i(M, [[0, 0]] * 2), x[:, :1]), RuntimeError, "no larger"),
    (lambda M, x: x.scatter_add(1, _i(M, [[3]]), x), RuntimeError, "out of bounds"),
    (lambda M, x: x.scatter_reduce(1, _i(M, [[0]]), x, "foo"), RuntimeError, "reduce"),
    (lambda M, x: x.index_select(1, _i(M, [[0, 1]])), IndexError, "vector"),
    (lambda M, x: x.index_select(1, M.tensor([0.0])), RuntimeError, "index_select"),
    (lambda M, x: x.index_select(1, _i(M, [0, 5])), RuntimeError, "index_select"),
    (lambda M, x: x.index_add(1, _i(M, [0, 1]), M.ones(2, 3)), RuntimeError, "index_add"),
    (lambda M, x: x.index_copy(1, _i(M, [0, 1]), M.ones(2, 1)), IndexError, "index_copy"),
    (lambda M, x: x.index_fill(1, _i(M, [0, 7]), 1.0), IndexError, "out of bounds"),
    (lambda M, x: x.index_fill(1, _i(M, [0]), M.ones(1)), RuntimeError, "0-dimensional"),
    (lambda M, x: x.masked_fill(_i(M, [1, 0, 1]), 1.0), RuntimeError, "boolean"),
    (lambda M, x: x.masked_fill(M.tensor([True, False]), 1.0), RuntimeError, "masked_fill"),
    (lambda M, x: x.masked_fill(M.tensor([True] * 3), M.ones(2)), RuntimeError, "0-dim"),
    (lambda M, x: x.masked_scatter(M.ones(2, 3, dtype=M.bool), M.ones(4)), RuntimeError,
     "masked_scatter"),
    (lambda M, x: x.topk(4), RuntimeError, "k out of range"),
    (lambda M, x: x.kthvalue(0), RuntimeError, "kthvalue"),
    (lambda M, x: M.take(x, _i(M, [6])), IndexError, "out of range"),
    (lambda M, x: x.put(_i(M, [1, 2]), M.ones(1)), (IndexError, RuntimeError), "put"),
])
def test_errors_like_torch(call, exc, match):
    with pytest.raises(exc):
        call(torch, torch.zeros(2, 3))
    with pytest.raises(exc, match=match):
        call(ganglion, ganglion.zeros(2, 3))


INPLACE = [
    lambda M, x: x.masked_fill_(x > 0.5, 0.0),
    lambda M, x: x.scatter_(1, _i(M, [[2, 0], [1, 3]]), M.ones(2, 2, dtype=M.float64)),
    lambda M, x: x.scatter_(0, _i(M, [[1, 0, 1, 0]]), -3.0),
    lambda M, x: x.scatter_add_(1, _i(M, [[2, 2], [0, 0]]), M.ones(2, 2, dtype=M.float64)),
    lambda M, x: x.scatter_reduce_(1, _i(M, [[2, 2], [0, 0]]), x[:, :2].clone(), "amin"),
    lambda M, x: x.index_add_(1, _i(M, [3, 3]), M.ones(2, 2, dtype=M.float64), alpha=2),
    lambda M, x: x.index_fill_(1, _i(M, [0, 2]), 9.0),
    lambda M, x: x.index_copy_(0, _i(M, [1]), M.zeros(1, 4, dtype=M.float64)),
    lambda M, x: x.masked_scatter_(x < 0.3, M.arange(8.0, dtype=M.float64)),
    lambda M, x: x.put_(_i(M, [0, 0, 7]), M.ones(3, dtype=M.float64), accumulate=True),
]


@pytest.mark.parametrize("k", range(len(INPLACE)))
def test_inplace_variants_match_torch(k):
    a = np.random.default_rng(k).uniform(0, 1, (2, 4))
    res = []
    for M in (ganglion, torch):
        x = M.tensor(a.copy())
        r = INPLACE[k](M, x)
        assert r is x and x._version >= 1
        res.append(_np(x))
    np.testing.assert_allclose(*res, rtol=1e-12)


def test_inplace_scatter_records_gradient():
    def fn(a, s, s2):
        y = a * 1
        y.scatter_(1, _i(_mod(a), [[2, 0], [1, 3]]), s)
        y.index_add_(0, _i(_mod(a), [1, 1]), s2)
        return y.masked_fill_(a > 1.5, 0.0)
    check_against_torch(fn, shapes=[(2, 4), (2, 2), (2, 4)], dtype=np.float64, gradgrad=True)


@pytest.mark.parametrize("dtype", ["int64", "int32", "float16", "bool"])
def test_dtypes_match_torch(dtype):
    a = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    i = np.array([[0, 2, 2, 1]], dtype=np.int64)
    for fn in (lambda M, x: x.gather(0, M.tensor(i)),
               lambda M, x: x.index_select(1, M.tensor([3, 0])),
               lambda M, x: x.masked_fill(x > 1, 1),
               lambda M, x: x.scatter(0, M.tensor(i), x[:1].clone()),
               lambda M, x: x.take(M.tensor([0, 11])),
               lambda M, x: x.sort(dim=1, stable=True)[0]):
        g, t = fn(ganglion, ganglion.from_numpy(a.copy())), fn(torch, torch.from_numpy(a.copy()))
        assert g.dtype.name == str(t.dtype).split(".")[1]
        np.testing.assert_array_equal(_np(g).astype(np.float64), _np(t).astype(np.float64))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_int_and_ties_vs_torch(reduce, include_self):
    idx = np.array([0, 0, 2, 2, 2], dtype=np.int64)
    src = np.array([3, 7, 2, 2, 4])
    for dt in (np.int64, np.float64):
        res = [M.tensor(np.array([5, 1, 2], dt)).scatter_reduce(
            0, M.tensor(idx), M.tensor(src.astype(dt)), reduce, include_self=include_self)
            for M in (ganglion, torch)]
        np.testing.assert_array_equal(_np(res[0]), _np(res[1]))
    # tied maxima split the gradient evenly (torch's rule); zeros use exact exclusive products
    def fn(x, s):
        return x.scatter_reduce(0, _i(_mod(x), idx), s, reduce, include_self=include_self)
    check_against_torch(fn, inputs=[np.array([2.0, 1.0, 0.0]), np.array([2.0, 0.0, 4.0, 4.0, 1.0])],
                        gradgrad=reduce != "prod")


def test_scatter_with_reduce_forward_matches_torch():
    idx = np.array([[0, 1, 0]], dtype=np.int64)
    warnings.filterwarnings("ignore", "The reduce argument of torch.scatter")
    for reduce in ("add", "multiply"):
        res = [M.full((2, 3), 2.0).scatter(0, M.tensor(idx), M.tensor([[3.0, 4.0, 5.0]]),
                                           reduce=reduce) for M in (ganglion, torch)]
        np.testing.assert_array_equal(_np(res[0]), _np(res[1]))


# -- ordering ----------------------------------------------------------------------------------
TIES = np.array([[2.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0],
                 [0.0, 0.0, 0.0, 5.0, 5.0, -1.0, 5.0, 0.0]])


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_stable_ties_match_torch(descending, dim):
    g = ganglion.sort(ganglion.tensor(TIES), dim=dim, descending=descending, stable=True)
    t = torch.sort(torch.tensor(TIES), dim=dim, descending=descending, stable=True)
    np.testing.assert_array_equal(_np(g.values), _np(t.values))
    np.testing.assert_array_equal(_np(g.indices), _np(t.indices))
    kw = {"dim": dim, "descending": descending, "stable": True}
    np.testing.assert_array_equal(_np(ganglion.argsort(ganglion.tensor(TIES), **kw)),
                                  _np(torch.argsort(torch.tensor(TIES), **kw)))


def test_sort_nan_placement_matches_torch():
    a = np.array([1.0, np.nan, -1.0, np.nan, 3.0])
    for desc in (False, True):
        g = ganglion.tensor(a).sort(descending=desc, stable=True)
        t = torch.tensor(a).sort(descending=desc, stable=True)
        np.testing.assert_array_equal(_np(g.values), _np(t.values))
        np.testing.assert_array_equal(_np(g.indices), _np(t.indices))


@pytest.mark.parametrize("largest", [True, False])
def test_topk_ties_values_and_gradient_vs_torch(largest):
    g = ganglion.tensor(TIES, requires_grad=True)
    t = torch.tensor(TIES, requires_grad=True)
    gv, gi = g.topk(3, dim=1, largest=largest)
    tv, ti = t.topk(3, dim=1, largest=largest)
    np.testing.assert_array_equal(_np(gv), _np(tv))
    # torch leaves the order of tied indices unspecified: compare them as sets per row
    for r in range(2):
        assert np.allclose(TIES[r, _np(gi)[r]], _np(tv)[r])
    gv.sum().backward()
    tv.sum().backward()
    np.testing.assert_array_equal(_np(g.grad).sum(1), _np(t.grad).sum(1))
    assert type(g.topk(1)).__name__ == "topk" and g.topk(1).indices.dtype == ganglion.int64


def test_kthvalue_and_msort_vs_torch():
    a = np.random.default_rng(3).permutation(20).reshape(4, 5).astype(np.float64)
    for M in (ganglion, torch):
        x = M.tensor(a)
        r = x.kthvalue(2, 0)
        assert r.values.tolist() == np.sort(a, axis=0)[1].tolist()
        assert r.indices.tolist() == np.argsort(a, axis=0)[1].tolist()
    np.testing.assert_array_equal(_np(ganglion.msort(ganglion.tensor(a))),
                                  _np(torch.msort(torch.tensor(a))))


def test_unique_searchsorted_bucketize_vs_torch():
    a = np.array([[3, 1, 3], [2, 1, 3]])
    for kw in ({}, {"return_inverse": True, "return_counts": True},
               {"dim": 0, "return_inverse": True}, {"dim": 1, "return_counts": True}):
        g = ganglion.unique(ganglion.tensor(a), **kw)
        t = torch.unique(torch.tensor(a), **kw)
        for x, y in zip(g if isinstance(g, tuple) else (g,), t if isinstance(t, tuple) else (t,)):
            np.testing.assert_array_equal(_np(x), _np(y))
    seq, v = np.array([1.0, 3.0, 3.0, 7.0]), np.array([[0.0, 3.0], [7.0, 9.0]])
    seq2 = np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 8.0]])
    for right in (False, True):
        for fn in (lambda M: M.searchsorted(M.tensor(seq), M.tensor(v), right=right),
                   lambda M: M.searchsorted(M.tensor(seq2), M.tensor(v), right=right),
                   lambda M: M.searchsorted(M.tensor(seq), 3.0, side="right" if right else "left"),
                   lambda M: M.bucketize(M.tensor(v), M.tensor(seq), right=right,
                                         out_int32=True)):
            g, t = fn(ganglion), fn(torch)
            assert g.dtype.name == str(t.dtype).split(".")[1]
            np.testing.assert_array_equal(_np(g), _np(t))


# -- nonzero, one_hot, take_along_dim ----------------------------------------------------------
@pytest.mark.parametrize("a", [np.array([[0, 1.5], [2, 0]]), np.array(3.0), np.array(0.0),
                               np.zeros((2, 0)), np.array([True, False, True])])
def test_nonzero_argwhere_vs_torch(a):
    g, t = ganglion.tensor(a), torch.tensor(a)
    np.testing.assert_array_equal(_np(g.nonzero()), _np(t.nonzero()))
    assert g.nonzero().shape == t.nonzero().shape and g.nonzero().dtype == ganglion.int64
    for x, y in zip(g.nonzero(as_tuple=True), t.nonzero(as_tuple=True)):
        np.testing.assert_array_equal(_np(x), _np(y))
    np.testing.assert_array_equal(_np(ganglion.argwhere(g)), _np(torch.argwhere(t)))
    np.testing.assert_array_equal(_np(ganglion.where(g != 0)[0]), _np(torch.where(t != 0)[0]))


def test_one_hot_vs_torch():
    F = torch.nn.functional
    for a, n in ((np.array([0, 2, 1]), -1), (np.array([[1], [3]]), 5), (np.zeros(0, int), 4)):
        g, t = one_hot(ganglion.tensor(a), n), F.one_hot(torch.tensor(a), n)
        assert g.dtype == ganglion.int64 and tuple(g.shape) == tuple(t.shape)
        np.testing.assert_array_equal(_np(g), _np(t))
    for a, n, match in ((np.array([0, -1]), -1, "non-negative"),
                        (np.array([0, 3]), 3, "smaller than num_classes"),
                        (np.zeros(0, int), -1, "empty tensor"),
                        (np.array([0.0]), 2, "LongTensor")):
        with pytest.raises(RuntimeError):
            F.one_hot(torch.tensor(a), n)
        with pytest.raises(RuntimeError, match=match):
            one_hot(ganglion.tensor(a), n)


def test_take_along_dim_broadcasts_like_torch():
    x = np.random.default_rng(2).uniform(size=(3, 1, 4))
    idx = np.array([[[0], [3]]], dtype=np.int64)  # (1, 2, 1) broadcasts against (3, 1, .)
    check_against_torch(lambda a, i: _mod(a).take_along_dim(a, i, dim=-1), inputs=[x, idx],
                        requires_grad=[True, False], gradgrad=True)


def test_masked_select_and_masked_fill_broadcast_grad_vs_torch():
    x, m = np.random.default_rng(4).uniform(size=(3, 1)), np.array([[True, False, True, True]])
    check_against_torch(lambda a, k: a.masked_select(k) * 2, inputs=[x, m],
                        requires_grad=[True, False], gradgrad=True)
    check_against_torch(lambda a, k, v: a.masked_fill(k, v), inputs=[x, m, np.array(0.5)],
                        requires_grad=[True, False, True], gradgrad=True)


def test_getitem_hot_path_is_cheap():
    import time

    x = ganglion.zeros(64, 64)
    t0 = time.perf_counter()
    for i in range(2000):
        x[i % 64]
        x[1:3, ::2]
    per_op = (time.perf_counter() - t0) / 4000
    assert per_op < 50e-6, f"basic getitem takes {per_op * 1e6:.1f} us"
