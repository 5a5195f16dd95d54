"""Time loops of the fused recurrent op, on raw arrays: forward and backpropagation through time.

Layout. Inside the loops everything is kept *column-major per step*: the state is (H, b) and the
gates of a step are one contiguous (G*H, b) block, so that every gate is a contiguous (H, b)
slab: NumPy's ufuncs are about 3x slower on the strided column slices of a (b, 4H) row layout,
and OpenBLAS computes W_hh (4H, H) @ h (H, b) faster than h (b, H) @ W_hh.T. Steps are stored
one after the other (flat buffers of N = sum(batch_sizes) columns), time-major; ``batch_sizes``
never increase with ``t`` (packed sequences), so a sequence that has finished simply stops
being among the first ``b_t`` columns.

Per layer and direction the loop does one GEMM per step and the gate nonlinearities, in place.
LSTM and RNN stack each step's input under its state (:func:`stacked_inputs`), so that the
input projection and the bias ride in that GEMM; the GRU projects all steps with one batched
GEMM before the loop (:func:`project`). Backward runs the loop in reverse on the saved gates,
writing each step's pre-activation gradients into the columns of one (G*H, N) matrix, then
forms the weight gradients and grad x with one GEMM each over all steps.

Large work arrays come from a small pool (:func:`pooled`): on this VM a fresh 16 MiB array
costs ~14 ms of page faults on first touch, more than the GEMM that fills it.

LSTM gates are kept in the order (i, f, o, g) internally (torch's is i, f, g, o), so that the
three sigmoid gates are one block; sigmoid(a) is computed as 0.5 + 0.5 * tanh(a / 2) with the
halving folded into the forward weights (exact: a power of two), so one tanh covers all gates.

Example:
    >>> spec = StepSpec("RNN_TANH", 3, 0, False, (2, 2, 1), False)
    >>> spec.T, spec.B, spec.N, spec.uniform
    (3, 2, 5, False)
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["StepSpec", "pooled", "project", "stacked_inputs", "stacked_rows", "stacked_grads",
           "gate_rows",
           "to_rows", "from_rows", "state_rows", "prev_state", "final_state", "columns",
           "hprev_columns", "input_grads", "sigmoid_from_tanh"]


class _BufferPool:
    """Large work arrays, reused once nothing references them any more.

    A fresh multi-megabyte array costs a page fault per 4 KiB on first touch (about 14 ms for
    16 MiB here, more than the GEMM that fills it), and the allocator hands such arrays back to
    the OS when they are freed. Every array a training step saves (gates, states) is released
    after backward, so the next step can take the same memory back: an array is free when the
    pool's list holds the only reference (views keep their base alive, so a saved or returned
    view pins it). Free arrays beyond ``max_free`` bytes are dropped, oldest first.
    """

    def __init__(self, min_bytes=1 << 20, max_free=512 << 20):
        self.min_bytes, self.max_free, self.arrays = min_bytes, max_free, []

    def take(self, n, dtype):
        dtype = np.dtype(dtype)
        if n * dtype.itemsize < self.min_bytes:  # small: malloc's heap reuses these anyway
            return np.empty(n, dtype)
        for a in self._free():
            if a.size == n and a.dtype == dtype:
                return a
        a = np.empty(n, dtype)
        self.arrays.append(a)
        self._trim()
        return a

    def _free(self):
        free = []
        for a in self.arrays:
            # references: the list, the loop variable and getrefcount's argument
            if sys.getrefcount(a) == 3:
                free.append(a)
        return free

    def _trim(self):
        free = self._free()
        excess = sum(a.nbytes for a in free) - self.max_free
        drop = set()
        for a in free:  # oldest first
            if excess <= 0:
                break
            drop.add(id(a))
            excess -= a.nbytes
        if drop:
            self.arrays = [a for a in self.arrays if id(a) not in drop]


_POOL = _BufferPool()


def pooled(shape, dtype):
    """An uninitialised array of ``shape`` whose memory is recycled (see _BufferPool)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = 1
    for d in shape:
        n *= d
    return _POOL.take(n, dtype).reshape(shape)


