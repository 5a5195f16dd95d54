"""DataLoader in the main process: argument validation, len() and batches vs torch."""
import numpy as np
import pytest

import ganglion
from ganglion.utils import data as gdata
from tests.utils._datasets import Range

torch = pytest.importorskip("torch")
tdata = torch.utils.data


class TorchRange(tdata.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i


class GIter(gdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class TIter(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def _to_numpy(batch):
    if isinstance(batch, (ganglion.Tensor, torch.Tensor)):
        return np.asarray(batch.numpy())
    if isinstance(batch, (list, tuple)):
        return [_to_numpy(b) for b in batch]
    return batch


def _check_same_batches(ours, ref):
    assert len(ours) == len(ref)
    ob, rb = [_to_numpy(b) for b in ours], [_to_numpy(b) for b in ref]
    assert len(ob) == len(rb)
    for a, b in zip(ob, rb):
        np.testing.assert_equal(a, b)


BAD_ARGS = [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
    dict(sampler=[0, 1], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_sampler=[[0]], sampler=[0]), dict(batch_size=None, drop_last=True),
    dict(multiprocessing_context="fork"), dict(num_workers=1, multiprocessing_context="nope"),
    dict(num_workers=1, multiprocessing_context=3), dict(batch_size=0),
]


@pytest.mark.parametrize("kwargs", BAD_ARGS, ids=[str(k) for k in BAD_ARGS])
def test_argument_errors_match_torch(kwargs):
    with pytest.raises(Exception) as theirs:
        tdata.DataLoader(TorchRange(4), **kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        gdata.DataLoader(Range(4), **kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("kwargs", [dict(shuffle=True), dict(sampler=[0]),
                                    dict(batch_sampler=[[0]])])
def test_iterable_dataset_argument_errors_match_torch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tdata.DataLoader(TIter(3), **kwargs)
    with pytest.raises(ValueError) as ours:
        gdata.DataLoader(GIter(3), **kwargs)
    assert str(ours.value).split(", but got")[0] == str(theirs.value).split(", but got")[0]


LOADER_ARGS = [dict(), dict(batch_size=3), dict(batch_size=3, drop_last=True),
               dict(batch_size=None), dict(batch_size=4, sampler=[6, 1, 2, 0, 3]),
               dict(batch_sampler=[[0, 1], [5, 2, 3]])]


@pytest.mark.parametrize("kwargs", LOADER_ARGS, ids=[str(k) for k in LOADER_ARGS])
def test_batches_match_torch(kwargs):
    _check_same_batches(gdata.DataLoader(Range(7), **kwargs),
                        tdata.DataLoader(TorchRange(7), **kwargs))


@pytest.mark.parametrize("kwargs", [dict(), dict(batch_size=2), dict(batch_size=2,
                                                                      drop_last=True),
                                    dict(batch_size=None)])
def test_iterable_batches_match_torch(kwargs):
    _check_same_batches(gdata.DataLoader(GIter(5), **kwargs),
                        tdata.DataLoader(TIter(5), **kwargs))


def test_dict_samples_and_custom_collate():
    class D(gdata.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full((2, 2), i, np.float32), "name": f"s{i}"}

    batch = next(iter(gdata.DataLoader(D(), batch_size=3)))
    assert batch["x"].shape == (3, 2, 2) and batch["name"] == ["s0", "s1", "s2"]
    sizes = [len(b) for b in gdata.DataLoader(D(), batch_size=2, collate_fn=lambda b: b)]
    assert sizes == [2, 2, 1]


def test_shuffle_covers_all_and_is_reproducible():
    ds = gdata.TensorDataset(ganglion.arange(20))
    loader = gdata.DataLoader(ds, batch_size=6, shuffle=True)
    ganglion.manual_seed(3)
    e1 = np.concatenate([b[0].numpy() for b in loader])
    e2 = np.concatenate([b[0].numpy() for b in loader])
    assert sorted(e1.tolist()) == list(range(20)) and e1.tolist() != e2.tolist()
    ganglion.manual_seed(3)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in loader]), e1)

    def epoch(seed):
        g = ganglion.Generator().manual_seed(seed)
        return np.concatenate([b[0].numpy() for b in gdata.DataLoader(ds, batch_size=6,
                                                                      shuffle=True, generator=g)])
    np.testing.assert_array_equal(epoch(11), epoch(11))
    assert epoch(11).tolist() != epoch(12).tolist()


def test_len_and_frozen_attributes():
    assert len(gdata.DataLoader(Range(10), batch_size=3)) == 4
    assert len(gdata.DataLoader(Range(10), batch_size=3, drop_last=True)) == 3
    assert len(gdata.DataLoader(GIter(10), batch_size=4)) == 3
    assert len(gdata.DataLoader(Range(10), batch_size=None)) == 10
    loader = gdata.DataLoader(Range(10))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 3
    loader.num_workers = 0  # other attributes may change


def test_pin_memory_accepted_as_noop():
    loader = gdata.DataLoader(Range(3), batch_size=3, pin_memory=True, pin_memory_device="cuda")
    assert next(iter(loader))[1].tolist() == [0, 1, 2]
