"""CIFAR binary files, scikit-learn digits, image folders and CSV tables."""
import hashlib
import io
import sys
import tarfile

import numpy as np
import pytest

import ganglion
from ganglion.data import (CIFAR10, CIFAR100, CSVDataset, DatasetFolder, Digits, ImageFolder,
                           transforms)
from ganglion.utils.data import DataLoader
from tests.data._server import serve


def _cifar_records(images, labels) -> bytes:
    """The binary format written independently of the loader: label byte(s), then the R, G
    and B planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels.reshape(len(images), -1).astype(np.uint8), planes],
                          axis=1).tobytes()


def _write_cifar10(folder, n_per_batch=3):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    all_images, all_labels = [], []
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, (n_per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch, dtype=np.uint8)
        (folder / name).write_bytes(_cifar_records(images, labels))
        all_images.append(images)
        all_labels.append(labels)
    (folder / "batches.meta.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n\n")
    return all_images, all_labels


def test_cifar10_reads_records(tmp_path):
    images, labels = _write_cifar10(tmp_path / "cifar-10-batches-bin")
    train = CIFAR10(tmp_path, train=True)
    assert len(train) == 15 and train.data.shape == (15, 32, 32, 3)
    np.testing.assert_array_equal(train.data, np.concatenate(images[:5]))
    assert train.targets == np.concatenate(labels[:5]).tolist()
    test = CIFAR10(tmp_path, train=False, transform=transforms.ToTensor())
    img, label = test[2]
    assert img.shape == (3, 32, 32) and label == int(labels[5][2])
    np.testing.assert_allclose(img.numpy(), images[5][2].transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert test.classes[3] == "c3" and test.class_to_idx["c9"] == 9


def test_cifar100_coarse_and_fine(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    labels = np.array([[1, 55], [19, 99], [0, 0], [7, 42]], np.uint8)
    (folder / "test.bin").write_bytes(_cifar_records(images, labels))
    ds = CIFAR100(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data, images)
    assert ds.targets == [55, 99, 0, 42] and ds.coarse_targets == [1, 19, 0, 7]
    assert ds[1][1] == 99 and len(ds.classes) == 100


def test_cifar_damaged_files_name_the_file(tmp_path):
    _write_cifar10(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes((tmp_path / "test_batch.bin").read_bytes()[:-7])
    with pytest.raises(RuntimeError, match=r"test_batch.bin has 9212 bytes, not a positive "
                                           r"multiple of the 3073-byte record"):
        CIFAR10(tmp_path, train=False)
    bad = np.zeros((2, 3073), np.uint8)
    bad[1, 0] = 10
    bad.tofile(tmp_path / "test_batch.bin")
    with pytest.raises(RuntimeError, match=r"test_batch.bin record 1 has label 10"):
        CIFAR10(tmp_path, train=False)
    with pytest.raises(RuntimeError, match=r"CIFAR100: dataset not found or incomplete"):
        CIFAR100(tmp_path, train=False)


def test_cifar_download_from_local_server(tmp_path):
    src = tmp_path / "src"
    images, labels = _write_cifar10(src / "cifar-10-batches-bin", n_per_batch=2)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    www = tmp_path / "www"
    www.mkdir()
    (www / "cifar-10-binary.tar.gz").write_bytes(buf.getvalue())
    with serve(www) as (url, requests):
        local = type("LocalCIFAR10", (CIFAR10,), {
            "url": f"{url}/cifar-10-binary.tar.gz",
            "tgz_md5": hashlib.md5(buf.getvalue()).hexdigest()})
        ds = local(tmp_path / "root", train=False, download=True)
        local(tmp_path / "root", train=False, download=True)
    assert requests == ["/cifar-10-binary.tar.gz"]
    np.testing.assert_array_equal(ds.data, images[5])


def test_digits_match_scikit_learn():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ref = sklearn_datasets.load_digits()
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) + len(test) == len(ref.target) and len(test) == 360
    expected = np.rint(ref.images * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(train.data.numpy(), expected[:len(train)])
    np.testing.assert_array_equal(test.targets.numpy(), ref.target[len(train):])
    x, y = next(iter(DataLoader(Digits(transform=transforms.ToTensor()), batch_size=10)))
    assert x.shape == (10, 1, 8, 8) and float(x.max()) <= 1.0 and y.dtype == ganglion.int64


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"ganglion\[demo\]"):
        Digits()


def _folder_tree(root):
    for cls, n in (("cat", 2), ("dog", 3), ("zebra", 1)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            np.save(root / cls / f"{i}.npy", np.full((2, 2, 3), i, np.uint8))
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "loose.npy").write_bytes(b"")  # files at the top level are not samples


def test_dataset_folder_with_custom_loader(tmp_path):
    _folder_tree(tmp_path)
    ds = DatasetFolder(tmp_path, loader=np.load, extensions=(".npy",),
                       transform=transforms.ToTensor())
    assert ds.classes == ["cat", "dog", "zebra"] and ds.targets == [0, 0, 1, 1, 1, 2]
    assert [p.split("/")[-1] for p, _ in ds.samples] == ["0.npy", "1.npy", "0.npy", "1.npy",
                                                         "2.npy", "0.npy"]
    img, target = ds[4]
    assert img.shape == (3, 2, 2) and target == 1 and float(img.max()) == pytest.approx(2 / 255)
    batch = next(iter(DataLoader(ds, batch_size=6)))
    assert batch[0].shape == (6, 3, 2, 2) and batch[1].tolist() == [0, 0, 1, 1, 1, 2]


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        ImageFolder(tmp_path)
    _folder_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"Found no valid file for the classes cat, dog, "
                                                r"zebra\. Supported extensions are: .jpg"):
        ImageFolder(tmp_path)
    ds = ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".npy"))
    assert len(ds) == 6 and ds.imgs == ds.samples


def test_image_folder_without_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    _folder_tree(tmp_path)
    ds = ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".npy"))
    with pytest.raises(ImportError, match=r"ganglion\[vision\]"):
        ds[0]


def test_image_folder_with_pillow(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        arr = np.full((5, 4, 3), 10 if cls == "a" else 200, np.uint8)
        image_module.fromarray(arr).save(tmp_path / cls / "x.png")
    ds = ImageFolder(tmp_path, transform=transforms.ToTensor())
    img, target = ds[1]
    assert img.shape == (3, 5, 4) and target == 1
    np.testing.assert_allclose(img.numpy(), 200 / 255, rtol=1e-6)


def test_csv_numeric_and_text_targets(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x1,x2,label\n1,2,b\n3,,a\n5,6,b\n")
    ds = CSVDataset(path, target_column="label")
    assert ds.classes == ["a", "b"] and ds.feature_names == ["x1", "x2"] and len(ds) == 3
    x, y = ds[1]
    assert x.dtype == ganglion.float32 and np.isnan(x.numpy()[1]) and y == 0
    xb, yb = next(iter(DataLoader(ds, batch_size=3)))
    assert xb.shape == (3, 2) and yb.tolist() == [1, 0, 1]
    reg = tmp_path / "r.csv"
    reg.write_text("0.5;1.5;2.25\n1;2;3\n")
    ds = CSVDataset(reg, delimiter=";", feature_columns=[0, 1], target_column=2)
    assert ds.targets.dtype == ganglion.float32 and ds.feature_names == ["0", "1"]
    assert ds[0][1].item() == 2.25 and ds[1][1].item() == 3.0
    ints = CSVDataset(reg, delimiter=";", target_column=None)
    assert ints[1].tolist() == [1.0, 2.0, 3.0]


def test_csv_directory_root_and_errors(tmp_path):
    (tmp_path / "train.csv").write_text("a,y\n1,0\n2,1\n")
    (tmp_path / "test.csv").write_text("a,y\n3,1\n")
    assert len(CSVDataset(tmp_path)) == 2 and len(CSVDataset(tmp_path, train=False)) == 1
    x, y = CSVDataset(tmp_path)[1]
    assert x.tolist() == [2.0] and y == 1
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,4\n")
    with pytest.raises(ValueError, match=r"bad.csv line 3 has 2 fields but line 1 has 3"):
        CSVDataset(tmp_path / "bad.csv")
    (tmp_path / "text.csv").write_text("a,name,y\n1,foo,0\n")
    with pytest.raises(ValueError, match=r"column 'name' of .*text.csv is not numeric"):
        CSVDataset(tmp_path / "text.csv")
    with pytest.raises(KeyError, match=r"no column named 'z'"):
        CSVDataset(tmp_path / "text.csv", target_column="z")
    with pytest.raises(FileNotFoundError):
        CSVDataset(tmp_path / "missing.csv")
