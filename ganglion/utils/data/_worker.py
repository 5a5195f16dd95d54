"""What runs inside a ``DataLoader`` worker process, and the fetchers shared with the
single-process path.

A worker reads ``(task_index, batch_indices)`` from its own index queue, fetches and collates
the batch, and puts ``(task_index, batch)`` on the shared result queue (tensors pickle as
NumPy arrays). ``None`` tells it to exit; ``_ResumeIteration`` starts a new epoch for
persistent workers. Exceptions travel back wrapped in ``ExceptionWrapper`` and are re-raised in
the main process, naming the worker.

Example:
    >>> from ganglion.utils.data import get_worker_info
    >>> get_worker_info() is None  # in the main process
    True
"""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

import ganglion

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper"]

# How long (seconds) the main process waits for a worker to exit before terminating it.
MP_STATUS_CHECK_INTERVAL = 5.0
# How often an idle worker wakes up to check the done event and that its parent lives. The
# done event matters when the iterator is collected as part of a reference cycle (e.g. held by
# a traceback): the garbage collector may finalize the index queues first, so the ``None`` sent
# by the shutdown never arrives.
_WORKER_POLL = 0.2

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """Describes the current worker: ``id``, ``num_workers``, ``seed`` and its ``dataset``
    copy."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """The ``WorkerInfo`` of the calling worker process, or ``None`` in the main process.

    Use it in ``IterableDataset.__iter__`` to give each worker its own share of the stream,
    or in ``worker_init_fn`` to configure the worker's dataset copy.

    Example:
        >>> get_worker_info() is None
        True
    """
    return _worker_info


class ExceptionWrapper:
    """An exception and its formatted traceback, picklable across processes."""

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        """Raise the wrapped exception type here, with the original traceback in the message."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            raise KeyError(_KeyErrorMessage(msg))
        try:
            exception = self.exc_type(msg)
        except Exception:
            # The type needs other constructor arguments: keep the message, change the type.
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(str):
    """KeyError repr()s its argument; this keeps the traceback readable."""

    def __repr__(self):
        return str(self)


class _ResumeIteration:
    """Tells a persistent worker that a new epoch starts."""


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """Sent by a worker whose ``IterableDataset`` copy is exhausted."""

    worker_id: int


def draw_seed(generator) -> int:
    """A 63-bit seed from ``generator`` (or the global one), as torch's ``random_()``: the
    base seed of an epoch's workers."""
    rng = (generator or ganglion.default_generator).numpy
    return int(rng.integers(0, 2 ** 63 - 1))


def _generate_state(base_seed: int, worker_id: int) -> list:
    """torch's SeedSequence-like hash of (worker_id, base_seed) into a 4-word NumPy seed, so a
    worker's legacy ``np.random`` stream is the one torch's worker would have."""
    mask32, xshift = 0xFFFFFFFF, 16
    mult_a, mult_b = 0x931E8875, 0x58F38DED
    hash_a = [0x43B0D7E5]

    def hash_(value):
        value = (value ^ hash_a[0]) & mask32
        hash_a[0] = (hash_a[0] * mult_a) & mask32
        value = (value * hash_a[0]) & mask32
        return (value ^ (value >> xshift)) & mask32

    def mix(x, y):
        result = ((0xCA01F9DD * x) - (0x4973F715 * y)) & mask32
        return (result ^ (result >> xshift)) & mask32

    entropy = [worker_id, base_seed & mask32, base_seed >> 32, 0]
    pool = [hash_(e) for e in entropy]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash_(pool[i_src]))
    hash_b, state = 0x8B51F9DD, []
    for value in pool:
        value = (value ^ hash_b) & mask32
        hash_b = (hash_b * mult_b) & mask32
        value = (value * hash_b) & mask32
        state.append((value ^ (value >> xshift)) & mask32)
    return state


class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last) -> None:
        self.dataset, self.auto_collation = dataset, auto_collation
        self.collate_fn, self.drop_last = collate_fn, drop_last

    def fetch(self, possibly_batched_index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[possibly_batched_index])
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            data = getitems(possibly_batched_index)
        else:
            data = [self.dataset[idx] for idx in possibly_batched_index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last) -> None:
        self.dataset, self.auto_collation = dataset, auto_collation
        self.collate_fn, self.drop_last = collate_fn, drop_last
        self.dataset_iter = iter(dataset)
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in possibly_batched_index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
            raise StopIteration
        return self.collate_fn(data)


def create_fetcher(iterable: bool, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableDatasetFetcher if iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def _seed_worker(seed: int, base_seed: int, worker_id: int) -> None:
    # As torch: Python's and ganglion's generators get base_seed + worker_id, NumPy's legacy
    # global generator a hash of both, so every worker draws different augmentations.
    random.seed(seed)
    ganglion.manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))


def _fetch_one(fetcher, iterable, task, worker_id):
    """Fetch one task's batch; errors come back wrapped, exhaustion as a marker."""
    try:
        return fetcher.fetch(task), False
    except StopIteration:
        if iterable:
            return _IterableDatasetStopIteration(worker_id), True
        return ExceptionWrapper(where=f"in DataLoader worker process {worker_id}"), False
    except Exception:  # noqa: BLE001 - every error is re-raised in the main process
        return ExceptionWrapper(where=f"in DataLoader worker process {worker_id}"), False


def _parent_alive(ppid: int) -> bool:
    return os.getppid() == ppid


def _worker_loop(iterable, dataset, index_queue, data_queue, done_event, auto_collation,
                 collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers):
    """The body of a worker process (see the module docstring)."""
    global _worker_info
    try:
        seed = base_seed + worker_id
        _seed_worker(seed, base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:  # noqa: BLE001 - reported with the first task
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        _serve(iterable, dataset, index_queue, data_queue, done_event, auto_collation,
               collate_fn, drop_last, worker_id, fetcher, init_exception)
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # Results nobody will read must not keep this process alive at exit.
        data_queue.cancel_join_thread()
        data_queue.close()


def _serve(iterable, dataset, index_queue, data_queue, done_event, auto_collation,
           collate_fn, drop_last, worker_id, fetcher, init_exception):
    ppid = os.getppid()
    iteration_end = False
    while _parent_alive(ppid):
        try:
            r = index_queue.get(timeout=_WORKER_POLL)
        except queue.Empty:
            if done_event.is_set():
                break
            continue
        if isinstance(r, _ResumeIteration):
            data_queue.put((r, None))
            iteration_end = False
            fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
            continue
        if r is None:
            break
        if done_event.is_set() or iteration_end:
            continue
        idx, task = r
        if init_exception is not None:
            data, init_exception = init_exception, None
        else:
            data, iteration_end = _fetch_one(fetcher, iterable, task, worker_id)
        data_queue.put((idx, data))
        del data, idx, task, r
