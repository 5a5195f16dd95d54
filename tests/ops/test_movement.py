"""Targeted tests of the movement family: argument forms, errors, dtypes, view semantics."""
import numpy as np
import pytest

import ganglion

torch = pytest.importorskip("torch")


def _pair(shape, dtype="float32", seed=0):
    a = np.random.default_rng(seed).uniform(-2, 2, shape)
    a = a.astype(dtype) if dtype != "bool" else a > 0
    return ganglion.from_numpy(a.copy()), torch.from_numpy(a.copy())


def _same(g, t):
    if isinstance(t, (tuple, list)):
        assert isinstance(g, (tuple, list)) and len(g) == len(t), (g, t)
        for a, b in zip(g, t):
            _same(a, b)
        return
    assert tuple(g.shape) == tuple(t.shape), (g.shape, t.shape)
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (g.dtype, t.dtype)
    np.testing.assert_array_equal(g.numpy(), t.numpy())


# One function of (library module, tensor) per argument form; runs on ganglion and torch.
FORMS = [
    ((2, 3, 4), lambda m, x: x.reshape((4, 6))),
    ((2, 3, 4), lambda m, x: x.reshape([-1])),
    ((2, 3, 4), lambda m, x: m.reshape(x, (3, -1))),
    ((2, 3, 4), lambda m, x: x.view(4, -1, 2)),
    ((2, 3, 4), lambda m, x: x.view(m.Size([24]))),
    ((), lambda m, x: x.view(-1)),
    ((), lambda m, x: x.reshape(())),
    ((2, 3, 4), lambda m, x: x.flatten(0, 1)),
    ((2, 3, 4), lambda m, x: x.flatten(-2)),
    ((2, 3, 4), lambda m, x: x.flatten(1, 1)),
    ((), lambda m, x: m.flatten(x)),
    ((2, 12), lambda m, x: x.unflatten(-1, (2, 3, 2))),
    ((2, 12), lambda m, x: m.unflatten(x, 0, [1, 2])),
    ((1, 3, 1), lambda m, x: x.squeeze(0)),
    ((1, 3, 1), lambda m, x: x.squeeze(1)),
    ((1, 3, 1), lambda m, x: x.squeeze((-1, 0))),
    ((1, 3, 1), lambda m, x: m.squeeze(x, [1, 2])),
    ((), lambda m, x: x.squeeze(0)),
    ((), lambda m, x: x.unsqueeze(-1)),
    ((2, 3), lambda m, x: x.unsqueeze(-3)),
    ((2, 3), lambda m, x: x.unsqueeze(2)),
    ((2, 3, 4), lambda m, x: x.permute((1, 2, 0))),
    ((2, 3, 4), lambda m, x: x.permute([-1, 0, 1])),
    ((2, 3, 4), lambda m, x: m.permute(x, (2, 1, 0))),
    ((), lambda m, x: x.permute(())),
    ((), lambda m, x: x.transpose(0, -1)),
    ((2, 3, 4), lambda m, x: m.transpose(x, -1, -3)),
    ((2, 3, 4), lambda m, x: m.swapaxes(x, 0, 2)),
    ((2, 3), lambda m, x: m.t(x)),
    ((3,), lambda m, x: x.t()),
    ((2, 3, 4), lambda m, x: x.mT),
    ((2, 3), lambda m, x: x.T),
    ((2, 3), lambda m, x: x.H),
    ((2, 3, 4), lambda m, x: x.mH),
    ((2, 3, 4), lambda m, x: m.adjoint(x)),
    ((2, 3, 4, 5), lambda m, x: x.movedim((1, 3), (0, 1))),
    ((2, 3, 4, 5), lambda m, x: m.movedim(x, [-1, 0], [1, -1])),
    ((2, 3, 4, 5), lambda m, x: m.moveaxis(x, 2, 0)),
    ((3, 1), lambda m, x: x.expand(2, 3, 5)),
    ((3, 1), lambda m, x: x.expand((-1, 4))),
    ((3, 1), lambda m, x: x.expand_as(m.zeros(2, 3, 2))),
    ((3, 1), lambda m, x: m.broadcast_to(x, (2, 3, 3))),
    ((3, 1), lambda m, x: m.broadcast_tensors(x, m.zeros(4), m.zeros(2, 1, 1))),
    ((4, 5), lambda m, x: x.narrow(1, 2, 3)),
    ((4, 5), lambda m, x: m.narrow(x, -2, -3, 2)),
    ((4, 5), lambda m, x: x.narrow(0, 4, 0)),
    ((4, 5), lambda m, x: x.narrow(0, m.tensor(1), 2)),
]

