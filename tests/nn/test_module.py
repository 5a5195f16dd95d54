"""Module against torch.nn.Module: registration, iteration, conversion, state_dict, repr.

The same toy classes (tests/nn/toy_modules.py) are built on both libraries and compared.
Hooks are in test_module_hooks-like tests at the end of this file.
"""
import copy
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest

import ganglion
from ganglion import nn
from tests.nn.toy_modules import build, randomize, to_torch_state

torch = pytest.importorskip("torch")

G = build(nn, ganglion)
T = build(torch.nn, torch)


def _pair(name="Net", *args):
    g = randomize(getattr(G, name)(*args))
    t = getattr(T, name)(*args)
    t.load_state_dict(to_torch_state(g))
    return g, t


# -- registration ----------------------------------------------------------------------------
def test_assignment_registers_like_torch():
    g, t = _pair()
    assert list(g._parameters) == list(t._parameters) == []
    assert list(g._modules) == list(t._modules)
    assert list(g.bn._buffers) == list(t.bn._buffers)
    assert g._non_persistent_buffers_set == t._non_persistent_buffers_set == {"scale"}
    assert isinstance(g.fc1.weight, nn.Parameter) and g.fc1.weight.requires_grad
    assert "weight" not in g.fc1.__dict__  # lives in _parameters, reached via __getattr__


def test_assigning_tensor_to_parameter_name_raises_typeerror():
    for lib_nn, lib in ((nn, ganglion), (torch.nn, torch)):
        m = build(lib_nn, lib).Linear(2, 3)
        with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
            m.weight = lib.zeros(3, 2)
        m.weight = None  # allowed: the parameter becomes absent
        assert "weight" in m._parameters and m.weight is None
        assert list(m.state_dict()) == ["bias"]


def test_assigning_non_module_to_module_name_raises():
    g = G.Net()
    with pytest.raises(TypeError, match="as child module 'fc1'"):
        g.fc1 = 3
    g.fc1 = None
    assert g.fc1 is None and "fc1" in g._modules


def test_reassignment_moves_between_stores():
    for m, lib_nn, ns, lib in ((G.Linear(2, 2), nn, G, ganglion),
                               (T.Linear(2, 2), torch.nn, T, torch)):
        m.extra = lib_nn.Parameter(lib.ones(1))
        with pytest.raises(TypeError):  # a parameter name only takes Parameters or None
            m.extra = ns.ReLU()
        m.register_buffer("moving", lib.zeros(1))
        m.moving = ns.ReLU()  # a module replaces a buffer of that name
        assert "moving" not in m._buffers and "moving" in m._modules
        m.moving = lib_nn.Parameter(lib.ones(1))  # and a Parameter replaces a module
        assert "moving" not in m._modules and "moving" in m._parameters
    g = G.Linear(2, 2)
    g.register_buffer("buf", ganglion.zeros(1))
    g.buf = ganglion.ones(2)  # plain tensor onto a buffer name stays a buffer
    assert g._buffers["buf"].shape == (2,)
    g.marker = nn.Buffer(ganglion.zeros(3), persistent=False)
    assert "marker" in g._buffers and "marker" not in g.state_dict()
    g.plain = 5
    assert g.__dict__["plain"] == 5


@pytest.mark.parametrize("method", ["register_parameter", "register_buffer", "add_module"])
def test_name_validation(method):
    g, t = G.Linear(2, 2), T.Linear(2, 2)
    vals = {"register_parameter": (nn.Parameter(ganglion.zeros(1)),
                                   torch.nn.Parameter(torch.zeros(1))),
            "register_buffer": (ganglion.zeros(1), torch.zeros(1)),
            "add_module": (G.ReLU(), T.ReLU())}[method]
    for bad, exc in (("a.b", KeyError), ("", KeyError), ("in_features", KeyError),
                     (3, TypeError)):
        for m, v in zip((g, t), vals):
            with pytest.raises(exc):
                getattr(m, method)(bad, v)