class StepSpec:
    """One layer-direction sequence: cell mode, sizes, direction and row layout of x / output.

    Args:
        mode: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU".
        hidden: hidden size H.
        proj: LSTM projection size (0: none).
        reverse: run from the last step to the first.
        batch_sizes: columns of each step (non-increasing).
        batch_major: the rows of x and of the output are (B, T) ordered (batch-first input of
            uniform length); otherwise time-major (packed order).
    """

    __slots__ = ("mode", "hidden", "proj", "reverse", "batch_sizes", "batch_major", "T", "B",
                 "N", "uniform", "offsets")

    def __init__(self, mode, hidden, proj, reverse, batch_sizes, batch_major):
        self.mode, self.hidden, self.proj = mode, int(hidden), int(proj)
        self.reverse, self.batch_major = bool(reverse), bool(batch_major)
        self.batch_sizes = tuple(int(b) for b in batch_sizes)
        self.T = len(self.batch_sizes)
        self.B = self.batch_sizes[0] if self.T else 0
        self.N = sum(self.batch_sizes)
        self.uniform = all(b == self.B for b in self.batch_sizes)
        self.offsets = [0]
        for b in self.batch_sizes:
            self.offsets.append(self.offsets[-1] + b)

    def order(self):
        return range(self.T - 1, -1, -1) if self.reverse else range(self.T)

    def steps(self, buf, rows):
        """Per-step (rows, b_t) views of a flat step-block buffer (None stays None)."""
        if buf is None:
            return None
        if self.uniform:
            return buf.reshape(self.T, rows, self.B)
        off = self.offsets
        return [buf[rows * off[t]:rows * off[t + 1]].reshape(rows, b)
                for t, b in enumerate(self.batch_sizes)]

    def empty(self, rows, dtype, record=True):
        return pooled(rows * self.N, dtype) if record else None


# -- layout helpers (shared by all cell kinds) ----------------------------------------------

def _time_major(x, spec):
    """x's rows in time-major order as (T, B, F) (a view), or None for packed data."""
    if not spec.uniform:
        return None
    if spec.batch_major:
        return x.reshape(spec.B, spec.T, x.shape[1]).transpose(1, 0, 2)
    return x.reshape(spec.T, spec.B, x.shape[1])


def sigmoid_from_tanh(s):
    """s holds tanh(a / 2) (the halving is in the weights): make it sigmoid(a), in place."""
    s *= 0.5
    s += 0.5


def project(x, w, bias, spec):
    """Input projections of all steps, W @ x_t (+ bias), as flat (G, b_t) step blocks: one
    batched GEMM for sequences of uniform length, one GEMM per step for packed data."""
    G = w.shape[0]
    xg = pooled(G * spec.N, x.dtype)
    if spec.uniform:  # batch-major rows are copied first: BLAS is 3x slower on that stride
        x3 = time_major_rows(x, spec).reshape(spec.T, spec.B, x.shape[1])
        xg3 = xg.reshape(spec.T, G, spec.B)
        np.matmul(w, x3.transpose(0, 2, 1), out=xg3)
        if bias is not None:
            xg3 += bias[:, None]
        return xg
    XG, off = spec.steps(xg, G), spec.offsets
    for t in range(spec.T):
        np.matmul(w, x[off[t]:off[t + 1]].T, out=XG[t])
        if bias is not None:
            XG[t] += bias[:, None]
    return xg


def stacked_rows(x, P, bias):
    """K, the rows of a stacked step block [h; x; 1]."""
    return P + x.shape[1] + (1 if bias else 0)


