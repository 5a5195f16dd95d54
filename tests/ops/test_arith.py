"""Targeted tests of arith.py and compare.py against torch: type promotion, integer division
semantics, bool rules, in-place casting rules, comparisons, logical/bitwise ops, isclose."""
from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

import ganglion

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SCALARS = [True, 3, 2.5]


def _np(t):
    return t.detach().numpy(force=True)


def _pair(values, dt, zero_d=False):
    a = np.array(values[0] if zero_d else values).astype(dt)
    return ganglion.tensor(a), torch.tensor(a)


def _operand(kind, dt):
    """(ganglion, torch) operands: a dimensioned tensor, a 0-d tensor or a Python scalar."""
    vals = [1, 2, 3] if dt != "bool" else [True, False, True]
    if kind == "scalar":
        return dt, dt
    return _pair(vals, dt, zero_d=(kind == "0d"))


def _name(d):
    return str(d).split(".")[-1]


def _outcome(fn, *args, **kwargs):
    try:
        r = fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the exception type is what we compare
        return None, e
    return r, None


def _assert_same(g, t, what):
    (gr, ge), (tr, te) = g, t
    if te is not None:
        assert ge is not None, f"{what}: torch raises {te!r}, ganglion gives {gr!r}"
        assert isinstance(ge, type(te)), f"{what}: {ge!r}, torch raises {te!r}"
        return
    assert ge is None, f"{what}: ganglion raises {ge!r}, torch gives {tr!r}"
    if isinstance(tr, torch.Tensor):
        assert _name(gr.dtype) == _name(tr.dtype), f"{what}: dtype {gr.dtype} vs {tr.dtype}"
        assert tuple(gr.shape) == tuple(tr.shape), what
        np.testing.assert_allclose(gr.numpy().astype(np.float64), _np(tr).astype(np.float64),
                                   rtol=2e-3 if "float16" in str(tr.dtype) else 1e-6,
                                   equal_nan=True, err_msg=what)
    else:
        assert gr == tr, f"{what}: {gr!r} vs torch's {tr!r}"


KINDS = list(itertools.product(["dim", "0d"], ["dim", "0d", "scalar"]))


@pytest.mark.parametrize("kind_a,kind_b", KINDS)
def test_result_type_matches_torch(kind_a, kind_b):
    others = SCALARS if kind_b == "scalar" else DTYPES
    for da, db in itertools.product(DTYPES, others):
        ga, ta = _operand(kind_a, da)
        gb, tb = _operand(kind_b, db)
        want = torch.result_type(ta, tb)
        got = ganglion.result_type(ga, gb)
        assert _name(got) == _name(want), f"{da}({kind_a}) with {db!r}({kind_b})"
        if kind_b == "scalar":  # and with the scalar first
            assert _name(ganglion.result_type(gb, ga)) == _name(torch.result_type(tb, ta))


def test_promote_types_matches_torch():
    for da, db in itertools.product(DTYPES, DTYPES):
        got = ganglion.promote_types(getattr(ganglion, da), getattr(ganglion, db))
        assert _name(got) == _name(torch.promote_types(getattr(torch, da), getattr(torch, db)))


BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
          "pow": operator.pow, "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
          "le": operator.le, "gt": operator.gt, "ge": operator.ge, "and": operator.and_,
          "or": operator.or_, "xor": operator.xor}


@pytest.mark.parametrize("kind_a,kind_b", KINDS + [("scalar", "dim")])
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_operator_dtypes_and_values_match_torch(op, kind_a, kind_b):
    fn = BINARY[op]
    others = SCALARS if "scalar" in (kind_a, kind_b) else DTYPES
    firsts = DTYPES if kind_a != "scalar" else SCALARS
    for da, db in itertools.product(firsts, others if kind_a != "scalar" else DTYPES):
        ga, ta = _operand(kind_a, da)
        gb, tb = _operand(kind_b, db)
        _assert_same(_outcome(fn, ga, gb), _outcome(fn, ta, tb),
                     f"{op}: {da!r}({kind_a}) with {db!r}({kind_b})")


SIGNED = ([-7, 7, -7, 7, -6, 6, 0, -1], [2, 2, -2, -2, 3, -3, 5, 4])


