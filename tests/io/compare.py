"""``assert_same(loaded, original)``: exact equality of a checkpoint after a round trip."""
import math

import numpy as np

from ganglion import Tensor


def assert_same(got, want, path="obj"):
    """Types (Parameters come back as plain Tensors), dtypes, shapes, bits, key order."""
    if isinstance(want, Tensor):
        assert type(got) is Tensor, f"{path}: {type(got).__name__} is not a plain Tensor"
        assert got.dtype == want.dtype, f"{path}: dtype {got.dtype} != {want.dtype}"
        assert tuple(got.shape) == tuple(want.shape), f"{path}: shape {got.shape} != {want.shape}"
        assert got.requires_grad == want.requires_grad, f"{path}: requires_grad differs"
        assert got.is_leaf and got.grad is None, f"{path}: not a fresh leaf"
        assert got.array.tobytes() == np.asarray(want.array).tobytes(), f"{path}: values differ"
        return
    assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, (np.ndarray, np.generic)):
        assert got.dtype == want.dtype and got.shape == want.shape, f"{path}: dtype/shape"
        assert got.tobytes() == want.tobytes(), f"{path}: values differ"
    elif isinstance(want, dict):
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        assert [type(k) for k in got] == [type(k) for k in want], f"{path}: key types"
        for k in want:
            assert_same(got[k], want[k], f"{path}[{k!r}]")
        if hasattr(want, "_metadata"):
            assert_same(got._metadata, want._metadata, f"{path}._metadata")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{path}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got), f"{path}: {got} is not nan"
    elif isinstance(want, float):
        assert got == want and math.copysign(1, got) == math.copysign(1, want), f"{path}: {got}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"
