"""Single-step recurrent cells ``RNNCell``, ``LSTMCell``, ``GRUCell`` (parameters weight_ih,
weight_hh, bias_ih, bias_hh; torch's init, repr and errors). Built from differentiable ops, so
gradients of gradients work through them.

Example:
    >>> import ganglion
    >>> from ganglion.nn.layers.rnn_cells import LSTMCell
    >>> cell = LSTMCell(3, 5)
    >>> h, c = cell(ganglion.randn(2, 3))
    >>> h.shape, c.shape
    (ganglion.Size([2, 5]), ganglion.Size([2, 5]))
"""
from __future__ import annotations

import math

from ganglion.nn import init
from ganglion.nn.module import Module
from ganglion.nn.parameter import Parameter
from ganglion.ops import recurrent_cells as _cells
from ganglion.ops.creation import empty, zeros

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNCellBase(Module):
    """Parameters and init shared by the cells: weight_ih (chunks*H, I), weight_hh
    (chunks*H, H), bias_ih and bias_hh (chunks*H), all U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(rows, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(rows, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(rows, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(rows, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _batched(self, input, hx, n_states):
        """Validate dims; unbatched (1-D) input and state get a batch dim of 1. Returns
        (input, hx or None, is_batched)."""
        name = self._get_name()
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D "
                             f"instead")
        states = hx if n_states == 2 and hx is not None else (hx,)
        for idx, h in enumerate(states):
            if h is not None and h.ndim not in (1, 2):
                what = f"hx[{idx}]" if n_states == 2 else "hidden"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.ndim}D "
                                 f"instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
            if hx is not None:
                hx = tuple(h.unsqueeze(0) for h in hx) if n_states == 2 else hx.unsqueeze(0)
        self._check_sizes(input, hx if n_states == 2 or hx is None else (hx,))
        return input, hx, batched

    def _check_sizes(self, input, states):
        name = self._get_name()
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got "
                               f"{input.shape[1]} expected {self.input_size}")
        for k, h in enumerate(states or ()):
            if tuple(h.shape) != (input.shape[0], self.hidden_size):
                raise RuntimeError(f"{name}: hidden state {k} has shape {tuple(h.shape)}, "
                                   f"expected ({input.shape[0]}, {self.hidden_size}) for input "
                                   f"of shape {tuple(input.shape)}")

    def _zeros(self, input):
        return zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).

    Example:
        >>> import ganglion
        >>> from ganglion.nn.layers.rnn_cells import RNNCell
        >>> RNNCell(3, 4, nonlinearity="relu")
        RNNCell(3, 4, nonlinearity=relu)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, batched = self._batched(input, hx, 1)
        if hx is None:
            hx = self._zeros(input)
        if self.nonlinearity == "tanh":
            fn = _cells.rnn_tanh_cell
        elif self.nonlinearity == "relu":
            fn = _cells.rnn_relu_cell
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        ret = fn(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return ret if batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') from (h, c); gates i, f, g, o as torch.

    Example:
        >>> import ganglion
        >>> from ganglion.nn.layers.rnn_cells import LSTMCell
        >>> h, c = LSTMCell(3, 4)(ganglion.randn(3))
        >>> h.shape
        ganglion.Size([4])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._batched(input, hx, 2)
        if hx is None:
            z = self._zeros(input)
            hx = (z, z)
        h, c = _cells.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                                self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n as torch).

    Example:
        >>> import ganglion
        >>> from ganglion.nn.layers.rnn_cells import GRUCell
        >>> GRUCell(3, 4)(ganglion.randn(2, 3), ganglion.zeros(2, 4)).shape
        ganglion.Size([2, 4])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._batched(input, hx, 1)
        if hx is None:
            hx = self._zeros(input)
        ret = _cells.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                              self.bias_hh)
        return ret if batched else ret.squeeze(0)
