"""Grad modes, in-place ops with version counters, anomaly detection."""
import numpy as np
import pytest

import ganglion as G

torch = pytest.importorskip("torch")


def test_no_grad_context_and_decorator():
    x = G.ones(2, requires_grad=True)
    with G.no_grad():
        assert not (x * 2).requires_grad
        with G.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad

    @G.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and G.is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    x = G.ones(2, requires_grad=True)
    G.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        G.set_grad_enabled(True)
    with G.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert G.is_grad_enabled()

    @G.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert not f(x).requires_grad and G.is_grad_enabled()


def test_inference_mode():
    x = G.ones(2, requires_grad=True)
    with G.inference_mode():
        assert not (x * 2).requires_grad and G.is_inference_mode_enabled()
    with G.inference_mode(False):
        assert (x * 2).requires_grad
    assert not G.is_inference_mode_enabled()


def test_inplace_on_leaf_requiring_grad_raises():
    x = G.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.mul_(2)
    with G.no_grad():
        x.add_(1)  # as optimizers do
    np.testing.assert_allclose(x.numpy(force=True), [2, 2])


def test_modifying_saved_tensor_raises_version_error():
    for lib in (G, torch):
        a = lib.ones(3, requires_grad=True)
        b = a * 2
        c = b * b  # saves b
        b.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()


def test_modifying_saved_output_raises():
    x = G.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # saves its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="inplace operation"):
        y.sum().backward()


def test_inplace_through_view_bumps_base_version():
    a = G.ones(2, 3, requires_grad=True)
    b = a * 1
    c = b * b
    v = b.reshape(6)
    with G.no_grad():
        v.mul_(2)
    with pytest.raises(RuntimeError, match="inplace operation"):
        c.sum().backward()


def test_inplace_gradients_match_torch():
    res = []
    for lib in (G, torch):
        a = lib.tensor([0.5, 1.5, -2.0], requires_grad=True)
        w = lib.tensor([2.0, 3.0, 4.0], requires_grad=True)
        x = a * 1
        x.mul_(w)
        x.add_(a, alpha=2)
        x.sub_(1)
        x.div_(w)
        x.exp_()
        x.sum().backward()
        res.append((x.detach().numpy(), a.grad.numpy(), w.grad.numpy()))
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-5)


def test_inplace_keeps_identity_and_memory():
    x = G.zeros(3)
    view = x.reshape(3)
    ptr = x.data_ptr()
    y = x.add_(2)
    assert y is x and x.data_ptr() == ptr
    np.testing.assert_allclose(view.numpy(), [2, 2, 2])
    x += 1
    np.testing.assert_allclose(view.numpy(), [3, 3, 3])


def test_inplace_dtype_and_shape_errors():
    i = G.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(1.5)
    x = G.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.add_(G.ones(2, 3))
    f = G.ones(2)
    f.add_(G.tensor([1, 2]))  # int into float is allowed
    np.testing.assert_allclose(f.numpy(), [2, 3])


def test_zero_fill_copy():
    res = []
    for lib in (G, torch):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        s = lib.tensor([5.0, 6.0, 7.0], requires_grad=True)
        x = a * 2
        x.copy_(s * 3)
        y = a * 1
        y.fill_(2.0)
        z = a * 1
        z.zero_()
        (x * a).sum().add(y.sum()).add(z.sum()).backward()
        res.append((a.grad.numpy(), s.grad.numpy()))
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v)


def test_expanded_tensor_is_read_only():
    e = G.ones(1, 3).expand(4, 3)
    with pytest.raises(RuntimeError, match="expand"):
        e.add_(1)


def test_anomaly_detection_names_op_and_forward_trace():
    x = G.tensor([0.0, 1.0], requires_grad=True)
    with G.autograd.detect_anomaly():
        y = x.sqrt()  # d/dx sqrt(0) = inf
        with pytest.raises(RuntimeError, match="SqrtBackward0.*inf") as info:
            y.sum().backward()
    assert "test_modes_inplace.py" in str(info.value)
    assert not G.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_nan():
    G.autograd.set_detect_anomaly(True)
    try:
        x = G.tensor([-1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="LogBackward0.*nan|nan"):
            (x.log() * 0 + x.sqrt()).sum().backward()
    finally:
        G.autograd.set_detect_anomaly(False)


def test_no_anomaly_check_without_mode():
    x = G.tensor([0.0], requires_grad=True)
    x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()).all()


@pytest.mark.parametrize("name", ["add_", "sub_", "mul_", "div_"])
def test_fast_inplace_arithmetic_matches_torch(name):
    # the unrecorded fast path (ufunc with out=) against torch: values, broadcasting of the
    # other operand, division by zero, the version bump, and a leaf that requires grad
    a = np.array([[1.0, -2.0, 0.0], [3.0, 0.5, -1.0]], np.float32)
    others = (2.5, 3, np.array([0.0, 2.0, -4.0], np.float32), np.float32(0.0) + a)
    for other in others:
        g, t = G.tensor(a), torch.tensor(a)
        go = G.tensor(other) if isinstance(other, np.ndarray) else other
        to = torch.tensor(other) if isinstance(other, np.ndarray) else other
        v = g._version
        assert getattr(g, name)(go) is g and g._version == v + 1
        getattr(t, name)(to)
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-6)
    w = G.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(w, name)(2.0)
    with G.no_grad():
        getattr(w, name)(2.0)  # as optimizers do
    assert w.grad_fn is None and w.requires_grad


def test_fast_inplace_records_when_other_requires_grad():
    res = []
    for lib in (G, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        s = lib.tensor([3.0, 4.0], requires_grad=True)
        x = a * 1
        x.mul_(s)
        x.sub_(a)
        x.sum().backward()
        res.append((a.grad.numpy(), s.grad.numpy()))
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v)