@pytest.mark.parametrize("dt", ["int8", "int32", "int64", "float32", "float64"])
def test_division_rounding_with_negatives_matches_torch(dt):
    ga, ta = _pair(SIGNED[0], dt)
    gb, tb = _pair(SIGNED[1], dt)
    for mode in (None, "trunc", "floor"):
        _assert_same(_outcome(ganglion.div, ga, gb, rounding_mode=mode) if mode else
                     _outcome(ganglion.div, ga, gb),
                     _outcome(torch.div, ta, tb, rounding_mode=mode) if mode else
                     _outcome(torch.div, ta, tb), f"div {dt} {mode}")
        _assert_same(_outcome(lambda a, b: a.div(b, rounding_mode=mode), ga, 3),
                     _outcome(lambda a, b: a.div(b, rounding_mode=mode), ta, 3), f"{mode} s")
    for name in ("floor_divide", "remainder", "fmod"):
        _assert_same(_outcome(getattr(ganglion, name), ga, gb),
                     _outcome(getattr(torch, name), ta, tb), f"{name} {dt}")
        _assert_same(_outcome(getattr(ganglion, name), ga, -3),
                     _outcome(getattr(torch, name), ta, -3), f"{name} {dt} scalar")


def test_float_division_keeps_signed_zeros_like_torch():
    ga, ta = _pair([-0.5, 0.5, -1.0, 3.0], np.float32)
    gb, tb = _pair([2.0, -2.0, np.inf, -np.inf], np.float32)
    for mode in ("trunc", "floor"):
        out = ganglion.div(ga, gb, rounding_mode=mode).numpy()
        ref = torch.div(ta, tb, rounding_mode=mode).numpy()
        np.testing.assert_array_equal(out, ref)
        assert np.array_equal(np.signbit(out), np.signbit(ref)), mode


def test_div_rejects_unknown_rounding_mode():
    with pytest.raises(ValueError, match="rounding_mode"):
        ganglion.div(ganglion.tensor([1.0]), 2, rounding_mode="round")


@pytest.mark.parametrize("name", ["floor_divide", "remainder", "fmod", "div_trunc", "div_floor"])
def test_integer_division_by_zero_raises_like_torch(name):
    ga, ta = _pair([1, 2], np.int64)
    gb, tb = _pair([0, 1], np.int64)
    if name.startswith("div_"):
        mode = name[4:]
        g = _outcome(ganglion.div, ga, gb, rounding_mode=mode)
        t = _outcome(torch.div, ta, tb, rounding_mode=mode)
    else:
        g = _outcome(getattr(ganglion, name), ga, gb)
        t = _outcome(getattr(torch, name), ta, tb)
    _assert_same(g, t, name)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        ganglion.floor_divide(ga, 0)
    assert ganglion.div(ga, gb).tolist() == torch.div(ta, tb).tolist()  # true division: inf


def test_integer_pow_with_negative_exponents_matches_torch():
    ga, ta = _pair([-1, 2, 1, 0, -1, 3], np.int64)
    gb, tb = _pair([-1, -2, -3, -1, -2, 2], np.int64)
    _assert_same(_outcome(operator.pow, ga, gb), _outcome(operator.pow, ta, tb), "tensor exp")
    _assert_same(_outcome(operator.pow, ga, -1), _outcome(operator.pow, ta, -1), "scalar exp")
    _assert_same(_outcome(operator.pow, 2, gb), _outcome(operator.pow, 2, tb), "scalar base")


def test_bool_subtraction_and_negation_raise_like_torch():
    gb, tb = _pair([True, False], bool)
    gi, ti = _pair([1, 2], np.int64)
    cases = [(operator.sub, gb, gb, tb, tb), (operator.sub, gb, gi, tb, ti),
             (operator.sub, gi, gb, ti, tb), (operator.sub, gb, 1.5, tb, 1.5),
             (operator.sub, True, gi, True, ti), (operator.sub, gi, True, ti, True),
             (lambda a, b: a.sub(b, alpha=2), gi, gb, ti, tb),
             (lambda a, b: -a, gb, None, tb, None), (lambda a, b: a.neg(), gb, None, tb, None)]
    for fn, a, b, ta, tb_ in cases:
        t = _outcome(fn, ta, tb_)
        assert t[1] is not None
        with pytest.raises(type(t[1]), match="bool"):
            fn(a, b)


