"""The backward engine: backward/grad, accumulation, retain_graph, hooks, create_graph."""
import numpy as np
import pytest

import ganglion as G

torch = pytest.importorskip("torch")


def _pair(values, requires_grad=True):
    a = np.asarray(values, dtype=np.float32)
    return (G.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def test_backward_accumulates_like_torch():
    g, t = _pair([1.0, 2.0, 3.0])
    for lib, x in ((G, g), (torch, t)):
        (x * x).sum().backward()
        (x.exp()).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_shared_subexpression_and_diamond_graph():
    g, t = _pair([0.5, -1.0, 2.0])
    outs = []
    for x in (g, t):
        y = x * 2
        z = y.exp() + y * y - y / 3
        (z * z).sum().backward()
        outs.append(x.grad)
    np.testing.assert_allclose(outs[0].numpy(), outs[1].numpy(), rtol=1e-5)


def test_leaf_grads_do_not_alias():
    # x + x hands the same gradient to two edges; y + z to two leaves: each .grad must be private
    x = G.ones(3, requires_grad=True)
    y = G.ones(3, requires_grad=True)
    (x + y).sum().backward()
    x.grad.mul_(5)
    np.testing.assert_array_equal(y.grad.numpy(), np.ones(3, np.float32))


def test_grad_is_contiguous_in_parameter_layout():
    w = G.ones(4, 3, requires_grad=True)
    (w.permute(1, 0) * G.arange(4.0)).sum().backward()
    assert w.grad.is_contiguous() and w.grad.shape == (4, 3)


def test_broadcast_gradient_is_summed_to_input_shape():
    g1, t1 = _pair(np.ones((3, 1)))
    g2, t2 = _pair(np.arange(4.0))
    (g1 * g2).sum().backward()
    (t1 * t2).sum().backward()
    np.testing.assert_allclose(g1.grad.numpy(), t1.grad.numpy())
    np.testing.assert_allclose(g2.grad.numpy(), t2.grad.numpy())


def test_second_backward_through_freed_graph_raises():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)


def test_nonscalar_backward_needs_gradient():
    x = G.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        (x * 2).backward()
    (x * 2).backward(G.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        G.ones(2).sum().backward()


def test_gradient_shape_mismatch_raises():
    x = G.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(G.ones(2))


def test_autograd_grad_matches_torch_and_leaves_grad_untouched():
    g, t = _pair([0.3, 0.7])
    (gg,) = G.autograd.grad((g.exp() * g).sum(), g)
    (tg,) = torch.autograd.grad((t.exp() * t).sum(), t)
    np.testing.assert_allclose(gg.numpy(), tg.numpy(), rtol=1e-6)
    assert g.grad is None


def test_autograd_grad_unused_input():
    x = G.ones(2, requires_grad=True)
    z = G.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not have been used"):
        G.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = G.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and np.allclose(gx.numpy(), 2)
    gx, gz = G.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)
    assert np.allclose(gz.numpy(), 0)


def test_grad_wrt_intermediate_tensor():
    g, t = _pair([1.0, 2.0])
    res = []
    for lib, x in ((G, g), (torch, t)):
        h = x * 3
        y = (h * h).sum()
        res.append(lib.autograd.grad(y, h)[0].numpy())
    np.testing.assert_allclose(res[0], res[1])


