"""Containers and shape layers against torch.nn: keys, indexing, mutation, reprs, outputs."""
from collections import OrderedDict

import numpy as np
import pytest

import ganglion
from ganglion import nn
from tests.nn.toy_modules import build, randomize, to_torch_state

torch = pytest.importorskip("torch")

G = build(nn, ganglion)
T = build(torch.nn, torch)
LIBS = ((nn, G, ganglion), (torch.nn, T, torch))


def _both(fn):
    """fn(nn, toys, lib) on both libraries."""
    return [fn(*lib) for lib in LIBS]


def _seq(lib_nn, ns, lib):
    return lib_nn.Sequential(ns.Linear(4, 3), ns.ReLU(), ns.Linear(3, 2), ns.ReLU())


def _keys(m):
    return list(m.state_dict())


# -- Sequential ------------------------------------------------------------------------------
def test_sequential_forward_state_and_repr_match_torch():
    g, t = _both(_seq)
    randomize(g)
    t.load_state_dict(to_torch_state(g))
    assert _keys(g) == _keys(t) and repr(g) == repr(t)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(g(ganglion.tensor(x)).numpy(force=True),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_sequential_ordered_dict_and_indexing():
    def make(lib_nn, ns, lib):
        s = lib_nn.Sequential(OrderedDict([("fc", ns.Linear(2, 2)), ("act", ns.ReLU()),
                                           ("out", ns.Linear(2, 1))]))
        sliced = s[1:]
        return (_keys(s), type(s[-1]).__name__, type(s[0]).__name__, type(sliced).__name__,
                list(sliced._modules), _keys(s[::2]), len(s), [type(m).__name__ for m in s],
                repr(s), repr(s[:0]))

    g, t = _both(make)
    assert g == t


@pytest.mark.parametrize("op", ["append", "insert0", "insert_neg", "extend", "pop", "del",
                                "del_slice", "add", "iadd", "mul", "rmul", "imul", "setitem"])
def test_sequential_mutation_matches_torch(op):
    def run(lib_nn, ns, lib):
        s = _seq(lib_nn, ns, lib)
        other = lib_nn.Sequential(ns.Linear(2, 5))
        res = {"append": lambda: s.append(ns.Linear(2, 2)),
               "insert0": lambda: s.insert(0, ns.Linear(5, 4)),
               "insert_neg": lambda: s.insert(-1, ns.Linear(5, 4)),
               "extend": lambda: s.extend(other),
               "pop": lambda: s.pop(1),
               "del": lambda: s.__delitem__(-2),
               "del_slice": lambda: s.__delitem__(slice(0, 2)),
               "add": lambda: s + other,
               "iadd": lambda: s.__iadd__(other),
               "mul": lambda: s * 2,
               "rmul": lambda: 2 * s,
               "imul": lambda: s.__imul__(2),
               "setitem": lambda: s.__setitem__(-1, ns.Linear(2, 7))}[op]()
        return repr(res), repr(s), _keys(s)

    g, t = _both(run)
    assert g == t


def test_sequential_errors():
    s = nn.Sequential(G.ReLU())
    with pytest.raises(IndexError, match="index 1 is out of range"):
        s[1]
    with pytest.raises(IndexError, match="index -2 is out of range"):
        s[-2]
    with pytest.raises(IndexError):
        s.insert(5, G.ReLU())
    with pytest.raises(ValueError, match="only objects of Sequential"):
        s + [G.ReLU()]
    with pytest.raises(ValueError, match="Non-positive"):
        s * 0
    with pytest.raises(TypeError):
        s * 1.5
    with pytest.raises(TypeError, match="is not a Module subclass"):
        nn.Sequential(G.ReLU(), 3)


# -- ModuleList ------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["plain", "append", "extend", "insert", "iadd", "add", "del",
                                "del_slice", "pop", "setitem", "slice", "neg"])
def test_module_list_matches_torch(op):
    def run(lib_nn, ns, lib):
        ml = lib_nn.ModuleList([ns.ReLU(), ns.ReLU(), ns.Linear(2, 2), ns.ReLU()])
        res = {"plain": lambda: None,
               "append": lambda: ml.append(ns.Linear(1, 1)),
               "extend": lambda: ml.extend([ns.ReLU(), ns.ReLU()]),
               "insert": lambda: ml.insert(1, ns.Linear(3, 3)),
               "iadd": lambda: ml.__iadd__([ns.Linear(1, 2)]),
               "add": lambda: ml + lib_nn.ModuleList([ns.ReLU()]),
               "del": lambda: ml.__delitem__(0),
               "del_slice": lambda: ml.__delitem__(slice(1, 3)),
               "pop": lambda: ml.pop(-1),
               "setitem": lambda: ml.__setitem__(-2, ns.ReLU()),
               "slice": lambda: ml[1:3],
               "neg": lambda: ml[-2]}[op]()
        return repr(res), repr(ml), _keys(ml), len(ml), [type(m).__name__ for m in ml]

    g, t = _both(run)
    assert g == t


def test_module_list_errors_and_empty_repr():
    ml = nn.ModuleList()
    assert repr(ml) == repr(torch.nn.ModuleList()) == "ModuleList()"
    with pytest.raises(IndexError):
        ml[0]
    with pytest.raises(TypeError, match="extend should be called with an iterable"):
        ml.extend(3)
    with pytest.raises(NotImplementedError):
        ml(ganglion.ones(1))


