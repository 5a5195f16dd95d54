"""Module hooks against torch: forward (pre-)hooks, always_call, global hooks, full backward
(pre-)hooks (grad_input/grad_output values and replacements), the legacy backward hook."""
import numpy as np
import pytest

import ganglion
from ganglion import nn
from tests.nn.toy_modules import build

torch = pytest.importorskip("torch")

G = build(nn, ganglion)
T = build(torch.nn, torch)


# -- forward hooks ---------------------------------------------------------------------------
def _run_forward_hooks(ns, lib):
    m = ns.Linear(2, 2)
    log = []

    def pre(mod, args):
        log.append(("pre", len(args)))
        return args[0] * 2  # a single value is wrapped into a tuple

    def pre_kw(mod, args, kwargs):
        log.append(("pre_kw", sorted(kwargs)))
        return args, kwargs

    def fwd(mod, args, out):
        log.append(("fwd", tuple(out.shape)))
        return out + 1

    m.register_forward_pre_hook(pre)
    m.register_forward_pre_hook(pre_kw, with_kwargs=True, prepend=True)
    h = m.register_forward_hook(fwd)
    m.register_forward_hook(lambda mod, a, kw, out: log.append(("fwd_kw", sorted(kw))),
                            with_kwargs=True, prepend=True)
    out1 = m(lib.ones(3, 2)).detach().numpy().copy()
    h.remove()
    with m.register_forward_hook(lambda mod, a, out: out * 0):
        out2 = m(lib.ones(3, 2)).detach().numpy().copy()
    out3 = m(lib.ones(3, 2)).detach().numpy().copy()
    return log, out1, out2, out3


def test_forward_hooks_match_torch():
    lg, *outs_g = _run_forward_hooks(G, ganglion)
    lt, *outs_t = _run_forward_hooks(T, torch)
    assert lg == lt
    for a, b in zip(outs_g, outs_t):
        np.testing.assert_array_equal(a, b)


def test_always_call_hook_runs_when_forward_raises():
    for ns in (G, T):
        m = ns.Linear(2, 2)
        seen = []
        m.register_forward_hook(lambda mod, a, out: seen.append("always"), always_call=True)
        m.register_forward_hook(lambda mod, a, out: seen.append("normal"))
        with pytest.raises(Exception):
            m(np.ones(3))  # not a tensor: forward fails
        assert seen == ["always"]


def test_global_forward_hook():
    seen = []
    h = nn.register_module_forward_hook(lambda m, a, out: seen.append(type(m).__name__))
    try:
        G.Net()(ganglion.ones(1, 4))
    finally:
        h.remove()
    G.Net()(ganglion.ones(1, 4))
    assert seen == ["Linear", "ReLU", "BatchNorm1d", "Linear", "Net"]
    h = nn.register_module_forward_hook(lambda m, a, kw, out: seen.append(kw), with_kwargs=True)
    try:
        G.TwoIO()(ganglion.ones(3), y=ganglion.ones(3))
    finally:
        h.remove()
    assert list(seen[-1]) == ["y"]


# -- backward hooks --------------------------------------------------------------------------
def _backward_with_hooks(ns, lib, scale_in=1.0, scale_out=1.0):
    m = ns.TwoIO()
    rec = {}

    def bw(mod, gin, gout):
        rec["gin"] = [None if g is None else g.detach().numpy().copy() for g in gin]
        rec["gout"] = [g.detach().numpy().copy() for g in gout]
        if scale_in != 1.0:
            return tuple(None if g is None else g * scale_in for g in gin)

    def bw_pre(mod, gout):
        rec["pre"] = [g.detach().numpy().copy() for g in gout]
        if scale_out != 1.0:
            return tuple(g * scale_out for g in gout)

    m.register_full_backward_hook(bw)
    m.register_full_backward_pre_hook(bw_pre)
    rng = np.random.default_rng(3)
    x = lib.tensor(rng.normal(size=(2, 3)).astype(np.float32), requires_grad=True)
    y = lib.tensor(rng.normal(size=(2, 3)).astype(np.float32))  # needs no grad
    a, b = m(x, y)
    (a.sum() * 2 + (b * b).sum()).backward()
    rec["x.grad"] = x.grad.numpy().copy()
    rec["w.grad"] = m.w.grad.numpy().copy()
    return rec


@pytest.mark.parametrize("scale_in,scale_out", [(1.0, 1.0), (3.0, 1.0), (1.0, 0.5)])
def test_full_backward_hooks_match_torch(scale_in, scale_out):
    rg = _backward_with_hooks(G, ganglion, scale_in, scale_out)
    rt = _backward_with_hooks(T, torch, scale_in, scale_out)
    for key in ("pre", "gout", "gin", "x.grad", "w.grad"):
        a, b = rg[key], rt[key]
        if key in ("pre", "gout", "gin"):
            assert len(a) == len(b) == 2, key
        else:
            a, b = [a], [b]
        for u, v in zip(a, b):  # y (no grad) gets zeros in grad_input, as torch
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6, err_msg=key)


def test_full_backward_hook_without_input_grads_warns_and_fires():
    m = G.Linear(2, 1)
    seen = []
    m.register_full_backward_hook(lambda mod, gin, gout: seen.append((gin, len(gout))))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        m(ganglion.ones(3, 2)).sum().backward()
    assert seen == [((None,), 1)]


def test_backward_hook_errors_and_legacy_hook():
    m = G.Linear(2, 1)
    m.register_full_backward_hook(lambda mod, gin, gout: (None, None))
    x = ganglion.ones(3, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        m(x).sum().backward()
    with pytest.raises(RuntimeError, match="Cannot use both"):
        m.register_backward_hook(lambda *a: None)
    legacy = G.Linear(2, 1)
    seen = []
    legacy.register_backward_hook(lambda mod, gin, gout: seen.append(len(gout)))
    legacy(x).sum().backward()
    assert seen == [1]
    with pytest.raises(RuntimeError, match="Cannot use both"):
        legacy.register_full_backward_hook(lambda *a: None)


def test_hooks_leave_no_trace_when_removed():
    m = G.Linear(2, 1)
    h1 = m.register_full_backward_hook(lambda *a: None)
    h2 = m.register_forward_pre_hook(lambda *a: None)
    h1.remove()
    h2.remove()
    assert not m._backward_hooks and not m._forward_pre_hooks
    x = ganglion.ones(3, 2, requires_grad=True)
    assert m(x).grad_fn is not None and x.grad is None


def test_global_full_backward_hook_and_pre_hook():
    seen = []
    h1 = nn.register_module_full_backward_hook(
        lambda m, gin, gout: seen.append(("bw", type(m).__name__)))
    h2 = nn.register_module_full_backward_pre_hook(
        lambda m, gout: seen.append(("pre", type(m).__name__)))
    try:
        x = ganglion.ones(2, 4, requires_grad=True)
        G.Net()(x).sum().backward()
    finally:
        h1.remove()
        h2.remove()
    names = [n for _, n in seen]
    assert names.count("Linear") == 4 and names.count("Net") == 2
    assert seen[0] == ("pre", "Net")  # the outermost module sees grad_output first


def test_registration_hooks():
    seen = []
    h = nn.register_module_parameter_registration_hook(
        lambda m, name, p: seen.append(name))
    try:
        G.Linear(2, 2)
    finally:
        h.remove()
    assert seen == ["weight", "bias"]
