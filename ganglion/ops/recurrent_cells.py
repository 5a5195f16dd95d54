"""Single-step recurrent cells (torch's ``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``,
``rnn_relu_cell``), written with differentiable ops so that gradients of gradients work.

Example:
    >>> import ganglion
    >>> h, c = lstm_cell(ganglion.randn(2, 3), (ganglion.zeros(2, 4),
    ...                           ganglion.zeros(2, 4)), ganglion.randn(16, 3),
    ...                           ganglion.randn(16, 4))
    >>> h.shape, c.shape
    (ganglion.Size([2, 4]), ganglion.Size([2, 4]))
"""
from __future__ import annotations

from ganglion.ops.linalg_addmm import linear

__all__ = ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]


def _gates(input, hx, w_ih, w_hh, b_ih, b_hh):
    return linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: returns (h', c') for ``hx = (h, c)``; gates in torch's order i, f, g, o.

    Example:
        >>> import ganglion
        >>> hx = (ganglion.zeros(1, 2), ganglion.zeros(1, 2))
        >>> lstm_cell(ganglion.ones(1, 3), hx, ganglion.zeros(8, 3),
        ...                    ganglion.zeros(8, 2))[1]
        tensor([[0., 0.]])
    """
    h, c = hx
    i, f, g, o = _gates(input, h, w_ih, w_hh, b_ih, b_hh).chunk(4, 1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (gates r, z, n): h' = (1 - z) * n + z * h with
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    Example:
        >>> import ganglion
        >>> gru_cell(ganglion.ones(1, 3), ganglion.ones(1, 2), ganglion.zeros(6, 3),
        ...                   ganglion.zeros(6, 2))
        tensor([[0.5000, 0.5000]])
    """
    xr, xz, xn = linear(input, w_ih, b_ih).chunk(3, 1)
    hr, hz, hn = linear(hx, w_hh, b_hh).chunk(3, 1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (hx - n)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step h' = tanh(W_ih x + b_ih + W_hh h + b_hh).

    Example:
        >>> import ganglion
        >>> rnn_tanh_cell(ganglion.ones(1, 3), ganglion.ones(1, 2),
        ...                        ganglion.zeros(2, 3), ganglion.zeros(2, 2)).shape
        ganglion.Size([1, 2])
    """
    return _gates(input, hx, w_ih, w_hh, b_ih, b_hh).tanh()


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step h' = relu(W_ih x + b_ih + W_hh h + b_hh) (subgradient 0 at 0, as torch).

    Example:
        >>> import ganglion
        >>> rnn_relu_cell(ganglion.ones(1, 3), ganglion.ones(1, 2),
        ...                        ganglion.ones(2, 3), ganglion.zeros(2, 2))
        tensor([[3., 3.]])
    """
    return _gates(input, hx, w_ih, w_hh, b_ih, b_hh).relu()
