"""Small datasets for the DataLoader tests, in a module without torch so that spawned worker
processes import it quickly."""
import os
import time

import numpy as np

import ganglion
from ganglion.utils.data import Dataset, IterableDataset, get_worker_info


class Range(Dataset):
    """Sample i is (float32 array [i, i], int i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full(2, i, dtype=np.float32), i


class WorkerProbe(Dataset):
    """Reports which worker fetched each sample and what its random generators produce."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"index": i, "worker": info.id, "seed": info.seed,
                "num_workers": info.num_workers, "np": float(np.random.rand()),
                "ganglion": float(ganglion.rand(()).item()),
                "init": getattr(info.dataset, "init_value", -1)}


class Failing(Dataset):
    """Raises ValueError at index 5, or kills its worker process at index ``kill``."""

    def __init__(self, kill=None, sleep=0.0):
        self.kill, self.sleep = kill, sleep

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if self.sleep:
            time.sleep(self.sleep)
        if i == self.kill:
            os._exit(3)
        if i == 5:
            raise ValueError(f"bad sample {i}")
        return i


class Sharded(IterableDataset):
    """Yields start..end-1, split between the workers as torch's docs recommend."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        per = int(np.ceil((self.end - self.start) / info.num_workers))
        lo = self.start + info.id * per
        return iter(range(lo, min(lo + per, self.end)))


def set_init_value(worker_id):
    get_worker_info().dataset.init_value = 100 + worker_id


class Augmented(Dataset):
    """Images put through random transforms (RandomCrop + flip) in ``__getitem__``."""

    def __init__(self, n=12):
        from ganglion.data import transforms as T

        self.images = np.arange(n * 64, dtype=np.uint8).reshape(n, 8, 8)
        self.transform = T.Compose([T.RandomCrop(6, padding=1), T.RandomHorizontalFlip(),
                                    T.ToTensor()])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), i