def test_add_alpha_rules_match_torch():
    gi, ti = _pair([1, 2], np.int64)
    gb, tb = _pair([True, False], bool)
    gf, tf = _pair([1.0, 2.0], np.float32)
    cases = [(gi, gi, 1.5, ti, ti), (gb, gb, 2, tb, tb), (gf, gf, True, tf, tf),
             (gi, gi, 3, ti, ti), (gf, gi, 0.5, tf, ti), (gb, gb, True, tb, tb)]
    for a, b, alpha, ta, tb_ in cases:
        for name in ("add", "sub"):
            if name == "sub" and a.dtype == ganglion.bool:
                continue
            _assert_same(_outcome(lambda x, y: getattr(x, name)(y, alpha=alpha), a, b),
                         _outcome(lambda x, y: getattr(x, name)(y, alpha=alpha), ta, tb_),
                         f"{name} {a.dtype} alpha={alpha!r}")


@pytest.mark.parametrize("name,value", [("add_", 1.5), ("mul_", 1.5), ("sub_", 0.5),
                                        ("div_", 2), ("add_", 1), ("mul_", 2),
                                        ("floor_divide_", 2), ("remainder_", 2), ("pow_", 2),
                                        ("add_", True)])
@pytest.mark.parametrize("dt", ["bool", "uint8", "int32", "int64", "float16", "float32"])
def test_inplace_cast_rules_match_torch(name, value, dt):
    vals = [1, 0, 1] if dt == "bool" else [3, 4, 5]
    g, t = _pair(vals, dt)
    _assert_same(_outcome(lambda x: getattr(x, name)(value), g),
                 _outcome(lambda x: getattr(x, name)(value), t), f"{dt}.{name}({value!r})")
    if _outcome(lambda x: getattr(x, name)(value), torch.tensor(np.array(vals).astype(dt)))[1]:
        with pytest.raises(RuntimeError, match=name[:-1]):  # names the op (sub, add_, ...)
            getattr(ganglion.tensor(np.array(vals).astype(dt)), name)(value)
    # tensor operand too: int tensor += float tensor must fail as in torch
    g, t = _pair(vals, dt)
    go, to = _pair([1.5, 2.5, 0.5], np.float32)
    _assert_same(_outcome(lambda x, y: x.add_(y), g, go), _outcome(lambda x, y: x.add_(y), t, to),
                 f"{dt}.add_(float32 tensor)")


def test_inplace_broadcast_shape_error():
    g = ganglion.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="shape"):
        g.add_(ganglion.tensor([[1.0], [2.0]]))


LOGICAL = ["logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]


@pytest.mark.parametrize("name", LOGICAL + BITWISE + ["eq", "ne", "lt", "le", "gt", "ge",
                                                       "maximum", "minimum", "fmax", "fmin"])
def test_comparison_logical_bitwise_functions_match_torch(name):
    vals = {"bool": [True, False, True, False], "float32": [0.0, -1.5, np.nan, 2.0]}
    for da, db in itertools.product(["bool", "uint8", "int32", "float32"], repeat=2):
        va = vals.get(da, [0, 3, 5, 6])
        vb = vals.get(db, [1, 3, 4, 0])
        ga, ta = _pair(va, da)
        gb, tb = _pair(vb, db)
        _assert_same(_outcome(getattr(ganglion, name), ga, gb),
                     _outcome(getattr(torch, name), ta, tb), f"{name} {da} {db}")
        if name not in LOGICAL and not name.startswith(("max", "min", "fm")):
            _assert_same(_outcome(getattr(ganglion, name), ga, 3),
                         _outcome(getattr(torch, name), ta, 3), f"{name} {da} scalar")
        else:  # torch takes only tensors there
            with pytest.raises(TypeError, match=name):
                getattr(ganglion, name)(ga, 3)


def test_unary_logical_and_bitwise_not_match_torch():
    for dt, vals in [("bool", [True, False]), ("uint8", [0, 5]), ("int32", [0, -3]),
                     ("float32", [0.0, np.nan])]:
        g, t = _pair(vals, dt)
        for fn in (ganglion.logical_not, ganglion.bitwise_not, operator.invert):
            tfn = {ganglion.logical_not: torch.logical_not,
                   ganglion.bitwise_not: torch.bitwise_not}.get(fn, fn)
            _assert_same(_outcome(fn, g), _outcome(tfn, t), f"{fn} {dt}")


def test_comparison_broadcasting_and_shape_errors():
    ga, ta = _pair(np.arange(6).reshape(2, 3), np.int64)
    gb, tb = _pair([1, 2, 3], np.float32)
    _assert_same(_outcome(operator.lt, ga, gb), _outcome(operator.lt, ta, tb), "broadcast")
    with pytest.raises(RuntimeError, match="size"):
        ga == ganglion.tensor([1, 2])  # noqa: B015 - the comparison itself must raise
    with pytest.raises(RuntimeError, match="size"):
        ga + ganglion.tensor([1, 2])


def test_isclose_allclose_equal_match_torch():
    a = np.array([1.0, 1.0 + 1e-6, np.nan, np.inf, -np.inf, 0.0, 1e-9], np.float64)
    b = np.array([1.0, 1.0, np.nan, np.inf, np.inf, 1e-9, 0.0], np.float64)
    ga, gb, ta, tb = ganglion.tensor(a), ganglion.tensor(b), torch.tensor(a), torch.tensor(b)
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.0, "atol": 1e-8}, {"rtol": 1e-7}):
        assert ganglion.isclose(ga, gb, **kw).tolist() == torch.isclose(ta, tb, **kw).tolist()
        assert ga.allclose(gb, **kw) == ta.allclose(tb, **kw)
        assert ganglion.allclose(ga, ga, **kw) == torch.allclose(ta, ta, **kw)
    gi, ti = _pair([1, 2, 3], np.int64)
    assert ganglion.isclose(gi, gi + 1, atol=1).tolist() == torch.isclose(ti, ti + 1,
                                                                          atol=1).tolist()
    two = ganglion.tensor(2)
    assert ganglion.isclose(gi, two).tolist() == torch.isclose(ti, torch.tensor(2)).tolist()
    gb, tb = _pair([True, False], bool)
    assert ganglion.isclose(gb, ~gb).tolist() == torch.isclose(tb, ~tb).tolist()
    assert ganglion.equal(gi, gi) and not ganglion.equal(gi, ganglion.tensor([1, 2]))
    assert ganglion.equal(gi, gi.float()) == torch.equal(ti, ti.float())
    assert not ganglion.equal(ga, ga) and not torch.equal(ta, ta)  # NaN != NaN


