"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` (torch's parameter names, order, init, repr and
errors) and, from ``rnn_cells``, ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Each layer and direction runs as one fused op over the whole sequence (see
``ganglion.ops.recurrent``); ``PackedSequence`` inputs give ``PackedSequence`` outputs, with
each sequence's final state taken at its own last step.

Example:
    >>> import ganglion
    >>> from ganglion.nn.layers.rnn import LSTM
    >>> lstm = LSTM(10, 20, num_layers=2, batch_first=True)
    >>> out, (h, c) = lstm(ganglion.randn(3, 5, 10))
    >>> out.shape, h.shape, c.shape
    (ganglion.Size([3, 5, 20]), ganglion.Size([2, 3, 20]), ganglion.Size([2, 3, 20]))
"""
from __future__ import annotations

import math
import numbers
import warnings

from ganglion.nn import init
from ganglion.nn.layers.rnn_cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from ganglion.nn.module import Module
from ganglion.nn.parameter import Parameter
from ganglion.nn.utils.rnn import PackedSequence
from ganglion.ops import recurrent as _rec
from ganglion.ops.creation import empty, zeros

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_args(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size):
    """torch's constructor checks, with its messages."""
    if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
            or not 0 <= dropout <= 1):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      "non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
    for name, v, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                          ("input_size", input_size, int), ("hidden_size", hidden_size, int)):
        if not isinstance(v, kind):
            raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                            f"{type(v).__name__}")
        if kind is int and v <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: torch's flat weight list
    (``weight_ih_l{k}{suffix}``, ``weight_hh_l{k}{suffix}``, ``bias_ih_l{k}{suffix}``,
    ``bias_hh_l{k}{suffix}``, ``weight_hr_l{k}{suffix}``; suffix ``_reverse`` for the backward
    direction), U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) init, input and state checks."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        _check_args(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size)
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        self._flat_weights_names, self._all_weights = [], []
        self._make_weights(_GATES[mode] * hidden_size, device, dtype)
        self.reset_parameters()

    def _make_weights(self, gate_size, device, dtype):
        dirs = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        for layer in range(self.num_layers):
            for direction in range(dirs):
                layer_input = self.input_size if layer == 0 else real_hidden * dirs
                shapes = [("weight_ih_l{}{}", (gate_size, layer_input)),
                          ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if self.bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if self.proj_size > 0:
                    shapes += [("weight_hr_l{}{}", (self.proj_size, self.hidden_size))]
                suffix = "_reverse" if direction == 1 else ""
                names = []
                for fmt, shape in shapes:
                    name = fmt.format(layer, suffix)
                    setattr(self, name, Parameter(empty(*shape, dtype=dtype, device=device)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)

    @property
    def _flat_weights(self):
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op, as torch's on the CPU (cuDNN's weight packing has no NumPy analogue)."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # -- checks (torch's messages, prefixed with the layer's name) -------------------------
    def check_input(self, input, batch_sizes) -> None:
        name, w = self._get_name(), self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(f"{name}: RNN input dtype ({input.dtype}) does not match weight "
                             f"dtype ({w.dtype}). Convert input: input.to({w.dtype}), or "
                             f"convert model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.ndim != expected:
            raise RuntimeError(f"{name}: input must have {expected} dimensions, got "
                               f"{input.ndim}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def get_expected_hidden_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        dirs = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * dirs, mini_batch, size)

    def check_hidden_size(self, hx, expected_hidden_size,
                          msg="Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(f"{self._get_name()}: "
                               + msg.format(tuple(expected_hidden_size), list(hx.shape)))
        if hx.dtype != self._flat_weights[0].dtype:
            raise RuntimeError(f"{self._get_name()}: hidden state dtype ({hx.dtype}) does not "
                               f"match the weights' ({self._flat_weights[0].dtype}); convert "
                               f"it with hx.to({self._flat_weights[0].dtype}).")

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        return hx if permutation is None else hx.index_select(1, permutation)

    # -- forward ---------------------------------------------------------------------------
    def _prepare_input(self, input, hx, state_dims):
        """Unpack / unsqueeze the input and validate hx's ndim. Returns (input, hx,
        batch_sizes, sorted_indices, unsorted_indices, is_batched)."""
        name = self._get_name()
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            return data, hx, batch_sizes, sorted_indices, unsorted_indices, True
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D "
                             f"tensor instead")
        is_batched = input.ndim == 3
        if not is_batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        if hx is not None:
            want = 3 if is_batched else 2
            dims = tuple(h.ndim for h in (hx if state_dims == 2 else (hx,)))
            if any(d != want for d in dims):
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                got = (f"({dims[0]}-D, {dims[1]}-D) tensors" if state_dims == 2 else
                       f"{dims[0]}-D tensor")
                what = "hx and cx" if state_dims == 2 else "hx"
                raise RuntimeError(f"{name}: For {kind} input, {what} should also be {want}-D "
                                   f"but got {got}")
            if not is_batched:
                hx = tuple(h.unsqueeze(1) for h in hx) if state_dims == 2 else hx.unsqueeze(1)
        return input, hx, None, None, None, is_batched

    def _zeros(self, input, batch_sizes, size):
        batch = int(batch_sizes[0]) if batch_sizes is not None else (
            input.shape[0] if self.batch_first else input.shape[1])
        dirs = 2 if self.bidirectional else 1
        return zeros(self.num_layers * dirs, batch, size, dtype=input.dtype,
                     device=input.device)

    def _run(self, fn, input, hx, batch_sizes):
        args = (self._flat_weights, self.bias, self.num_layers, self.dropout, self.training,
                self.bidirectional)
        if batch_sizes is not None:
            return fn(input, batch_sizes, hx, *args)
        return fn(input, hx, *args, self.batch_first)

    def _finish(self, output, hidden, batch_sizes, sorted_indices, unsorted_indices,
                is_batched):
        """Pack or squeeze the output and restore the hidden state's batch order."""
        if batch_sizes is not None:
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        elif not is_batched:
            output = output.squeeze(0 if self.batch_first else 1)
            hidden = tuple(h.squeeze(1) for h in hidden)
        return output, tuple(self.permute_hidden(h, unsorted_indices) for h in hidden)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    ``num_layers`` deep, optionally bidirectional.

    Args: input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0 (between layers, training only), bidirectional=False.

    Shape: input (L, N, H_in) ((N, L, H_in) with batch_first, (L, H_in) unbatched, or a
    PackedSequence), h_0 (D * num_layers, N, H_out) -> output (L, N, D * H_out), h_n.

    Example:
        >>> import ganglion
        >>> from ganglion.nn.layers.rnn import RNN
        >>> out, h = RNN(4, 3, nonlinearity="relu")(ganglion.randn(6, 2, 4))
        >>> out.shape, h.shape
        (ganglion.Size([6, 2, 3]), ganglion.Size([1, 2, 3]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", *args,
                         **kwargs)

    def forward(self, input, hx=None):
        input, hx, batch_sizes, sorted_idx, unsorted_idx, batched = self._prepare_input(
            input, hx, 1)
        if hx is None:
            hx = self._zeros(input, batch_sizes, self.hidden_size)
        self.check_forward_args(input, hx, batch_sizes)
        hx = self.permute_hidden(hx, sorted_idx)
        fn = _rec.rnn_tanh if self.mode == "RNN_TANH" else _rec.rnn_relu
        output, h = self._run(fn, input, hx, batch_sizes)
        output, (h,) = self._finish(output, (h,), batch_sizes, sorted_idx, unsorted_idx,
                                    batched)
        return output, h


class GRU(RNNBase):
    """Gated recurrent unit, torch's formulation (gates r, z, n):
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.

    Arguments, shapes and PackedSequence support as :class:`RNN` (no nonlinearity).

    Example:
        >>> import ganglion
        >>> from ganglion.nn.layers.rnn import GRU
        >>> gru = GRU(4, 3, num_layers=2, bidirectional=True)
        >>> out, h = gru(ganglion.randn(6, 4))
        >>> out.shape, h.shape
        (ganglion.Size([6, 6]), ganglion.Size([4, 3]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        input, hx, batch_sizes, sorted_idx, unsorted_idx, batched = self._prepare_input(
            input, hx, 1)
        if hx is None:
            hx = self._zeros(input, batch_sizes, self.hidden_size)
        self.check_forward_args(input, hx, batch_sizes)
        hx = self.permute_hidden(hx, sorted_idx)
        output, h = self._run(_rec.gru, input, hx, batch_sizes)
        output, (h,) = self._finish(output, (h,), batch_sizes, sorted_idx, unsorted_idx,
                                    batched)
        return output, h


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o as torch), optionally with projections
    (``proj_size`` > 0: h_t = W_hr (o * tanh(c_t))).

    Args: input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0.

    Returns (output, (h_n, c_n)); h_n has ``proj_size`` features when projecting.

    Example:
        >>> import ganglion
        >>> from ganglion.nn.layers.rnn import LSTM
        >>> LSTM(10, 20, num_layers=2, batch_first=True)
        LSTM(10, 20, num_layers=2, batch_first=True)
        >>> out, (h, c) = LSTM(4, 6, proj_size=2)(ganglion.randn(5, 3, 4))
        >>> out.shape, h.shape, c.shape
        (ganglion.Size([5, 3, 2]), ganglion.Size([1, 3, 2]), ganglion.Size([1, 3, 6]))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes):
        size = self.get_expected_hidden_size(input, batch_sizes)
        return size[:2] + (self.hidden_size,)

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return tuple(h.index_select(1, permutation) for h in hx)

    def forward(self, input, hx=None):
        input, hx, batch_sizes, sorted_idx, unsorted_idx, batched = self._prepare_input(
            input, hx, 2)
        if hx is None:
            real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
            hx = (self._zeros(input, batch_sizes, real_hidden),
                  self._zeros(input, batch_sizes, self.hidden_size))
        self.check_forward_args(input, hx, batch_sizes)
        hx = self.permute_hidden(hx, sorted_idx)
        output, h, c = self._run(_rec.lstm, input, hx, batch_sizes)
        if batch_sizes is None and not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            return output, (h.squeeze(1), c.squeeze(1))
        if batch_sizes is not None:
            output = PackedSequence(output, batch_sizes, sorted_idx, unsorted_idx)
        return output, tuple(RNNBase.permute_hidden(self, s, unsorted_idx) for s in (h, c))
