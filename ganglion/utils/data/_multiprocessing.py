"""The multi-process ``DataLoader`` iterator (``num_workers > 0``), after torch's design.

Each worker has its own index queue; all share one result queue. Up to
``prefetch_factor * num_workers`` tasks are outstanding, handed to the workers round robin;
results that arrive early wait in ``_task_info`` until their turn, so batches come out in
sampler order. Shutdown (end of epoch, iterator dropped, error) sets a done event, sends each
worker ``None``, joins it with a timeout and terminates any that hang.

Example:
    >>> import ganglion
    >>> from ganglion.utils.data import DataLoader, TensorDataset
    >>> loader = DataLoader(TensorDataset(ganglion.arange(6)), batch_size=2, num_workers=2)
    >>> [b[0].tolist() for b in loader]
    [[0, 1], [2, 3], [4, 5]]
"""
from __future__ import annotations

import atexit
import itertools
import multiprocessing
import queue
import time

from ganglion.utils.data import _worker

__all__ = ["MultiProcessingDataLoaderIter"]

# Poll period of a blocked main process: a worker that died is noticed within this time.
_POLL_INTERVAL = 0.5
_python_exiting = False


def _set_python_exit_flag() -> None:
    # At interpreter exit the daemonic workers are killed by multiprocessing itself; a
    # shutdown from __del__ then could block on half-torn-down queues, so it is skipped.
    global _python_exiting
    _python_exiting = True


atexit.register(_set_python_exit_flag)


class MultiProcessingDataLoaderIter:
    """Iterates once (or, with persistent workers, once per epoch) over the loader's data."""

    def __init__(self, loader) -> None:
        self._shutdown = True  # until the workers exist, __del__ has nothing to do
        self._loader_attrs(loader)
        self._base_seed = _worker.draw_seed(loader.generator)
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        self._shutdown = False
        for i in range(self._num_workers):
            index_queue = ctx.Queue()
            # The main process never waits for its queue feeder threads at exit.
            index_queue.cancel_join_thread()
            w = ctx.Process(target=_worker._worker_loop, daemon=True, args=(
                self._iterable, self._dataset, index_queue, self._worker_result_queue,
                self._workers_done_event, self._auto_collation, self._collate_fn,
                self._drop_last, self._base_seed, loader.worker_init_fn, i,
                self._num_workers))
            w.start()
            self._index_queues.append(index_queue)
            self._workers.append(w)
        self._reset(loader, first_iter=True)

    def _loader_attrs(self, loader) -> None:
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _reset(self, loader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._send_idx = 0  # index of the next task to send to a worker
        self._rcvd_idx = 0  # index of the next task to return
        # task index -> (worker_id,) while outstanding, (worker_id, data) once it arrived early
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # Persistent workers: start a new epoch and drop results of an abandoned one (a
            # worker's resume acknowledgement arrives after all its older results).
            for q in self._index_queues:
                q.put(_worker._ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                if isinstance(idx, _worker._ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _next_index(self):
        return next(self._sampler_iter)

    def _try_get_data(self, timeout: float):
        try:
            return True, self._worker_result_queue.get(timeout=timeout)
        except queue.Empty:
            failed = [w for w in self._workers if not w.is_alive() and w.exitcode != 0]
            if failed:
                pids = ", ".join(str(w.pid) for w in failed)
                codes = ", ".join(str(w.exitcode) for w in failed)
                self._shutdown_workers()
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                                   f"(exit code(s) {codes}); a worker may have been killed "
                                   f"(e.g. out of memory) or crashed in native code") from None
            return False, None

    def _get_data(self):
        if self._timeout > 0:
            deadline = time.monotonic() + self._timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
                ok, data = self._try_get_data(min(left, _POLL_INTERVAL))
                if ok:
                    return data
        while True:
            ok, data = self._try_get_data(_POLL_INTERVAL)
            if ok:
                return data

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        return data

    def _advance_to_pending(self) -> bool:
        """Skip tasks of workers that ended; False when no task is left."""
        while self._rcvd_idx < self._send_idx:
            info = self._task_info.get(self._rcvd_idx)
            if info:
                if len(info) == 2 or self._workers_status[info[0]]:
                    return True
                del self._task_info[self._rcvd_idx]
            self._rcvd_idx += 1
        return False

    def _next_data(self):
        while True:
            if self._shutdown or not self._advance_to_pending():
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if self._iterable and isinstance(data, _worker._IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx and self._in_order:
                self._task_info[idx] += (data,)  # early: keep it until its turn
                continue
            worker_id = self._task_info.pop(idx)[0]
            if idx == self._rcvd_idx:
                self._rcvd_idx += 1
            return self._process_data(data, worker_id)

    def _try_put_index(self) -> None:
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next active worker, if any
            worker_queue_idx = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_queue_idx]:
                break
        else:
            return
        self._index_queues[worker_queue_idx].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_queue_idx,)
        self._workers_num_tasks[worker_queue_idx] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data, worker_id):
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id: int) -> None:
        # The worker exits when it reads None; it is joined in _shutdown_workers.
        self._index_queues[worker_id].put(None)
        self._workers_status[worker_id] = False

    def _shutdown_workers(self) -> None:
        if _python_exiting or self._shutdown:
            return
        self._shutdown = True
        try:
            self._workers_done_event.set()
            for worker_id in range(len(self._workers)):
                if self._persistent_workers or self._workers_status[worker_id]:
                    self._mark_worker_as_unavailable(worker_id)
            # Workers cancel their own feeder-thread joins once the done event is set, so
            # results nobody reads cannot keep them alive.
            self._worker_result_queue.cancel_join_thread()
            for w in self._workers:
                w.join(timeout=_worker.MP_STATUS_CHECK_INTERVAL)
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            self._worker_result_queue.close()
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=_worker.MP_STATUS_CHECK_INTERVAL)

    def __del__(self) -> None:
        self._shutdown_workers()
