"""Tensor creation, attributes, conversions and repr, against torch."""
import copy
import pickle

import numpy as np
import pytest

import ganglion as G

torch = pytest.importorskip("torch")


def _same(g, t):
    assert tuple(g.shape) == tuple(t.shape), (g.shape, t.shape)
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (g.dtype, t.dtype)
    np.testing.assert_allclose(g.numpy(force=True), t.detach().numpy())


@pytest.mark.parametrize("data", [
    [1.0, 2.5], [1, 2, 3], [True, False], 3.5, 7, [[1, 2], [3, 4]], [[1.0, 2], [3, 4]], [],
    np.array([1.0, 2.0]), np.array([1, 2], dtype=np.int32), np.float32(2.0),
    np.array([1, 2], dtype=np.uint8), [np.float64(1.5), 2],
])
def test_tensor_infers_dtype_like_torch(data):
    _same(G.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64", "bool",
                                   "uint8", "int8", "int16"])
def test_tensor_explicit_dtype(dtype):
    _same(G.tensor([0, 1, 2], dtype=getattr(G, dtype)),
          torch.tensor([0, 1, 2], dtype=getattr(torch, dtype)))


def test_tensor_copies_and_from_numpy_shares():
    a = np.zeros(3, np.float32)
    t = G.tensor(a)
    f = G.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 0
    assert f.array[0] == 5
    f.add_(1)
    assert a[1] == 1
    assert G.as_tensor(a).array is a


def test_from_numpy_rejects_bad_input():
    with pytest.raises(TypeError, match="from_numpy"):
        G.from_numpy([1, 2])
    with pytest.raises(TypeError, match="uint16|supported"):
        G.from_numpy(np.zeros(2, np.uint16))


def test_tensor_from_ragged_list_raises():
    with pytest.raises(ValueError, match="tensor"):
        G.tensor([[1, 2], [3]])


@pytest.mark.parametrize("name,args,kwargs", [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("ones", ([4],), {}),
    ("ones", (2,), {"dtype": "int64"}), ("full", ((2, 2), 7), {}), ("full", ((2,), 1.5), {}),
    ("full", ((2,), True), {}), ("arange", (5,), {}), ("arange", (1, 4), {}),
    ("arange", (0, 1, 0.25), {}), ("arange", (0.5, 3), {}), ("arange", (10, 0, -3), {}),
    ("linspace", (0, 1, 5), {}), ("linspace", (-2, 2, 1), {}), ("logspace", (0, 2, 3), {}),
    ("eye", (3,), {}), ("eye", (2, 4), {}), ("zeros", (0, 3), {}),
    ("arange", (5,), {"dtype": "float64"}),
])
def test_factories_match_torch(name, args, kwargs):
    gk = {k: getattr(G, v) for k, v in kwargs.items()}
    tk = {k: getattr(torch, v) for k, v in kwargs.items()}
    _same(getattr(G, name)(*args, **gk), getattr(torch, name)(*args, **tk))


def test_like_factories_and_new_methods():
    g = G.tensor([[1, 2]], dtype=G.int32)
    t = torch.tensor([[1, 2]], dtype=torch.int32)
    for name in ("zeros_like", "ones_like"):
        _same(getattr(G, name)(g), getattr(torch, name)(t))
    _same(G.full_like(g, 3), torch.full_like(t, 3))
    _same(g.new_zeros(2, 3), t.new_zeros(2, 3))
    _same(g.new_ones((1, 2)), t.new_ones((1, 2)))
    _same(g.new_full((2,), 5), t.new_full((2,), 5))
    _same(g.new_tensor([1.5]), t.new_tensor([1.5]))
    assert G.empty(2, 3).shape == (2, 3) and G.empty_like(g).dtype == G.int32


def test_factory_errors():
    with pytest.raises(RuntimeError, match="negative dimension"):
        G.zeros(-1, 2)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        G.arange(0, 1, 0)
    with pytest.raises(TypeError, match="zeros"):
        G.zeros("a")


