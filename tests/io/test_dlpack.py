"""Zero-copy exchange with torch through DLPack (both ways), from_numpy and __array__: memory
is shared, so a write on one side shows on the other."""
import numpy as np
import pytest

import ganglion

torch = pytest.importorskip("torch")


def test_torch_to_ganglion_shares_memory():
    t = torch.arange(12.0).reshape(3, 4)
    g = ganglion.from_dlpack(t)
    assert g.dtype == ganglion.float32 and tuple(g.shape) == (3, 4)
    t[1, 2] = -5.0  # torch writes, ganglion sees
    assert g[1, 2].item() == -5.0
    g.mul_(2)  # ganglion writes in place, torch sees
    np.testing.assert_array_equal(t.numpy(), g.numpy())
    assert t[1, 2].item() == -10.0


def test_ganglion_to_torch_shares_memory():
    g = ganglion.arange(6, dtype=ganglion.int64).reshape(2, 3)
    t = torch.from_dlpack(g)
    assert t.dtype == torch.int64 and t.shape == (2, 3)
    g.add_(10)
    assert t.tolist() == [[10, 11, 12], [13, 14, 15]]
    t[0, 0] = 99
    assert g[0, 0].item() == 99


def test_strided_views_keep_their_layout_both_ways():
    g = ganglion.arange(20.0).reshape(4, 5)[:, 1::2].t()
    t = torch.from_dlpack(g)
    assert t.stride() == tuple(s // 4 for s in g.array.strides)
    np.testing.assert_array_equal(t.numpy(), g.numpy())
    back = ganglion.from_dlpack(torch.arange(24.0).reshape(4, 6)[1:, ::3])
    assert back.array.strides == (24, 12)
    assert back.tolist() == [[6.0, 9.0], [12.0, 15.0], [18.0, 21.0]]


@pytest.mark.parametrize("dtype", ["float16", "float64", "int8", "int32", "uint8", "bool"])
def test_dtypes_cross_unchanged(dtype):
    arr = (np.arange(-3, 3) % 2).astype(dtype)
    t = torch.from_dlpack(ganglion.from_numpy(arr))
    assert str(t.dtype) == f"torch.{dtype}"
    g = ganglion.from_dlpack(t)
    assert g.dtype == getattr(ganglion, dtype)
    assert np.shares_memory(g.array, arr)


def test_legacy_capsule():
    t = torch.arange(4.0)
    g = ganglion.from_dlpack(torch.utils.dlpack.to_dlpack(t))
    t[0] = 7.0
    assert g.tolist() == [7.0, 1.0, 2.0, 3.0]


def test_requires_grad_is_not_exported():
    # as torch: a consumer writing into the memory would bypass autograd
    with pytest.raises(RuntimeError, match="Can't export tensors that require gradient"):
        torch.from_dlpack(ganglion.ones(2, requires_grad=True))
    assert torch.from_dlpack(ganglion.ones(2, requires_grad=True).detach()).tolist() == [1, 1]


def test_from_dlpack_rejects_other_objects():
    with pytest.raises(TypeError, match=r"from_dlpack: expected an object with __dlpack__"):
        ganglion.from_dlpack([1, 2, 3])


def test_from_numpy_shares_memory():
    arr = np.zeros((2, 3), np.float32)
    g = ganglion.from_numpy(arr)
    arr[0, 1] = 3.0
    assert g[0, 1].item() == 3.0
    g.add_(1)
    assert arr[1, 2] == 1.0


def test_array_protocol_copies_only_when_asked():
    g = ganglion.arange(6.0).reshape(2, 3)
    view = np.asarray(g)  # no copy
    assert np.shares_memory(view, g.array)
    copied = np.array(g)  # np.array copies by default, as for torch tensors
    assert not np.shares_memory(copied, g.array)
    np.testing.assert_array_equal(copied, view)
    as64 = np.asarray(g, dtype=np.float64)
    assert as64.dtype == np.float64 and as64.tolist() == g.tolist()
    with pytest.raises(ValueError, match="copy=False, but a dtype conversion needs a copy"):
        np.array(g, dtype=np.float64, copy=False)
    assert np.shares_memory(np.array(g, copy=False), g.array)