# -- ModuleDict ------------------------------------------------------------------------------
def test_module_dict_matches_torch():
    def run(lib_nn, ns, lib):
        d = lib_nn.ModuleDict({"b": ns.ReLU(), "a": ns.Linear(2, 2)})
        d.update([("c", ns.Linear(1, 1))])
        d.update(lib_nn.ModuleDict({"d": ns.ReLU()}))
        d["e"] = ns.ReLU()
        popped = type(d.pop("b")).__name__
        out = (list(d.keys()), [type(v).__name__ for v in d.values()], list(d), len(d),
               "a" in d, "b" in d, popped, repr(d), _keys(d),
               [k for k, _ in d.items()])
        d.clear()
        return out + (len(d),)

    g, t = _both(run)
    assert g == t


def test_module_dict_errors():
    d = nn.ModuleDict()
    with pytest.raises(TypeError, match="iterable of key/value pairs"):
        d.update(3)
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        d.update([("a", G.ReLU(), 1)])
    with pytest.raises(TypeError, match="should be Iterable"):
        d.update([3])
    with pytest.raises(KeyError):
        d["missing"]


# -- ParameterList / ParameterDict -----------------------------------------------------------
def test_parameter_list_matches_torch():
    def run(lib_nn, ns, lib):
        pl = lib_nn.ParameterList([lib.zeros(2, 3), lib_nn.Parameter(lib.ones(4))])
        pl.append(lib.zeros(1, dtype=lib.float64))
        pl.extend([lib.ones(2)])
        pl += [lib.zeros(3)]
        pl.append("note")  # non-tensors are stored as plain attributes
        first = pl[0]
        sub = pl[1:3]
        return (len(pl), [type(p).__name__ for p in pl],
                isinstance(first, lib_nn.Parameter), _keys(pl),
                repr(pl).replace("torch.", "ganglion."), len(sub), _keys(sub),
                [n for n, _ in pl.named_parameters()])

    g, t = _both(run)
    assert g == t


def test_parameter_list_single_line_repr_and_errors():
    pl = nn.ParameterList([ganglion.zeros(2, 3)])
    tl = torch.nn.ParameterList([torch.zeros(2, 3)])
    assert repr(pl) == repr(tl).replace("torch.", "ganglion.")
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(1)
    with pytest.raises(TypeError, match="iterable"):
        pl.extend(ganglion.zeros(2))
    with pytest.raises(IndexError):
        pl[3]


def test_parameter_dict_matches_torch():
    def run(lib_nn, ns, lib):
        pd = lib_nn.ParameterDict({"b": lib.zeros(2), "a": lib.ones(1, 2)})
        pd.update(OrderedDict([("z", lib.zeros(1)), ("c", lib.zeros(3))]))
        pd["x"] = lib_nn.Parameter(lib.ones(2, dtype=lib.float64))
        d = pd.setdefault("d", lib.zeros(5))
        got = pd.get("missing", "dflt")
        k, v = pd.popitem()
        popped = pd.pop("z")
        merged = pd | lib_nn.ParameterDict({"q": lib.zeros(1)})
        out = (list(pd.keys()), [tuple(v.shape) for v in pd.values()], len(pd), "a" in pd,
               k, tuple(v.shape), tuple(popped.shape), got, tuple(d.shape),
               repr(pd).replace("torch.", "ganglion."), _keys(pd), _keys(merged),
               list(pd.fromkeys(["u", "v"]).keys()), list(reversed(pd)),
               isinstance(pd["a"], lib_nn.Parameter))
        pd.clear()
        return out + (len(pd),)

    g, t = _both(run)
    assert g == t


def test_parameter_dict_errors():
    pd = nn.ParameterDict()
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = ganglion.zeros(1)
    with pytest.raises(RuntimeError, match="should not be called"):
        pd(1)
    with pytest.raises(TypeError, match="iterable of key/value pairs"):
        pd.update(3)


def test_containers_move_with_module_to():
    pl = nn.ParameterList([ganglion.zeros(2)])
    p = pl[0]
    outer = nn.ModuleDict({"pl": pl, "seq": nn.Sequential(G.Linear(2, 2))})
    outer.double()
    assert pl[0] is p and p.dtype == ganglion.float64
    assert outer["seq"][0].weight.dtype == ganglion.float64


# -- Identity / Flatten / Unflatten ----------------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda n: n.Identity(3, foo=1), (2, 3)),
    (lambda n: n.Flatten(), (2, 3, 4, 5)),
    (lambda n: n.Flatten(0, -2), (2, 3, 4)),
    (lambda n: n.Flatten(-2, -1), (2, 3, 4)),
    (lambda n: n.Unflatten(1, (2, 3)), (4, 6, 5)),
    (lambda n: n.Unflatten(-1, [2, -1]), (4, 6)),
])
def test_shape_layers_match_torch(make, shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    g, t = make(nn), make(torch.nn)
    assert repr(g) == repr(t)
    xg = ganglion.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yg, yt = g(xg), t(xt)
    np.testing.assert_array_equal(yg.detach().numpy(), yt.detach().numpy())
    w = np.arange(yt.numel(), dtype=np.float32).reshape(tuple(yt.shape))
    (yg * ganglion.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), xt.grad.numpy())


def test_unflatten_errors():
    for lib_nn in (nn, torch.nn):
        with pytest.raises(TypeError, match="must be a tuple of ints"):
            lib_nn.Unflatten(1, 6)
        with pytest.raises(TypeError, match="element of type float at pos 1"):
            lib_nn.Unflatten(1, (2, 3.0))
