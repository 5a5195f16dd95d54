"""default_collate and default_convert against torch's, on identical samples."""
import collections

import numpy as np
import pytest

import ganglion
from ganglion.utils.data import default_collate, default_convert

torch = pytest.importorskip("torch")
tdata = torch.utils.data

Point = collections.namedtuple("Point", ["x", "y"])


def _assert_same(ours, ref):
    """Same nesting, container types, tensor dtypes and values."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, ganglion.Tensor), type(ours)
        assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    elif isinstance(ref, dict):
        assert type(ours) is type(ref) and list(ours) == list(ref)
        for k in ref:
            _assert_same(ours[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert type(ours) is type(ref) and len(ours) == len(ref)
        for a, b in zip(ours, ref):
            _assert_same(a, b)
    else:
        assert type(ours) is type(ref) and ours == ref


def _both(samples):
    """The same samples for ganglion and torch (ganglion.Tensor <-> torch.Tensor)."""
    def conv(x, to_torch):
        if isinstance(x, (ganglion.Tensor, torch.Tensor)):
            arr = np.asarray(x.numpy())
            return torch.from_numpy(arr.copy()) if to_torch else ganglion.tensor(arr)
        if isinstance(x, dict):
            return type(x)((k, conv(v, to_torch)) for k, v in x.items())
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*(conv(v, to_torch) for v in x))
        if isinstance(x, (list, tuple)):
            return type(x)(conv(v, to_torch) for v in x)
        return x
    return [conv(s, False) for s in samples], [conv(s, True) for s in samples]


rng = np.random.default_rng(0)
CASES = {
    "tensors": [ganglion.tensor(rng.standard_normal((2, 3)).astype(np.float32))
                for _ in range(4)],
    "int_tensors": [ganglion.tensor(np.arange(3) + i) for i in range(3)],
    "numpy_float64": [rng.standard_normal(3) for _ in range(3)],
    "numpy_uint8": [np.full((2, 2), i, np.uint8) for i in range(3)],
    "numpy_scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy_int_scalars": [np.int32(3), np.int32(4)],
    "floats": [0.5, 1.5, 2.5],
    "ints": [1, 2, 3],
    "bools": [True, False, True],
    "strings": ["a", "bc"],
    "bytes": [b"a", b"b"],
    "tuples": [(np.zeros(2, np.float32), 1, "x"), (np.ones(2, np.float32), 0, "y")],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"img": np.zeros((1, 2), np.float32), "label": 3, "meta": {"id": "a"}},
              {"img": np.ones((1, 2), np.float32), "label": 4, "meta": {"id": "b"}}],
    "ordered": [collections.OrderedDict(b=1, a=2.0), collections.OrderedDict(b=3, a=4.0)],
    "namedtuples": [Point(1, np.float64(2.0)), Point(3, np.float64(4.0))],
}


@pytest.mark.parametrize("name", list(CASES))
def test_default_collate_matches_torch(name):
    ours_in, ref_in = _both(CASES[name])
    _assert_same(default_collate(ours_in), tdata.default_collate(ref_in))


@pytest.mark.parametrize("name", ["numpy_float64", "dicts", "tuples", "namedtuples", "strings"])
def test_default_convert_matches_torch(name):
    ours_in, ref_in = _both(CASES[name])
    for a, b in zip(ours_in, ref_in):
        _assert_same(default_convert(a), tdata.default_convert(b))


def test_collate_mismatched_shapes_names_them():
    with pytest.raises(RuntimeError, match=r"equal size.*\[3\] at entry 0 and \[4\] at entry 1"):
        default_collate([ganglion.zeros(3), ganglion.zeros(4)])
    with pytest.raises(RuntimeError, match=r"\[2, 2\] at entry 0 and \[2, 3\] at entry 2"):
        default_collate([np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [1, 2, 3]])


def test_collate_unsupported_types_raise_like_torch():
    for bad in ([object(), object()], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(TypeError) as theirs:
            tdata.default_collate(bad)
        with pytest.raises(TypeError) as ours:
            default_collate(bad)
        assert str(ours.value) == str(theirs.value)


def test_collate_keeps_autograd():
    a = ganglion.ones(2, requires_grad=True)
    out = default_collate([a, a * 2])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])
