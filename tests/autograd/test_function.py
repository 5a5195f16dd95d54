"""Custom autograd.Function, once_differentiable, gradcheck and gradgradcheck."""
import numpy as np
import pytest

import ganglion as G
from ganglion.autograd import Function, GradcheckError, gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class TorchCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


def test_custom_function_forward_backward_and_double_backward():
    a = np.array([0.5, -1.0, 2.0], np.float32)
    gx = G.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    gy, ty = Cube.apply(gx), TorchCube.apply(tx)
    assert gy.grad_fn is not None and gy.requires_grad
    (g1,) = G.autograd.grad(gy.sum(), gx, create_graph=True)
    (t1,) = torch.autograd.grad(ty.sum(), tx, create_graph=True)
    np.testing.assert_allclose(g1.detach().numpy(), t1.detach().numpy())
    (g2,) = G.autograd.grad(g1.sum(), gx)
    (t2,) = torch.autograd.grad(t1.sum(), tx)
    np.testing.assert_allclose(g2.numpy(), t2.numpy())


class ScaleBy(Function):
    """Two inputs, one of them a plain number; checks needs_input_grad."""

    @staticmethod
    def forward(ctx, x, w, k):
        ctx.save_for_backward(x, w)
        ctx.k = k
        return x * w * k

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        ctx.seen = ctx.needs_input_grad
        gx = g * w * ctx.k if ctx.needs_input_grad[0] else None
        gw = g * x * ctx.k if ctx.needs_input_grad[1] else None
        return gx, gw, None


def test_needs_input_grad_and_non_tensor_args():
    x = G.ones(3, requires_grad=True)
    w = G.full((3,), 2.0)
    y = ScaleBy.apply(x, w, 5.0)
    y.sum().backward()
    assert y.grad_fn.seen == (True, False, False)
    np.testing.assert_allclose(x.grad.numpy(), 10.0)


class SortWithIndex(Function):
    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x.numpy())
        idx = G.from_numpy(order)
        ctx.mark_non_differentiable(idx)
        ctx.order = order
        return G.tensor(x.numpy()[order]), idx

    @staticmethod
    def backward(ctx, g, g_idx):
        out = np.zeros_like(g.numpy())
        out[ctx.order] = g.numpy()
        return G.from_numpy(out)


def test_mark_non_differentiable_and_multiple_outputs():
    x = G.tensor([3.0, 1.0, 2.0], requires_grad=True)
    vals, idx = SortWithIndex.apply(x)
    assert vals.requires_grad and not idx.requires_grad
    (vals * G.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [100.0, 1.0, 10.0])


class NewStyle(Function):
    @staticmethod
    def forward(x, k):
        return x * k

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.k = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


def test_setup_context_style():
    x = G.ones(2, requires_grad=True)
    NewStyle.apply(x, 4.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4.0)


class OnceExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @G.autograd.once_differentiable
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_once_differentiable():
    x = G.tensor([0.0, 1.0], requires_grad=True)
    (g,) = G.autograd.grad(OnceExp.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), np.exp([0.0, 1.0]), rtol=1e-6)
    # as torch: the results are marked only when an incoming gradient requires grad
    y = OnceExp.apply(x)
    (g,) = G.autograd.grad(y, x, grad_outputs=G.ones(2, requires_grad=True),
                           create_graph=True)
    assert g.requires_grad
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_saved_tensor_modified_in_custom_function():
    x = G.ones(2, requires_grad=True)
    h = x * 1
    y = Cube.apply(h)
    h.mul_(2)
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()


def test_gradcheck_passes_and_detects_wrong_gradient():
    x = G.randn(4, dtype=G.float64, requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t), (x,))

    class Wrong(Function):
        @staticmethod
        def forward(ctx, t):
            return t * t

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 * t * g

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(Wrong.apply, (x,))
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, (G.ones(2, requires_grad=True),))


def test_gradgradcheck():
    x = G.randn(3, dtype=G.float64, requires_grad=True)
    assert gradgradcheck(lambda t: (t * t * t).exp(), (x,))
    assert gradgradcheck(lambda t: Cube.apply(t), (x,))


def test_grad_fn_introspection():
    x = G.ones(2, requires_grad=True)
    y = x * 2 + 1
    assert y.grad_fn.name() == "AddBackward0"
    nxt = y.grad_fn.next_functions
    assert nxt[0][0].name() == "MulBackward0"
    assert nxt[0][0].next_functions[0][0].name() == "AccumulateGrad"
    assert nxt[0][0].next_functions[0][0].variable is x


def test_apply1_is_apply_for_one_tensor_and_parameters():
    # the single-input entry point builds the same node (edges, saved values, versions) as
    # the general one, and still goes through a patched Op.apply (the ONNX tracer's)
    from ganglion.autograd import function as F
    from ganglion.ops.movement import Permute
    from ganglion.ops.unary import Exp

    x = G.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    for op, params in ((Permute, ((1, 0),)), (Exp, ())):
        a, b = op.apply(x, *params), op.apply1(x, *params)
        assert a.grad_fn.next_functions[0][0].variable is x
        assert b.grad_fn.next_functions[0][0].variable is x
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        ga, = G.autograd.grad(a.sum(), x)
        gb, = G.autograd.grad(b.sum(), x)
        np.testing.assert_array_equal(ga.numpy(), gb.numpy())
    calls = []
    orig = F.Op.__dict__["apply"]

    def traced(cls, *args):
        calls.append(cls)
        return orig.__func__(cls, *args)

    F.Op.apply = classmethod(traced)
    try:
        Exp.apply1(x)
    finally:
        F.Op.apply = orig
    assert calls == [Exp]