JOIN_FORMS = [
    ((7, 2), lambda m, x: x.split(3)),
    ((7, 2), lambda m, x: x.split(7)),
    ((7, 2), lambda m, x: x.split(10)),
    ((7, 2), lambda m, x: m.split(x, [0, 7, 0])),
    ((7, 2), lambda m, x: x.split((1, 1), dim=-1)),
    ((0, 2), lambda m, x: x.split(0)),
    ((0, 2), lambda m, x: x.split(2)),
    ((7, 2), lambda m, x: x.chunk(3)),
    ((7, 2), lambda m, x: x.chunk(7)),
    ((7, 2), lambda m, x: x.chunk(10)),
    ((6, 2), lambda m, x: x.chunk(4)),
    ((5, 2), lambda m, x: x.chunk(4)),
    ((0, 2), lambda m, x: x.chunk(3)),
    ((2, 5), lambda m, x: m.chunk(x, 2, -1)),
    ((7, 2), lambda m, x: x.tensor_split(3)),
    ((7, 2), lambda m, x: x.tensor_split(9)),
    ((7, 2), lambda m, x: x.tensor_split([2, 2, 5])),
    ((7, 2), lambda m, x: x.tensor_split((-2, 9))),
    ((7, 2), lambda m, x: x.tensor_split(m.tensor([1, 3]))),
    ((7, 2), lambda m, x: x.tensor_split(m.tensor(2))),
    ((2, 6), lambda m, x: m.hsplit(x, [1, 4])),
    ((6, 2), lambda m, x: m.vsplit(x, 3)),
    ((1, 2, 6), lambda m, x: m.dsplit(x, 2)),
    ((3, 4), lambda m, x: x.unbind(1)),
    ((3, 0), lambda m, x: x.unbind(1)),
    ((3, 4), lambda m, x: m.cat([x, x], -1)),
    ((3, 4), lambda m, x: m.cat((x, m.empty(0), x))),
    ((3, 4), lambda m, x: m.cat([m.empty(0), x, m.zeros(0, 4)])),
    ((0,), lambda m, x: m.cat([x, x])),
    ((3, 4), lambda m, x: m.stack([x, x], 2)),
    ((3, 4), lambda m, x: m.stack((x,), -3)),
    ((3,), lambda m, x: m.hstack([x, x])),
    ((3,), lambda m, x: m.vstack([x, x])),
    ((3,), lambda m, x: m.dstack([x, x])),
    ((3,), lambda m, x: m.column_stack([x, x])),
    ((), lambda m, x: m.atleast_1d(x)),
    ((3,), lambda m, x: m.atleast_2d(x)),
    ((3,), lambda m, x: m.atleast_3d(x)),
    ((3,), lambda m, x: m.atleast_2d([x, x.reshape(1, 3, 1)])),
]

