"""MNIST-family IDX loading: the real files (skipped when absent), validation of damaged files
written by the tests, and download=True from a local server."""
import gzip
import hashlib

import numpy as np
import pytest

import ganglion
from ganglion.data import MNIST, FashionMNIST, KMNIST, read_idx, transforms
from ganglion.data.download import find_data_root
from ganglion.utils.data import DataLoader
from tests.data._server import serve

MNIST_ROOT = find_data_root("mnist")
needs_mnist = pytest.mark.skipif(MNIST_ROOT is None, reason="../shared/data/mnist not found "
                                 "(set GANGLION_DATA)")

# Published facts about the real files (shared/data/mnist/SOURCE.md).
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def _idx(arr: np.ndarray, code=0x08) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                      for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write_set(folder, n=6, prefix="t10k", gz=True, labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10 if labels is None else labels
    for stem, arr in ((f"{prefix}-images-idx3-ubyte", images),
                      (f"{prefix}-labels-idx1-ubyte", labels)):
        data = _idx(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return images, labels


@needs_mnist
def test_real_mnist_test_split():
    ds = MNIST(MNIST_ROOT, train=False)
    assert len(ds) == 10000 and ds.data.shape == (10000, 28, 28)
    assert ds.data.dtype == ganglion.uint8 and ds.targets.dtype == ganglion.int64
    assert np.bincount(ds.targets.numpy(), minlength=10).tolist() == TEST_COUNTS
    assert abs(ds.data.numpy().mean() - 33.79) < 0.01
    img, label = ds[0]
    assert img.shape == (28, 28) and img.dtype == np.uint8 and label == 7


@needs_mnist
def test_real_mnist_train_split_with_transform_and_loader():
    ds = MNIST(MNIST_ROOT, train=True, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]))
    assert len(ds) == 60000 and ds[0][1] == 5
    assert np.bincount(ds.targets.numpy(), minlength=10).tolist() == TRAIN_COUNTS
    assert abs(ds.data.numpy().mean() - 33.32) < 0.01
    x, y = next(iter(DataLoader(ds, batch_size=64, shuffle=True)))
    assert x.shape == (64, 1, 28, 28) and x.dtype == ganglion.float32 and y.shape == (64,)
    # Normalize((mean,), (std,)) with MNIST's statistics: about zero mean, unit variance.
    assert abs(float(x.mean())) < 0.3 and 0.7 < float(x.std()) < 1.3


@pytest.mark.parametrize("gz", [True, False])
def test_small_files_gz_and_raw_and_layouts(tmp_path, gz):
    images, labels = _write_set(tmp_path / "MNIST" / "raw", gz=gz)
    for root in (tmp_path, tmp_path / "MNIST" / "raw"):
        ds = MNIST(root, train=False, target_transform=lambda t: t * 10)
        assert len(ds) == 6
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds[3][0], images[3])
        assert ds[3][1] == int(labels[3]) * 10
    assert "Split: Test" in repr(ds) and "Number of datapoints: 6" in repr(ds)


def test_read_idx_dtypes_and_byte_order(tmp_path):
    arr = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    (tmp_path / "a.idx").write_bytes(_idx(arr, code=0x0C))
    out = read_idx(tmp_path / "a.idx")
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.int32 and out.dtype.isnative and out.flags.writeable


@pytest.mark.parametrize("damage,match", [
    (lambda b: b[:-5], r"t10k-images-idx3-ubyte is truncated: the header gives shape "
                       r"\(6, 28, 28\)"),
    (lambda b: b + b"xx", r"longer than its header says"),
    (lambda b: b"\x01\x02" + b[2:], r"not an IDX file: magic number 0x01020803"),
    (lambda b: b[:10], r"truncated: 10 bytes, shorter than its 16-byte header"),
])
def test_damaged_raw_files_name_the_file(tmp_path, damage, match):
    _write_set(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RuntimeError, match=match):
        MNIST(tmp_path, train=False)


def test_truncated_gzip_names_the_file(tmp_path):
    _write_set(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(RuntimeError, match=r"t10k-labels-idx1-ubyte.gz is a damaged or "
                                           r"truncated gzip file"):
        MNIST(tmp_path, train=False)


def test_inconsistent_files(tmp_path):
    _write_set(tmp_path, labels=np.arange(5, dtype=np.uint8))
    with pytest.raises(RuntimeError, match=r"has 6 images but .*t10k-labels-idx1-ubyte.gz has 5"):
        MNIST(tmp_path, train=False)
    _write_set(tmp_path, labels=np.array([0, 1, 2, 3, 4, 12], np.uint8))
    with pytest.raises(RuntimeError, match=r"has label 12; expected 0..9"):
        MNIST(tmp_path, train=False)
    with pytest.raises(RuntimeError, match=r"MNIST: dataset not found: no "
                                           r"train-images-idx3-ubyte\[.gz\]"):
        MNIST(tmp_path, train=True)


def test_download_from_local_mirror(tmp_path):
    www = tmp_path / "www"
    images, labels = _write_set(www, prefix="t10k")
    _write_set(www, prefix="train")
    resources = [(p.name, hashlib.md5(p.read_bytes()).hexdigest())
                 for p in sorted(www.iterdir())]
    with serve(www) as (url, requests):
        local = type("LocalFashion", (FashionMNIST,), {"mirrors": [f"{url}/missing/", url],
                                                       "resources": resources})
        ds = local(tmp_path / "root", train=False, download=True)
        assert len(requests) == 8  # each file: the dead mirror, then the good one
        local(tmp_path / "root", train=False, download=True)
        assert len(requests) == 8  # present: nothing downloaded again
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert (tmp_path / "root" / "LocalFashion" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()
    bad = [(name, "0" * 32) for name, _ in resources]
    with serve(www) as (url, _):
        broken = type("Broken", (KMNIST,), {"mirrors": [url], "resources": bad})
        with pytest.raises(RuntimeError, match="md5 checksum"):
            broken(tmp_path / "root2", download=True)


def test_class_lists(tmp_path):
    assert MNIST.classes[0] == "0 - zero" and FashionMNIST.classes[-1] == "Ankle boot"
    assert KMNIST.classes[3] == "tsu"
    _write_set(tmp_path)
    assert MNIST(tmp_path, train=False).class_to_idx["7 - seven"] == 7