def test_register_wrong_types():
    g = G.Linear(2, 2)
    with pytest.raises(TypeError, match="ganglion.nn.Parameter or None required"):
        g.register_parameter("p", ganglion.zeros(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        g.register_buffer("b", np.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        g.add_module("m", 3)
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(ganglion.zeros(1))
        Bad()


def test_delattr_and_getattr_error():
    g = G.Net()
    del g.fc1, g.bn.running_mean, g.scale
    assert "fc1" not in g._modules and "running_mean" not in g.bn._buffers
    assert "scale" not in g._non_persistent_buffers_set
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc1'"):
        g.fc1


def test_get_submodule_parameter_buffer():
    g, t = _pair()
    assert g.get_submodule("bn") is g.bn and g.get_submodule("") is g
    assert g.get_parameter("fc2.bias") is g.fc2.bias
    assert g.get_buffer("bn.running_var") is g.bn.running_var
    for m in (g, t):
        for call, arg in ((m.get_submodule, "nope"), (m.get_submodule, "fc1.weight"),
                          (m.get_parameter, "bn.running_mean"), (m.get_buffer, "fc1.weight"),
                          (m.get_parameter, "fc1.nope")):
            with pytest.raises(AttributeError):
                call(arg)
    g.set_submodule("fc2", G.Linear(8, 1))
    assert g.fc2.out_features == 1
    with pytest.raises(AttributeError):
        g.set_submodule("new", G.ReLU(), strict=True)


# -- iteration ---------------------------------------------------------------------------------
def _names(it):
    return [n for n, _ in it]


def _shared_pair():
    out = []
    for lib_nn, ns in ((nn, G), (torch.nn, T)):
        lin = ns.Linear(2, 2)
        seq = lib_nn.Sequential(lin, ns.ReLU(), lin)
        seq.tied = ns.Linear(2, 2)
        seq.tied.weight = lin.weight  # a shared parameter
        out.append(seq)
    return out


@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_iterators_dedup_like_torch(remove_duplicate):
    g, t = _shared_pair()
    kw = dict(remove_duplicate=remove_duplicate)
    assert _names(g.named_parameters(**kw)) == _names(t.named_parameters(**kw))
    assert _names(g.named_modules(**kw)) == _names(t.named_modules(**kw))
    assert _names(g.named_parameters(prefix="m", recurse=False)) == \
        _names(t.named_parameters(prefix="m", recurse=False))
    assert _names(g.named_children()) == _names(t.named_children())
    assert len(list(g.parameters())) == len(list(t.parameters()))
    assert len(list(g.modules())) == len(list(t.modules()))
    assert len(list(g.children())) == len(list(t.children()))


def test_buffers_iteration():
    g, t = _pair()
    assert _names(g.named_buffers()) == _names(t.named_buffers())
    assert _names(g.named_buffers(recurse=False)) == _names(t.named_buffers(recurse=False))
    assert len(list(g.buffers())) == len(list(t.buffers()))


# -- modes and gradients ---------------------------------------------------------------------
def test_train_eval_requires_grad_zero_grad():
    g = G.Net()
    assert g.eval() is g and not any(m.training for m in g.modules())
    g.train()
    assert all(m.training for m in g.modules())
    with pytest.raises(ValueError, match="boolean"):
        g.train("yes")
    g.requires_grad_(False)
    assert not any(p.requires_grad for p in g.parameters())
    g.requires_grad_()
    g(ganglion.ones(2, 4)).sum().backward()
    g.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.array.any() for p in g.parameters())
    g.zero_grad()
    assert all(p.grad is None for p in g.parameters())


def test_apply_visits_children_first():
    seen = {}
    for key, m in (("g", G.Net()), ("t", T.Net())):
        seen[key] = []
        m.apply(lambda mod, s=seen[key]: s.append(type(mod).__name__))
    assert seen["g"] == seen["t"]


def test_forward_and_grads_match_torch():
    g, t = _pair()
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    out_g = g(ganglion.tensor(x))
    out_t = t(torch.tensor(x))
    np.testing.assert_allclose(out_g.detach().numpy(), out_t.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    out_g.sum().backward()
    out_t.sum().backward()
    for (n, pg), (_, pt) in zip(g.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(pg.grad.numpy(), pt.grad.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=n)


def test_missing_forward():
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        nn.Module()(ganglion.ones(1))


# -- conversion ------------------------------------------------------------------------------
def test_to_double_keeps_parameter_identity_and_converts_grads():
    g = randomize(G.Net())
    w = g.fc1.weight
    g(ganglion.ones(2, 4)).sum().backward()
    assert g.to(ganglion.float64) is g
    assert g.fc1.weight is w and w.dtype == ganglion.float64 and w.requires_grad
    assert w.grad.dtype == ganglion.float64
    assert g.bn.num_batches_tracked.dtype == ganglion.int64  # integer buffers keep dtype
    assert g.bn.running_mean.dtype == ganglion.float64
    g.float()
    assert w.dtype == ganglion.float32 and g.fc1.weight is w
    g.to(dtype=ganglion.float64, device="cpu")
    assert w.dtype == ganglion.float64
    g.to(ganglion.zeros(1, dtype=ganglion.float32))
    assert w.dtype == ganglion.float32
    g.half()
    assert w.dtype == ganglion.float16
    g.double().cpu()
    assert w.dtype == ganglion.float64


def test_to_rejects_integer_dtype_and_type_casts_everything():
    g = G.Net()
    with pytest.raises(TypeError, match="only accepts floating point"):
        g.to(ganglion.int64)
    g.type(ganglion.float64)
    assert g.bn.num_batches_tracked.dtype == ganglion.float64  # type() casts all, as torch


def test_misc_api():
    g = G.Net()
    assert g.compile() is g and g.share_memory() is g and g._version == 1
    d = dir(g)
    assert "fc1" in d and "running_mean" not in d and "forward" in d
    assert "running_mean" in dir(g.bn)
    assert all(not k[0].isdigit() for k in dir(nn.Sequential(G.ReLU())))


class PicklableNet(nn.Module):
    """Module-level (importable) so that pickle can find the class."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.ParameterList([ganglion.zeros(2, 3)]))
        self.register_buffer("count", ganglion.tensor(3))
        self.register_buffer("tmp", ganglion.ones(1), persistent=False)


def test_deepcopy_and_pickle():
    g = randomize(PicklableNet())
    for c in (copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        assert list(c.state_dict()) == list(g.state_dict())
        for (k, a), b in zip(g.state_dict().items(), c.state_dict().values()):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
        w, cw = g.body[1][0], c.body[1][0]
        assert cw is not w and isinstance(cw, nn.Parameter) and cw.requires_grad
        assert c._non_persistent_buffers_set == {"tmp"}


# -- repr ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Net", "Multi", "Linear", "ReLU"])
def test_repr_matches_torch(name):
    args = (3, 2) if name == "Linear" else ()
    assert repr(getattr(G, name)(*args)) == repr(getattr(T, name)(*args))


def test_repr_blank_lines_in_extra_repr():
    out = {}
    for key, lib_nn in (("g", nn), ("t", torch.nn)):
        class Box(lib_nn.Module):
            def extra_repr(self):
                return "a\n\nb"
        outer = lib_nn.Module()
        outer.box = Box()
        out[key] = repr(outer)
    assert out["g"] == out["t"]


# -- state_dict ------------------------------------------------------------------------------
def test_state_dict_keys_match_real_torch_layers():
    g = nn.Sequential(G.Linear(4, 3), G.BatchNorm1d(3))
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    assert list(g.state_dict()) == list(t.state_dict())
    g.load_state_dict(t.state_dict())  # a real torch state_dict loads directly
    np.testing.assert_array_equal(g[0].weight.numpy(force=True), t[0].weight.detach().numpy())
    assert g[1].num_batches_tracked.dtype == ganglion.int64


def test_state_dict_values_metadata_and_options():
    g, t = _pair()
    sd = g.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == list(t.state_dict())
    assert not sd["fc1.weight"].requires_grad and not isinstance(sd["fc1.weight"], nn.Parameter)
    assert np.shares_memory(sd["fc1.weight"].array, g.fc1.weight.array)
    assert dict(sd._metadata) == dict(t.state_dict()._metadata)
    kv = g.state_dict(keep_vars=True)
    assert kv["fc1.weight"] is g.fc1.weight
    pre = g.state_dict(prefix="model.")
    assert list(pre) == ["model." + k for k in sd]
    dest = {}
    assert g.state_dict(destination=dest) is dest and list(dest) == list(sd)


def test_load_state_dict_from_torch_numpy_and_values():
    g, t = _pair()
    fresh = G.Net()
    res = fresh.load_state_dict(t.state_dict(keep_vars=True))  # requires_grad torch tensors
    assert repr(res) == "<All keys matched successfully>"
    assert res.missing_keys == [] and res.unexpected_keys == []
    fresh2 = G.Net()
    fresh2.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = ganglion.ones(2, 4)
    for m in (fresh, fresh2):
        np.testing.assert_allclose(m(x).detach().numpy(), g(x).detach().numpy(), rtol=1e-6)
    w = fresh.fc1.weight
    fresh.load_state_dict(g.state_dict())
    assert fresh.fc1.weight is w and w._version > 0  # copied in place


def _errors(module_g, module_t, sd_g, sd_t, **kw):
    with pytest.raises(RuntimeError) as eg:
        module_g.load_state_dict(sd_g, **kw)
    with pytest.raises(RuntimeError) as et:
        module_t.load_state_dict(sd_t, **kw)
    return str(eg.value), str(et.value)


def test_load_state_dict_missing_unexpected_message_matches_torch():
    g, t = G.Net(), T.Net()
    sd_g, sd_t = g.state_dict(), t.state_dict()
    for sd in (sd_g, sd_t):
        del sd["bn.running_var"], sd["fc2.bias"]
        sd["fc1.extra"] = sd["fc1.weight"]
        sd["ghost.weight"] = sd["fc1.weight"]
    msg_g, msg_t = _errors(g, t, sd_g, sd_t)
    assert msg_g == msg_t
    assert msg_g.startswith("Error(s) in loading state_dict for Net:\n\tMissing key(s)")
    res_g = g.load_state_dict(sd_g, strict=False)
    res_t = t.load_state_dict(sd_t, strict=False)
    assert res_g.missing_keys == res_t.missing_keys
    assert res_g.unexpected_keys == res_t.unexpected_keys
    assert repr(res_g) == repr(res_t)


def test_load_state_dict_size_mismatch_message():
    g = G.Linear(4, 2)
    with pytest.raises(RuntimeError) as e:
        g.load_state_dict({"weight": np.zeros((3, 4), np.float32), "bias": np.zeros(2)})
    assert str(e.value) == ("Error(s) in loading state_dict for Linear:\n\tsize mismatch for "
                            "weight: copying a param with shape (3, 4) from checkpoint, the "
                            "shape in current model is (2, 4).")
    t = T.Linear(4, 2)
    with pytest.raises(RuntimeError) as et:
        t.load_state_dict({"weight": torch.zeros(3, 4), "bias": torch.zeros(2)})
    # torch prints torch.Size([3, 4]) where ganglion prints the tuple (3, 4)
    assert re.sub(r"torch\.Size\(\[(\d+), (\d+)\]\)", r"(\1, \2)", str(et.value)) == \
        str(e.value)


def test_load_state_dict_bad_values_and_types():
    g = G.Linear(2, 1)
    with pytest.raises(RuntimeError, match="While copying the parameter named \"weight\""):
        g.load_state_dict({"weight": "nope", "bias": np.zeros(1)})
    with pytest.raises(TypeError, match="dict-like"):
        g.load_state_dict([("weight", np.zeros((1, 2)))])


def test_load_scalar_from_shape_1_and_assign():
    g = nn.Module()
    g.p = nn.Parameter(ganglion.tensor(0.0))
    g.load_state_dict({"p": np.array([3.0], np.float32)})
    assert g.p.item() == 3.0 and g.p.shape == ()
    lin = G.Linear(2, 1)
    old = lin.weight
    lin.weight.requires_grad_(False)
    new = np.ones((1, 2), np.float64)
    lin.load_state_dict({"weight": new, "bias": np.zeros(1)}, assign=True)
    assert lin.weight is not old and isinstance(lin.weight, nn.Parameter)
    assert lin.weight.dtype == ganglion.float64  # assign keeps the checkpoint's properties
    assert not lin.weight.requires_grad  # ... except requires_grad, as torch


def test_load_hooks_and_overrides():
    class Versioned(G.Linear):
        _version = 2

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args):
            if local_metadata.get("version", 1) < 2 and prefix + "w" in state_dict:
                state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
            super()._load_from_state_dict(state_dict, prefix, local_metadata, *args)

    outer = nn.Sequential(Versioned(2, 1))
    sd = OrderedDict([("0.w", np.ones((1, 2), np.float32)), ("0.bias", np.zeros(1))])
    sd._metadata = {"0": {"version": 1}}
    outer.load_state_dict(sd)
    assert outer[0].weight.sum().item() == 2.0
    assert outer.state_dict()._metadata["0"] == {"version": 2}
    calls = []
    outer.register_load_state_dict_pre_hook(lambda m, *a: calls.append("pre"))
    outer.register_load_state_dict_post_hook(lambda m, keys: calls.append(keys))
    outer.register_state_dict_pre_hook(lambda m, prefix, kv: calls.append("spre"))
    outer.register_state_dict_post_hook(lambda m, sd, prefix, meta: calls.append("spost"))
    outer.load_state_dict(outer.state_dict())
    assert calls[:3] == ["spre", "spost", "pre"] and calls[3].missing_keys == []


def test_extra_state_roundtrip():
    class WithExtra(G.ReLU):
        def __init__(self):
            super().__init__()
            self.step = 0

        def get_extra_state(self):
            return {"step": self.step}

        def set_extra_state(self, state):
            self.step = state["step"]

    a = WithExtra()
    a.step = 7
    sd = a.state_dict()
    assert list(sd) == ["_extra_state"]
    b = WithExtra()
    b.load_state_dict(sd)
    assert b.step == 7
    with pytest.raises(RuntimeError, match="Missing key"):
        b.load_state_dict({})
    with pytest.raises(RuntimeError, match="Unexpected key"):
        G.ReLU().load_state_dict({"_extra_state": 1})


def test_save_to_state_dict_override_and_keep_vars():
    out = {}
    for key, ns, lib in (("g", G, ganglion), ("t", T, torch)):
        class Packed(ns.Linear):
            def _save_to_state_dict(self, destination, prefix, keep_vars):
                super()._save_to_state_dict(destination, prefix, keep_vars)
                destination[prefix + "packed"] = self.weight.detach().reshape(-1)

        seq = nn.Sequential if key == "g" else torch.nn.Sequential
        sd = seq(Packed(2, 3)).state_dict()
        out[key] = [(k, tuple(v.shape)) for k, v in sd.items()]
    assert out["g"] == out["t"] == [("0.weight", (3, 2)), ("0.bias", (3,)), ("0.packed", (6,))]


def test_to_argument_forms():
    g = G.Linear(2, 2)
    g.to("cpu", ganglion.float64, False)
    assert g.weight.dtype == ganglion.float64
    g.to(device="cpu")
    assert g.weight.dtype == ganglion.float64
    g.to(ganglion.float32, non_blocking=True, memory_format=None)
    assert g.weight.dtype == ganglion.float32
    with pytest.raises(TypeError, match="unexpected keyword"):
        g.to(colour="red")


def test_forward_pre_hook_with_kwargs_bad_return():
    for ns in (G, T):
        m = ns.Linear(2, 2)
        m.register_forward_pre_hook(lambda mod, a, kw: 3, with_kwargs=True)
        with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
            m(ganglion.ones(1, 2) if ns is G else torch.ones(1, 2))
