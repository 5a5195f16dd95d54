"""Datasets, random_split and samplers, compared with torch.utils.data."""
import warnings

import numpy as np
import pytest

import ganglion
from ganglion.utils import data as gdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _raises_like_torch(make_ours, make_theirs):
    """Both constructors raise the same exception type with the same message."""
    with pytest.raises(Exception) as theirs:
        make_theirs()
    with pytest.raises(type(theirs.value)) as ours:
        make_ours()
    assert str(ours.value) == str(theirs.value)


def test_tensor_dataset_rows_and_size_mismatch():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ds = gdata.TensorDataset(ganglion.tensor(x), ganglion.tensor(y))
    ref = tdata.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ds) == len(ref) == 6
    for i in (0, 3, -1):
        np.testing.assert_array_equal(ds[i][0].numpy(), ref[i][0].numpy())
        assert ds[i][1].item() == ref[i][1].item()
    with pytest.raises(ValueError, match=r"Size mismatch.*\[6, 5\]"):
        gdata.TensorDataset(ganglion.zeros(6), ganglion.zeros(5))


def test_concat_dataset_matches_torch():
    parts = [[0, 1, 2], [10], [20, 21]]
    ours = gdata.ConcatDataset(parts)
    ref = tdata.ConcatDataset(parts)
    assert len(ours) == len(ref) and ours.cumulative_sizes == ref.cumulative_sizes
    assert [ours[i] for i in range(-6, 6)] == [ref[i] for i in range(-6, 6)]
    with pytest.raises(ValueError, match="absolute value"):
        ours[-7]
    summed = gdata.TensorDataset(ganglion.arange(2)) + gdata.TensorDataset(ganglion.arange(3))
    assert isinstance(summed, gdata.ConcatDataset) and len(summed) == 5


def test_chain_stack_and_subset():
    class R(gdata.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chain = R(2) + R(3)
    assert isinstance(chain, gdata.ChainDataset)
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    stacked = gdata.StackDataset([1, 2], ["a", "b"])
    assert stacked[1] == (2, "b") and len(stacked) == 2
    sub = gdata.Subset(list("abcdef"), [5, 0, 2])
    assert [sub[i] for i in range(3)] == ["f", "a", "c"] and len(sub) == 3


@pytest.mark.parametrize("n,lengths", [(10, [0.3, 0.7]), (11, [0.5, 0.25, 0.25]),
                                       (7, [0.1, 0.1, 0.8]), (10, [4, 6])])
def test_random_split_lengths_match_torch(n, lengths):
    ours = gdata.random_split(range(n), lengths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = tdata.random_split(range(n), lengths)
    assert [len(s) for s in ours] == [len(s) for s in ref]
    items = sorted(x for s in ours for x in s)
    assert items == list(range(n))  # disjoint and complete


def test_random_split_reproducible_and_errors():
    a = gdata.random_split(range(20), [5, 15], generator=ganglion.Generator().manual_seed(3))
    b = gdata.random_split(range(20), [5, 15], generator=ganglion.Generator().manual_seed(3))
    assert list(a[0]) == list(b[0])
    ganglion.manual_seed(1)
    c = list(gdata.random_split(range(20), [5, 15])[0])
    ganglion.manual_seed(1)
    assert list(gdata.random_split(range(20), [5, 15])[0]) == c
    _raises_like_torch(lambda: gdata.random_split(range(10), [3, 3]),
                       lambda: tdata.random_split(range(10), [3, 3]))
    _raises_like_torch(lambda: gdata.random_split(range(10), [1.5, -0.5]),
                       lambda: tdata.random_split(range(10), [1.5, -0.5]))
    with pytest.warns(UserWarning, match="is 0") as record:
        gdata.random_split(range(2), [0.9, 0.05, 0.05])
    assert ["index 1" in str(r.message) for r in record] == [True, False]  # splits 1, 2 empty


def test_sequential_and_batch_sampler_match_torch():
    assert list(gdata.SequentialSampler(range(4))) == list(tdata.SequentialSampler(range(4)))
    for bs in (1, 3, 4, 20):
        for drop in (False, True):
            ours = gdata.BatchSampler(range(10), bs, drop)
            ref = tdata.BatchSampler(range(10), bs, drop)
            assert list(ours) == list(ref) and len(ours) == len(ref)


@pytest.mark.parametrize("kwargs", [dict(batch_size=0, drop_last=False),
                                    dict(batch_size=True, drop_last=False),
                                    dict(batch_size=2, drop_last=1)])
def test_batch_sampler_errors_match_torch(kwargs):
    _raises_like_torch(lambda: gdata.BatchSampler(range(3), **kwargs),
                       lambda: tdata.BatchSampler(range(3), **kwargs))


def test_random_sampler_permutation_and_num_samples():
    s = gdata.RandomSampler(range(10))
    assert sorted(s) == list(range(10)) and len(s) == 10
    long = list(gdata.RandomSampler(range(4), num_samples=10))
    assert len(long) == 10 and sorted(long[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert len(set(long[8:])) == 2  # the partial last permutation has no repeats
    rep = list(gdata.RandomSampler(range(3), replacement=True, num_samples=300))
    assert len(rep) == 300 and set(rep) == {0, 1, 2}


def test_random_sampler_reproducible_and_new_order_each_epoch():
    ganglion.manual_seed(5)
    s = gdata.RandomSampler(range(50))
    e1, e2 = list(s), list(s)
    assert e1 != e2
    ganglion.manual_seed(5)
    assert list(s) == e1
    g = ganglion.Generator().manual_seed(7)
    first = list(gdata.RandomSampler(range(50), generator=g))
    assert list(gdata.RandomSampler(range(50),
                                    generator=ganglion.Generator().manual_seed(7))) == first


@pytest.mark.parametrize("kwargs", [dict(replacement=1), dict(num_samples=0),
                                    dict(num_samples=2.0)])
def test_random_sampler_errors_match_torch(kwargs):
    _raises_like_torch(lambda: gdata.RandomSampler(range(3), **kwargs),
                       lambda: tdata.RandomSampler(range(3), **kwargs))


def test_subset_random_sampler():
    idx = [9, 4, 7, 1]
    s = gdata.SubsetRandomSampler(idx)
    assert sorted(s) == sorted(idx) and len(s) == 4


def test_weighted_random_sampler_distribution():
    w = [0.0, 1.0, 3.0]
    draws = np.array(list(gdata.WeightedRandomSampler(w, 20000)))
    assert set(draws.tolist()) <= {1, 2}
    assert abs((draws == 2).mean() - 0.75) < 0.02
    no_rep = list(gdata.WeightedRandomSampler([1.0, 1.0, 1.0, 1.0], 4, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3]


@pytest.mark.parametrize("args", [([1.0, 2.0], 0), ([1.0, 2.0], 2, 1), ([[1.0, 2.0]], 2)])
def test_weighted_random_sampler_errors_match_torch(args):
    _raises_like_torch(lambda: gdata.WeightedRandomSampler(*args),
                       lambda: tdata.WeightedRandomSampler(*args))