COPY_FORMS = [
    ((2, 3), lambda m, x: x.repeat(2, 2)),
    ((2, 3), lambda m, x: x.repeat((1, 2, 1))),
    ((2, 3), lambda m, x: x.repeat([2, 1, 0])),
    ((), lambda m, x: x.repeat(3)),
    ((2, 3), lambda m, x: m.tile(x, (2,))),
    ((2, 3), lambda m, x: x.tile(2, 1, 2)),
    ((2, 3), lambda m, x: m.repeat_interleave(x, 2)),
    ((2, 3), lambda m, x: x.repeat_interleave(m.tensor([3, 0]), dim=0)),
    ((2, 3), lambda m, x: x.repeat_interleave(m.tensor(2), dim=1)),
    ((2, 3), lambda m, x: x.repeat_interleave(0, dim=1)),
    ((2, 3), lambda m, x: x.repeat_interleave(2, dim=-1, output_size=6)),
    ((2, 3), lambda m, x: m.repeat_interleave(m.tensor([2, 0, 1]))),
    ((2, 3), lambda m, x: x.flip(0)),
    ((2, 3), lambda m, x: m.flip(x, (0, 1))),
    ((2, 3), lambda m, x: x.flip([-1])),
    ((2, 3), lambda m, x: m.fliplr(x)),
    ((2, 3), lambda m, x: m.flipud(x)),
    ((2, 3), lambda m, x: x.roll(4)),
    ((2, 3), lambda m, x: x.roll(-1, 1)),
    ((2, 3), lambda m, x: m.roll(x, (1, 1), (1, 1))),
    ((2, 3), lambda m, x: x.roll(shifts=[1, -4], dims=[0, -1])),
    ((), lambda m, x: x.roll(1)),
    ((3, 4), lambda m, x: x.diagonal(-1)),
    ((3, 4), lambda m, x: x.diagonal(9)),
    ((2, 3, 4), lambda m, x: m.diagonal(x, 1, 2, 0)),
    ((2, 3, 4), lambda m, x: x.diagonal(offset=-1, dim1=-1, dim2=-2)),
    ((3,), lambda m, x: m.diag(x)),
    ((3,), lambda m, x: m.diag(x, -2)),
    ((3, 4), lambda m, x: m.diag(x, 1)),
    ((2, 3), lambda m, x: m.diag_embed(x)),
    ((2, 3), lambda m, x: m.diag_embed(x, -1, 0, 2)),
    ((2, 3), lambda m, x: x.diag_embed(2, dim1=1, dim2=0)),
    ((3, 4), lambda m, x: x.tril(1)),
    ((3, 4), lambda m, x: m.triu(x, -1)),
    ((2, 3, 4), lambda m, x: m.tril(x, -9)),
    ((2, 3, 4), lambda m, x: x.triu(9)),
]


@pytest.mark.parametrize("shape,f", FORMS + JOIN_FORMS + COPY_FORMS)
def test_argument_forms_match_torch(shape, f):
    g, t = _pair(shape)
    _same(f(ganglion, g), f(torch, t))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16", "uint8"])
@pytest.mark.parametrize("f", [
    lambda m, x: x.flip(-1), lambda m, x: x.roll(1, 0), lambda m, x: x.repeat(2, 1),
    lambda m, x: x.tril(), lambda m, x: m.diag(x), lambda m, x: x.diag_embed(),
    lambda m, x: x.repeat_interleave(2), lambda m, x: m.stack([x, x]),
    lambda m, x: x.split(1), lambda m, x: x.mT, lambda m, x: x.narrow(1, 1, 2),
    lambda m, x: m.cat([x, x.float()]), lambda m, x: m.cat([x, x.long()]),
    lambda m, x: m.cat([x, x.bool()], 1), lambda m, x: m.stack([x, x.double()]),
    lambda m, x: m.cat([m.empty(0, dtype=m.float64), x]),
])
def test_dtypes_match_torch(dtype, f):
    g, t = _pair((3, 3), dtype)
    _same(f(ganglion, g), f(torch, t))