def stacked_inputs(x, P, bias, spec):
    """Flat (K, b_t) step blocks Z_t = [h_{t-1}; x_t^T; 1] (K = P + I + bias), so that one GEMM
    [W_hh | W_ih | b] @ Z_t gives a step's pre-activations: the input projection and the bias
    ride along with the recurrent product (one GEMM with K = P + I + 1 is cheaper than two with
    an add, and grad [W_hh | W_ih | b] is then ONE GEMM over all steps as well). The x and ones
    rows are filled here; the loop copies each step's incoming state into the h rows."""
    I, K = x.shape[1], stacked_rows(x, P, bias)
    z = pooled(K * spec.N, x.dtype)
    if spec.uniform:
        z3 = z.reshape(spec.T, K, spec.B)
        x3 = time_major_rows(x, spec).reshape(spec.T, spec.B, I)
        np.copyto(z3[:, P:P + I, :], x3.transpose(0, 2, 1))
        if bias:
            z3[:, P + I, :] = 1
        return z
    Z, off = spec.steps(z, K), spec.offsets
    for t in range(spec.T):
        Z[t][P:P + I] = x[off[t]:off[t + 1]].T
        if bias:
            Z[t][P + I] = 1
    return z


def gate_rows(dst, src, H, lstm):
    """dst[...] = src with LSTM gate blocks swapped between torch's order (i, f, g, o) and the
    internal (i, f, o, g) (the swap is its own inverse); by block copies: a fresh megabyte
    costs more in page faults than the copy itself."""
    if lstm:
        dst[:2 * H], dst[2 * H:3 * H], dst[3 * H:] = src[:2 * H], src[3 * H:], src[2 * H:3 * H]
    else:
        dst[...] = src
    return dst


def stacked_grads(dg, z, K, w, need, spec, P, I):
    """(dx, dW_ih, dW_hh, db_ih, db_hh) in torch's gate order for the stacked-input path (Z:
    K rows per step): dW = dG @ Z.T is one GEMM over all steps (its last column is db),
    dx = dG.T @ W_ih another."""
    dx = batch_major_rows(np.matmul(dg.T, w.wih), spec) if need.x else None
    dwih = dwhh = db_ih = db_hh = None
    if need.w_ih or need.w_hh or need.bias:
        G, H, lstm = dg.shape[0], spec.hidden, spec.mode == "LSTM"
        dw = np.matmul(dg, columns(spec.steps(z, K), spec, K, dg.dtype).T,
                       out=pooled((G, K), dg.dtype))
        dwhh = gate_rows(np.empty((G, P), dg.dtype), dw[:, :P], H, lstm)
        dwih = gate_rows(np.empty((G, I), dg.dtype), dw[:, P:P + I], H, lstm)
        if K > P + I:
            db_ih = gate_rows(np.empty(G, dg.dtype), dw[:, P + I], H, lstm)
            db_hh = db_ih.copy()
    return dx, dwih, dwhh, db_ih, db_hh


def to_rows(buf, rows, spec):
    """Flat (F, b_t) step blocks -> the (N, F) row layout of x (time- or batch-major)."""
    S = spec.steps(buf, rows)
    out = pooled((spec.N, rows), buf.dtype)
    if spec.uniform:
        perm = (2, 0, 1) if spec.batch_major else (0, 2, 1)
        np.copyto(out.reshape(S.transpose(perm).shape), S.transpose(perm))
        return out
    off = spec.offsets
    for t in range(spec.T):
        out[off[t]:off[t + 1]] = S[t].T
    return out


def from_rows(a, spec):
    """(N, F) rows (time- or batch-major) -> flat (F, b_t) step blocks (the inverse)."""
    F = a.shape[1]
    x3 = _time_major(a, spec)
    out = pooled(F * spec.N, a.dtype)
    if x3 is not None:
        np.copyto(out.reshape(spec.T, F, spec.B), x3.transpose(0, 2, 1))
        return out
    off = spec.offsets
    S = spec.steps(out, F)
    for t in range(spec.T):
        S[t][...] = a[off[t]:off[t + 1]].T
    return out


def state_rows(a):
    """(F, B) column state -> (B, F) rows (a fresh C-ordered array)."""
    return np.ascontiguousarray(a.T)