def test_requires_grad_factory_argument():
    x = G.zeros(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf


def test_attributes():
    x = G.ones(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, G.Size)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == x.ndim == 3 and x.numel() == 24 and x.shape.numel() == 24
    assert x.dtype == G.float32 and x.device == G.device("cpu") and str(x.device) == "cpu"
    assert x.element_size() == 4 and x.is_floating_point() and x.is_contiguous()
    assert x.stride() == (12, 4, 1)
    assert repr(x.shape) == "ganglion.Size([2, 3, 4])"
    with pytest.raises(IndexError, match="size"):
        x.size(3)


def test_item_tolist_numpy():
    assert G.tensor(2.5).item() == 2.5 and isinstance(G.tensor(3).item(), int)
    assert G.tensor([[1, 2]]).tolist() == [[1, 2]]
    with pytest.raises(RuntimeError, match="3 elements cannot be converted"):
        G.ones(3).item()
    x = G.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert np.asarray(x.detach()).dtype == np.float32
    assert float(G.tensor(1.5)) == 1.5 and int(G.tensor(3)) == 3
    assert [1, 2, 3][G.tensor(1)] == 2


def test_bool_and_len():
    assert bool(G.tensor([1.0])) and not bool(G.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(G.ones(2))
    assert len(G.ones(4, 2)) == 4
    with pytest.raises(TypeError, match="0-d"):
        len(G.tensor(1.0))


@pytest.mark.parametrize("src,dst", [("float32", "float64"), ("float64", "float32"),
                                     ("float32", "int64"), ("int64", "float32"),
                                     ("float32", "bool"), ("int32", "float16")])
def test_to_dtype_matches_torch(src, dst):
    a = np.array([-1.7, 0.0, 2.5, 3.0])
    g = G.tensor(a, dtype=getattr(G, src)).to(getattr(G, dst))
    t = torch.tensor(a, dtype=getattr(torch, src)).to(getattr(torch, dst))
    _same(g, t)


def test_conversion_methods_and_grad_through_cast():
    x = G.tensor([1.5, 2.5], requires_grad=True)
    assert x.double().dtype == G.float64 and x.long().dtype == G.int64
    assert x.int().dtype == G.int32 and x.bool().dtype == G.bool and x.half().dtype == G.float16
    assert x.to("cpu") is x and x.to(G.float32) is x and x.float() is x
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == G.float32
    np.testing.assert_allclose(x.grad.numpy(), [2, 2])
    assert x.type() == "ganglion.FloatTensor" and x.type_as(G.tensor([1])).dtype == G.int64
    assert x.to(G.tensor([1.0], dtype=G.float64)).dtype == G.float64
    with pytest.raises(TypeError, match="dtype"):
        x.to("nonsense")


def test_cuda_unavailable_is_clear():
    if G.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CuPy"):
        G.ones(2).to("cuda")


def test_clone_contiguous_detach():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and c.array is not x.array
    (c * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3)
    t = G.ones(3, 2).permute(1, 0)
    assert not t.is_contiguous() and t.contiguous().is_contiguous()


def test_data_property_like_torch():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.array is x.array
    d.mul_(2)  # untracked, as in torch
    np.testing.assert_allclose(x.detach().numpy(), [2, 4])
    x.data = G.tensor([5.0, 6.0])
    np.testing.assert_allclose(x.detach().numpy(), [5, 6])


def test_repr_matches_torch_style():
    cases = [([1.0, 2.0], None), ([1.5, 2.25], None), ([1, 2], None), ([True, False], None),
             (3.0, None), ([[1.0, -2.0], [3.0, 4.5]], None), ([1.0, 2.0], "float64"),
             ([1, 2], "int32")]
    for data, dt in cases:
        g = G.tensor(data, dtype=getattr(G, dt) if dt else None)
        t = torch.tensor(data, dtype=getattr(torch, dt) if dt else None)
        assert repr(g) == repr(t).replace("torch.", "ganglion."), (repr(g), repr(t))
    x = G.tensor([1.0], requires_grad=True)
    assert repr(x) == "tensor([1.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert "size=(0, 3)" in repr(G.zeros(0, 3))


def test_pickle_and_deepcopy_roundtrip():
    x = G.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and np.array_equal(y.array, x.array)
    z = copy.deepcopy(x)
    assert z.array is not x.array and z.requires_grad
    with pytest.raises(RuntimeError, match="leaves"):
        copy.deepcopy(x * 2)


def test_manual_seed_reproducible():
    G.manual_seed(3)
    a = G.default_generator.numpy.random(4)
    G.manual_seed(3)
    b = G.default_generator.numpy.random(4)
    np.testing.assert_array_equal(a, b)


def test_result_type_and_promote_types():
    assert G.promote_types(G.int64, G.float16) == G.float16
    assert G.result_type(G.tensor([1, 2]), 2.5) == G.float32
    assert G.result_type(G.tensor([1.0]), G.tensor(1.0, dtype=G.float64)) == G.float32
    assert G.result_type(G.tensor([1], dtype=G.int32), G.tensor(1.0, dtype=G.float64)) \
        == G.float64