def test_view_needs_compatible_strides():
    g, t = _pair((2, 3, 4))
    for f in (lambda x: x.transpose(0, 1).view(-1), lambda x: x.mT.view(2, 12),
              lambda x: x.expand(2, 2, 3, 4).view(4, 12)):
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            f(t)
        with pytest.raises(RuntimeError, match=r"view.*Use \.reshape"):
            f(g)
    # strides that do allow a view: merging dims that stay contiguous, size-1 dims
    for f in (lambda x: x.transpose(0, 1).view(3, 2, 2, 2), lambda x: x.mT.view(2, 4, 3),
              lambda x: x.narrow(1, 0, 1).view(2, 4),
              lambda x: x.expand(3, 2, 3, 4).view(3, 6, 4)):
        _same(f(g), f(t))


def test_view_shares_memory_and_version():
    x = ganglion.zeros(2, 3)
    y = x.view(3, 2)
    y.add_(1.0)
    assert x.numpy().sum() == 6 and x._version == y._version == 1
    n = x.narrow(1, 1, 2)
    n.mul_(3.0)
    assert x.numpy()[:, 1:].sum() == 12 and x._version == 2
    d = ganglion.zeros(3, 3)
    d.diagonal().fill_(2.0)  # torch's diagonal is a writable view
    np.testing.assert_array_equal(d.numpy(), 2 * np.eye(3))


def test_copies_do_not_alias_input():
    x = ganglion.arange(6.0).reshape(2, 3)
    for y in (x.t().reshape(6), x.flip(0), x.roll(1), x.repeat(1, 1), x.tril(5),
              x.t().flatten()):
        y.mul_(0.0)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    assert x._version == 0


def test_view_flag_on_outputs():
    x = ganglion.zeros(4, 3, requires_grad=True)
    views = [x.view(12), x.reshape(3, 4), x.t(), x.unsqueeze(0), x.narrow(0, 1, 2),
             x.diagonal(), x.expand(2, 4, 3), x.split(2)[0], x.unbind()[0], x.movedim(0, 1)]
    for v in views:
        assert v._vc is x._vc, v.grad_fn
    copies = [x.t().reshape(12), x.flip(0), x.roll(1), x.tril(), x.repeat(2, 1)]
    for c in copies:
        assert c._vc is not x._vc, c.grad_fn


def test_view_dtype_reinterprets_bits():
    g, t = _pair((2, 4))
    for dt in ("int32", "float16", "float64", "uint8"):
        _same(g.view(getattr(ganglion, dt)), t.view(getattr(torch, dt)))
        _same(g.t().t().view(getattr(ganglion, dt)), t.t().t().view(getattr(torch, dt)))
    v = g.view(ganglion.int32)
    v.zero_()  # a view: writes reach the float tensor
    assert not g.numpy().any() and g._version == 1
    with pytest.raises(RuntimeError, match="view"):
        g.narrow(1, 0, 3).view(ganglion.float64)


def test_split_unused_outputs_get_zero_grad():
    for f in (lambda x: x.split(2)[1].sum(), lambda x: x.chunk(3, 1)[0].sum(),
              lambda x: (x.unbind(1)[2] * 2).sum(), lambda x: x.tensor_split([1, 1, 3])[2].sum()):
        g, t = _pair((4, 3))
        g.requires_grad_(), t.requires_grad_()
        f(g).backward()
        f(t).backward()
        np.testing.assert_array_equal(g.grad.numpy(), t.grad.numpy())


def test_cat_with_empty_gradients():
    g, t = _pair((2, 3))
    ge, te = ganglion.zeros(0, requires_grad=True), torch.zeros(0, requires_grad=True)
    g.requires_grad_(), t.requires_grad_()
    (ganglion.cat([ge, g, ge]) * 2).sum().backward()
    (torch.cat([te, t, te]) * 2).sum().backward()
    _same(g.grad, t.grad)
    _same(ge.grad, te.grad)


def test_mT_and_T_are_properties():
    g, t = _pair((2, 3, 4))
    _same(g.mT, t.mT)
    _same(g.mT.mT, t)
    assert not callable(ganglion.zeros(2, 3).T)
    g2, t2 = _pair((3, 5))
    _same(g2.T, t2.T)
    _same(g2.H, t2.H)