def _swap_rows(a, first, second, fresh):
    """(first*second, F) rows ordered (first, second) -> ordered (second, first)."""
    F = a.shape[1]
    out = np.empty((a.shape[0], F), a.dtype) if fresh else pooled((a.shape[0], F), a.dtype)
    np.copyto(out.reshape(second, first, F), a.reshape(first, second, F).transpose(1, 0, 2))
    return out


def time_major_rows(a, spec):
    """(N, F) rows in time-major order (a copy only for batch-major input)."""
    if spec.batch_major and spec.uniform:
        return _swap_rows(a, spec.B, spec.T, False)
    return a


def batch_major_rows(a, spec):
    """Inverse of :func:`time_major_rows` (a fresh array: it becomes a gradient)."""
    if spec.batch_major and spec.uniform:
        return _swap_rows(a, spec.T, spec.B, True)
    return a


def prev_state(S, t_prev, init, b, scratch):
    """The (F, b) state entering a step: the previous step's block ``S[t_prev]`` (its first b
    columns) or, for the first step, ``init``; a reverse-direction packed step that has more
    sequences than the previous one takes the extra columns from ``init`` (they start now)."""
    if t_prev is None:
        return init[:, :b]
    prev = S[t_prev]
    bp = prev.shape[1]
    if b <= bp:
        return prev[:, :b]
    out = scratch[:prev.shape[0] * b].reshape(-1, b)
    out[:, :bp] = prev
    out[:, bp:] = init[:, bp:b]
    return out


def final_state(S, init, spec):
    """(F, B) state after the sequence: each column's value at its sequence's last step."""
    order = list(spec.order())
    if not order:
        return init.copy()
    last = S[order[-1]]
    if spec.uniform or spec.reverse:  # the last step processed covers every column
        return np.array(last)
    out = np.empty_like(init)
    bs = spec.batch_sizes + (0,)
    for t in range(spec.T):
        if bs[t + 1] < bs[t]:  # columns bs[t+1]:bs[t] end at step t
            out[:, bs[t + 1]:bs[t]] = S[t][:, bs[t + 1]:bs[t]]
    return out


def columns(S, spec, rows, dtype, fill=None):
    """Concatenate per-step (rows, b_t) blocks into one (rows, N) matrix (time-major columns).
    With ``fill(t)`` the block of step t is computed by it instead of read from S."""
    out, off = pooled((rows, spec.N), dtype), spec.offsets
    for t in range(spec.T):
        out[:, off[t]:off[t + 1]] = S[t] if fill is None else fill(t)
    return out


def hprev_columns(OUT, h0, spec, scratch):
    """(P, N): the state entering each step, the operand of grad W_hh = dG @ hprev.T."""
    order = list(spec.order())
    prev = dict(zip(order, [None] + order[:-1]))
    return columns(None, spec, h0.shape[0], h0.dtype,
                   fill=lambda t: prev_state(OUT, prev[t], h0, spec.batch_sizes[t], scratch))


def input_grads(x, dgx, dgh, hp, w, need, spec):
    """(dx, dW_ih, dW_hh, db_ih, db_hh) from the (G, N) pre-activation gradients: one GEMM
    (or sum) each over all steps. ``dgx``/``dgh``: input-side and hidden-side gradients (the
    same array except for the GRU's candidate gate)."""
    x_tm = time_major_rows(x, spec) if need.w_ih else None
    dx = batch_major_rows(np.matmul(dgx.T, w.wih), spec) if need.x else None
    dwih = np.matmul(dgx, x_tm) if need.w_ih else None
    dwhh = np.matmul(dgh, hp.T) if need.w_hh else None
    db_ih = db_hh = None
    if need.bias:
        db_ih = np.add.reduce(dgx, axis=1)
        # a fresh array for each bias: a leaf may adopt its gradient array and add into it
        db_hh = np.add.reduce(dgh, axis=1) if dgh is not dgx else db_ih.copy()
    return dx, dwih, dwhh, db_ih, db_hh
