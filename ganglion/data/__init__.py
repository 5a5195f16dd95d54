"""``ganglion.data``: dataset loaders (MNIST-family IDX, CIFAR binary, scikit-learn digits,
image folders, CSV tables), verified downloads, and image ``transforms`` with torchvision's
names and semantics.

Example:
    >>> from ganglion.data import Digits, transforms
    >>> ds = Digits(train=True, transform=transforms.ToTensor())
    >>> img, label = ds[0]
    >>> img.shape, img.dtype, label
    (ganglion.Size([1, 8, 8]), ganglion.float32, 0)
"""
from ganglion.data import transforms  # noqa: F401
from ganglion.data._base import VisionDataset
from ganglion.data.cifar import CIFAR10, CIFAR100
from ganglion.data.digits import Digits
from ganglion.data.download import (check_integrity, download_and_extract_archive,
                                    download_url, extract_archive, find_data_root)
from ganglion.data.image_folder import DatasetFolder, ImageFolder
from ganglion.data.mnist import KMNIST, MNIST, FashionMNIST, read_idx
from ganglion.data.tabular import CSVDataset

from ganglion.data import text, timeseries  # noqa: F401,E402
from ganglion.data.text import SST2, CharTokenizer, Tokenizer, TranslationPairs  # noqa: E402
from ganglion.data.timeseries import (Scaler, SlidingWindow, load_series,  # noqa: E402
                                      seasonal_naive, train_test_split_series)

__all__ = ["VisionDataset", "MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100", "Digits",
           "DatasetFolder", "ImageFolder", "CSVDataset", "read_idx", "download_url",
           "download_and_extract_archive", "extract_archive", "check_integrity",
           "find_data_root", "transforms", "Tokenizer", "CharTokenizer", "SST2",
           "TranslationPairs", "load_series", "SlidingWindow", "train_test_split_series",
           "Scaler", "seasonal_naive", "text", "timeseries"]