def test_double_backward_matches_torch():
    g, t = _pair([0.2, -0.4, 1.1])
    outs = []
    for lib, x in ((G, g), (torch, t)):
        y = (x.exp() * x * x).sum()
        (d1,) = lib.autograd.grad(y, x, create_graph=True)
        (d2,) = lib.autograd.grad((d1 * d1).sum(), x, create_graph=True)
        (d3,) = lib.autograd.grad(d2.sum(), x)
        outs.append((d1.detach().numpy(), d2.detach().numpy(), d3.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_hessian_vector_product():
    g, t = _pair([0.5, 1.5])
    vecs = np.array([1.0, -2.0], np.float32)
    out = []
    for lib, x in ((G, g), (torch, t)):
        y = (x * x * x).sum() + (x.exp() * x).sum() * (x * x).sum()
        (gr,) = lib.autograd.grad(y, x, create_graph=True)
        v = G.tensor(vecs) if lib is G else torch.from_numpy(vecs)
        (hv,) = lib.autograd.grad((gr * v).sum(), x)
        out.append(hv.numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5)


def test_create_graph_grad_has_grad_fn():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    (g,) = G.autograd.grad((x * x).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (g2,) = G.autograd.grad((x * x).sum(), x)
    assert not g2.requires_grad


def test_backward_inputs_argument():
    x = G.ones(2, requires_grad=True)
    y = G.ones(2, requires_grad=True)
    (x * y * 2).sum().backward(inputs=[x])
    assert x.grad is not None and y.grad is None


def test_tensor_hook_modifies_gradient():
    g, t = _pair([1.0, 2.0])
    for x in (g, t):
        h = x * 2
        h.register_hook(lambda grad: grad * 10)
        x.register_hook(lambda grad: grad + 1)
        (h * h).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy())


def test_hook_handle_remove():
    x = G.ones(2, requires_grad=True)
    handle = x.register_hook(lambda grad: grad * 0)
    handle.remove()
    (x * 3).sum().backward()
    assert np.allclose(x.grad.numpy(), 3)


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        G.ones(2).register_hook(lambda g: g)


def test_retain_grad_on_intermediate():
    g, t = _pair([1.0, 3.0])
    res = []
    for x in (g, t):
        h = x * x
        h.retain_grad()
        (h * 2).sum().backward()
        res.append(h.grad.numpy())
    np.testing.assert_allclose(res[0], res[1])
    assert G.ones(1, requires_grad=True).retains_grad is False


def test_post_accumulate_grad_hook():
    x = G.ones(2, requires_grad=True)
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    (x * 4).sum().backward()
    assert len(seen) == 1 and np.allclose(seen[0], 4)


def test_detach_breaks_graph_and_shares_memory():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    with G.no_grad():
        d.array[0] = 7.0
    assert x.array[0] == 7.0


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        G.tensor([1, 2]).requires_grad_()
    y = G.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    assert y.is_leaf is False and G.ones(2).is_leaf


def test_integer_outputs_do_not_require_grad():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    assert not (x > 1).requires_grad


# Random small graphs (shared inputs, diamonds, broadcasts, views, GEMMs), each backward
# compared with torch's. A gradient array handed to a leaf as-is while another node still
# waited on it was once corrupted by the leaf's next accumulation (seeds 2, 185, 240).
_FUZZ_OPS = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
    lambda a, b: a * 1.5, lambda a, b: (a * 0.1).exp(), lambda a, b: a.t(),
    lambda a, b: a.reshape(-1).reshape(3, 3), lambda a, b: a.mean(dim=1, keepdim=True) + b,
    lambda a, b: a @ b * 0.2, lambda a, b: a[0:2].sum(0) + b, lambda a, b: a / 2.0 + b,
    lambda a, b: a.expand(2, 3, 3).sum(0) * b,
]


def _fuzz_grads(lib, seed, plan, outs):
    rs = np.random.default_rng(seed)
    leaves = [lib.tensor(rs.standard_normal((3, 3)), requires_grad=True) for _ in range(3)]
    pool = list(leaves)
    for op, i, j in plan:
        pool.append(_FUZZ_OPS[op](pool[i], pool[j]))
    loss = sum((pool[o] * float(k + 1)).sum() for k, o in enumerate(outs))
    loss.backward()
    return [None if x.grad is None else np.array(x.grad.detach().numpy()) for x in leaves]


@pytest.mark.parametrize("seed", [2, 185, 240] + list(range(10, 60)))
def test_random_graphs_match_torch(seed):
    import random

    rng = random.Random(seed)
    plan = [(rng.randrange(len(_FUZZ_OPS)), rng.randrange(3 + k), rng.randrange(3 + k))
            for k in range(rng.randint(2, 8))]
    outs = [rng.randrange(3 + len(plan)) for _ in range(rng.randint(1, 3))]
    mine, ref = _fuzz_grads(G, seed, plan, outs), _fuzz_grads(torch, seed, plan, outs)
    for a, b in zip(mine, ref):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_callers_gradient_is_never_adopted_as_grad():
    # (x + 1) hands the caller's gradient straight to x: x.grad must be a copy of it
    x = G.ones(3, requires_grad=True)
    g = G.full((3,), 2.0)
    (x + 1).backward(g)
    x.grad.add_(1)
    assert g.tolist() == [2.0, 2.0, 2.0]
    x.grad = None
    x.backward(g)  # the leaf itself is the root
    x.grad.add_(1)
    assert g.tolist() == [2.0, 2.0, 2.0]