def test_isclose_rejects_mismatched_dtypes_like_torch():
    gi, ti = _pair([1, 2], np.int64)
    gf, tf = _pair([1.0, 2.0], np.float32)
    _assert_same(_outcome(ganglion.isclose, gi, gf), _outcome(torch.isclose, ti, tf), "isclose")
    with pytest.raises(RuntimeError, match="isclose"):
        ganglion.isclose(gi, gf)


def test_scalar_overflow_wraps_like_torch():
    ga, ta = _pair([5, 200], np.uint8)
    _assert_same(_outcome(operator.sub, ga, 10), _outcome(operator.sub, ta, 10), "uint8 - 10")
    ga, ta = _pair([5, -100], np.int8)
    _assert_same(_outcome(operator.mul, ga, 100), _outcome(operator.mul, ta, 100), "int8 * 100")


def test_non_number_operands_raise_type_error():
    g = ganglion.tensor([1.0])
    for fn in (ganglion.add, ganglion.mul, ganglion.div, ganglion.pow, ganglion.maximum):
        with pytest.raises(TypeError):
            fn(g, "2")
    with pytest.raises(TypeError):
        g + [1.0]


def test_scalar_other_with_alpha_matches_torch():
    gf, tf = _pair([1.0, 2.0], np.float32)
    gi, ti = _pair([1, 2], np.int64)
    for a, ta, other, alpha in [(gf, tf, 2, 0.5), (gi, ti, 3, 2), (gi, ti, 3, 0.5),
                                (gf, tf, 2.5, -1)]:
        for name in ("add", "sub"):
            _assert_same(_outcome(lambda x: getattr(x, name)(other, alpha=alpha), a),
                         _outcome(lambda x: getattr(x, name)(other, alpha=alpha), ta),
                         f"{a.dtype}.{name}({other}, alpha={alpha})")


def test_out_argument_of_binary_ops():
    ga, ta = _pair([1, 2], np.int64)
    out, tout = ganglion.empty(2, dtype=ganglion.float64), torch.empty(2, dtype=torch.float64)
    r = ganglion.add(ga, 1.5, out=out)
    torch.add(ta, 1.5, out=tout)
    assert r is out and out.tolist() == tout.tolist()
    t_err = _outcome(lambda: torch.div(ta, 2, out=torch.empty(2, dtype=torch.int64)))[1]
    with pytest.raises(type(t_err), match="div"):
        ganglion.div(ga, 2, out=ganglion.empty(2, dtype=ganglion.int64))