def test_gradgrad_through_join():
    x = ganglion.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    tx = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    outs = []
    for m, v in ((ganglion, x), (torch, tx)):
        y = m.cat([v * v, v.flip(0) ** 3], 1).tril()
        (gx,) = (ganglion if m is ganglion else torch).autograd.grad(
            y.sum(), [v], create_graph=True)
        (ggx,) = (ganglion if m is ganglion else torch).autograd.grad(
            (gx * gx).sum(), [v])
        outs.append((gx.detach(), ggx))
    _same(outs[0][0], outs[1][0])
    np.testing.assert_allclose(outs[0][1].numpy(), outs[1][1].numpy(), rtol=1e-6)


ERRORS = [
    ((2, 3), lambda m, x: m.cat([x, m.zeros(3, 3)], 1), "cat"),
    ((2, 3), lambda m, x: m.cat([x, m.zeros(2)]), "cat"),
    ((2, 3), lambda m, x: m.cat([x, m.tensor(1.0)]), "cat"),
    ((2, 3), lambda m, x: m.cat([x], 2), "cat"),
    ((2, 3), lambda m, x: m.cat([]), "cat"),
    ((2, 3), lambda m, x: m.cat(x), "cat"),
    ((2, 3), lambda m, x: m.stack([x, m.zeros(2, 4)]), "stack"),
    ((2, 3), lambda m, x: m.stack([]), "stack"),
    ((2, 3), lambda m, x: m.stack([x], 3), "stack"),
    ((2, 3), lambda m, x: x.split([1, 2]), "split"),
    ((2, 3), lambda m, x: x.split([1, -1, 2]), "split"),
    ((2, 3), lambda m, x: x.split(0), "split"),
    ((2, 3), lambda m, x: x.split(-1), "split"),
    ((2, 3), lambda m, x: x.split(1, 2), "split"),
    ((2, 3), lambda m, x: x.chunk(0), "chunk"),
    ((2, 3), lambda m, x: x.tensor_split(0), "tensor_split"),
    ((2, 3), lambda m, x: m.hsplit(x, 2), "hsplit"),
    ((3,), lambda m, x: m.vsplit(x, 1), "vsplit"),
    ((), lambda m, x: x.unbind(0), "unbind"),
    ((2, 3), lambda m, x: x.unbind(2), "unbind"),
    ((2, 3), lambda m, x: x.squeeze(2), "squeeze"),
    ((2, 3), lambda m, x: x.squeeze((0, 0)), "squeeze"),
    ((2, 3), lambda m, x: x.unsqueeze(3), "unsqueeze"),
    ((2, 3), lambda m, x: x.unsqueeze(-4), "unsqueeze"),
    ((2, 3), lambda m, x: x.narrow(2, 0, 1), "narrow"),
    ((2, 3), lambda m, x: x.narrow(1, 4, 0), "narrow"),
    ((2, 3), lambda m, x: x.narrow(1, 2, 2), "narrow"),
    ((2, 3), lambda m, x: x.narrow(1, 0, -1), "narrow"),
    ((2, 3), lambda m, x: x.repeat(2), "repeat"),
    ((2, 3), lambda m, x: x.repeat(2, -1), "repeat"),
    ((2, 3), lambda m, x: x.view(4, -1), "view"),
    ((2, 3), lambda m, x: x.view(-1, -1), "view"),
    ((2, 3), lambda m, x: x.reshape(7), "reshape"),
    ((2, 3), lambda m, x: x.reshape(2, -2), "reshape"),
    ((2, 3), lambda m, x: x.flatten(1, 0), "flatten"),
    ((2, 3), lambda m, x: x.flatten(2), "flatten"),
    ((2, 3), lambda m, x: x.unflatten(1, (2, 2)), "unflatten"),
    ((2, 3), lambda m, x: x.unflatten(1, ()), "unflatten"),
    ((2, 3), lambda m, x: x.permute(0), "permute"),
    ((2, 3), lambda m, x: x.permute(0, 0), "permute"),
    ((2, 3), lambda m, x: x.transpose(0, 2), "transpose"),
    ((2, 3, 4), lambda m, x: x.t(), r"t\(\)"),
    ((3,), lambda m, x: x.mT, "mT"),
    ((3,), lambda m, x: x.mH, "mH"),
    ((2, 3, 4), lambda m, x: x.H, "H"),
    ((3,), lambda m, x: x.adjoint(), "adjoint"),
    ((2, 3), lambda m, x: x.movedim((0, 1), (1,)), "movedim"),
    ((2, 3), lambda m, x: x.movedim((0, 0), (1, 0)), "movedim"),
    ((2, 3), lambda m, x: x.expand(3, 3), "expand"),
    ((2, 3), lambda m, x: x.expand(3), "expand"),
    ((2, 3), lambda m, x: x.expand(-1, 2, 3), "expand"),
    ((2, 3), lambda m, x: m.broadcast_shapes((2, 3), (3, 2)), "broadcast_shapes"),
    ((2, 3), lambda m, x: m.broadcast_tensors(x, m.zeros(2)), "broadcast"),
    ((2, 3), lambda m, x: x.flip(0, 0), "flip"),
    ((2, 3), lambda m, x: x.flip(2), "flip"),
    ((3,), lambda m, x: x.fliplr(), "fliplr"),
    ((), lambda m, x: x.flipud(), "flipud"),
    ((2, 3), lambda m, x: x.roll((1, 2), 0), "roll"),
    ((2, 3), lambda m, x: x.roll((), ()), "roll"),
    ((2, 3), lambda m, x: x.roll(1, 2), "roll"),
    ((2, 3), lambda m, x: x.diagonal(0, 1, -1), "diagonal"),
    ((3,), lambda m, x: x.diagonal(), "diagonal"),
    ((2, 3), lambda m, x: x.diag_embed(0, 0, -3), "diag_embed"),
    ((2, 3, 4), lambda m, x: m.diag(x), "diag"),
    ((), lambda m, x: m.diag(x), "diag"),
    ((3,), lambda m, x: x.tril(), "tril"),
    ((3,), lambda m, x: x.triu(), "triu"),
    ((2, 3), lambda m, x: x.repeat_interleave(-1), "repeat_interleave"),
    ((2, 3), lambda m, x: x.repeat_interleave(m.tensor([1, 2]), dim=1), "repeat_interleave"),
    ((2, 3), lambda m, x: x.repeat_interleave(m.tensor([1, -1]), dim=0), "repeat_interleave"),
    ((2, 3), lambda m, x: x.repeat_interleave(2, output_size=5), "repeat_interleave"),
]


@pytest.mark.parametrize("shape,f,name", ERRORS)
def test_errors_match_torch(shape, f, name):
    g, t = _pair(shape)
    with pytest.raises(Exception) as te:
        f(torch, t)
    with pytest.raises(type(te.value), match=name):
        f(ganglion, g)


def test_cat_error_names_shapes_and_dim():
    with pytest.raises(RuntimeError, match=r"dimension 1.*\(2, 3\) and \(3, 3\)"):
        ganglion.cat([ganglion.zeros(2, 3), ganglion.zeros(3, 3)], 1)
    with pytest.raises(RuntimeError, match=r"\[2, 3\] at entry 0 and \[2, 4\] at entry 1"):
        ganglion.stack([ganglion.zeros(2, 3), ganglion.zeros(2, 4)])


def test_out_of_range_dims_are_index_errors():
    x = ganglion.zeros(2, 3)
    for f in (lambda: x.squeeze(5), lambda: x.unsqueeze(3), lambda: x.narrow(-3, 0, 1),
              lambda: ganglion.cat([x, x], -3), lambda: x.flip(2), lambda: x.split(1, 4)):
        with pytest.raises(IndexError, match=r"range of \[-\d, \d\]"):
            f()
