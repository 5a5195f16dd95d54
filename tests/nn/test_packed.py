"""Packed/padded sequence utilities and packed RNN/LSTM/GRU inputs against torch: packing
results, round trips, gradients through packing, and the packed layers' outputs, final states
and gradients (enforce_sorted both ways)."""
import numpy as np
import pytest

import ganglion
from ganglion.nn.layers.rnn import GRU, LSTM, RNN
from ganglion.nn.utils import rnn as g_rnn

torch = pytest.importorskip("torch")
t_rnn = torch.nn.utils.rnn

LENGTHS = {"sorted": [5, 3, 3, 1], "unsorted": [3, 5, 1, 3], "uniform": [4, 4, 4, 4]}


def _eq(g, t, **tol):
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), **(tol or
                                                                         dict(rtol=0, atol=0)))


def _padded(lengths, batch_first, feat=(2,), seed=0):
    T, B = max(lengths), len(lengths)
    shape = (B, T) + feat if batch_first else (T, B) + feat
    return np.random.default_rng(seed).uniform(-1, 1, shape)


@pytest.mark.parametrize("case", sorted(LENGTHS))
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_pad_round_trip_matches_torch(case, batch_first, enforce_sorted):
    lengths = LENGTHS[case]
    x = _padded(lengths, batch_first)
    if enforce_sorted and case == "unsorted":
        for lib, mod in ((torch, t_rnn), (ganglion, g_rnn)):
            with pytest.raises(RuntimeError, match="must be sorted in decreasing order when "
                                                   "`enforce_sorted` is True. You can pass "
                                                   "`enforce_sorted=False`"):
                mod.pack_padded_sequence(lib.tensor(x), lengths, batch_first=batch_first)
        return
    gx, tx = ganglion.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gp = g_rnn.pack_padded_sequence(gx, lengths, batch_first, enforce_sorted)
    tp = t_rnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    assert isinstance(gp, g_rnn.PackedSequence) and isinstance(gp, tuple)
    for a, b in zip(gp, tp):
        assert (a is None) == (b is None)
        if a is not None:
            _eq(a, b)
    assert gp.batch_sizes.dtype == ganglion.int64
    for kw in (dict(), dict(padding_value=-2.0, total_length=7)):
        g_pad, g_len = g_rnn.pad_packed_sequence(gp, batch_first, **kw)
        t_pad, t_len = t_rnn.pad_packed_sequence(tp, batch_first, **kw)
        _eq(g_pad, t_pad)
        _eq(g_len, t_len)
    cot = np.random.default_rng(1).uniform(-1, 1, tuple(t_pad.shape))
    (g_pad * ganglion.tensor(cot)).sum().backward()
    (t_pad * torch.tensor(cot)).sum().backward()
    _eq(gx.grad, tx.grad, rtol=1e-12, atol=1e-12)  # gradients through pack and pad


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_and_pack_sequence_match_torch(batch_first, padding_side):
    rng = np.random.default_rng(2)
    seqs = [rng.uniform(-1, 1, (n, 3)) for n in (2, 4, 1)]
    g_seqs = [ganglion.tensor(s, requires_grad=True) for s in seqs]
    t_seqs = [torch.tensor(s, requires_grad=True) for s in seqs]
    g = g_rnn.pad_sequence(g_seqs, batch_first, 9.0, padding_side)
    t = t_rnn.pad_sequence(t_seqs, batch_first, 9.0, padding_side)
    _eq(g, t)
    cot = rng.uniform(-1, 1, tuple(t.shape))
    (g * ganglion.tensor(cot)).sum().backward()
    (t * torch.tensor(cot)).sum().backward()
    for a, b in zip(g_seqs, t_seqs):
        _eq(a.grad, b.grad)
    gp = g_rnn.pack_sequence(g_seqs, enforce_sorted=False)
    tp = t_rnn.pack_sequence(t_seqs, enforce_sorted=False)
    for a, b in zip(gp, tp):
        _eq(a, b)
    for a, b in zip(g_rnn.unpack_sequence(gp), t_rnn.unpack_sequence(tp)):
        _eq(a, b)
    lengths = torch.tensor([2, 4, 1])
    g_un = g_rnn.unpad_sequence(g_rnn.pad_sequence(g_seqs), ganglion.tensor([2, 4, 1]))
    t_un = t_rnn.unpad_sequence(t_rnn.pad_sequence(t_seqs), lengths)
    for a, b in zip(g_un, t_un):
        _eq(a, b)


def test_integer_data_and_repr():
    g = g_rnn.pack_sequence([ganglion.tensor([1, 2, 3]), ganglion.tensor([4, 5])])
    t = t_rnn.pack_sequence([torch.tensor([1, 2, 3]), torch.tensor([4, 5])])
    assert repr(g) == repr(t).replace("torch", "ganglion")
    assert g.to(ganglion.float64).data.dtype == ganglion.float64
    assert g_rnn.invert_permutation(None) is None
    _eq(g_rnn.invert_permutation(ganglion.tensor([2, 0, 1])),
        t_rnn.invert_permutation(torch.tensor([2, 0, 1])))


@pytest.mark.parametrize("fn,match,exc", [
    (lambda m, L: m.pack_padded_sequence(L.zeros(3, 2), [3, 0]), "greater than 0",
     RuntimeError),
    (lambda m, L: m.pack_padded_sequence(L.zeros(3, 2), [3, 2, 1]),
     r"Expected `len\(lengths\)` to be equal to batch_size", RuntimeError),
    (lambda m, L: m.pad_packed_sequence(m.pack_sequence([L.ones(3)]), total_length=2),
     "Expected total_length to be at least the length of the longest sequence", ValueError),
    (lambda m, L: m.pad_sequence([L.ones(2)], padding_side="top"),
     "Expected padding_side to be one of left or right, but got top.", RuntimeError),
    (lambda m, L: m.pad_sequence([]), "received an empty list of sequences", RuntimeError),
])
def test_errors_match_torch(fn, match, exc):
    for m, lib in ((t_rnn, torch), (g_rnn, ganglion)):
        with pytest.raises(exc, match=match):
            fn(m, lib)


def test_length_longer_than_input_is_an_error():
    # torch reads past the padded input here; ganglion refuses
    with pytest.raises(RuntimeError, match="exceeds"):
        g_rnn.pack_padded_sequence(ganglion.zeros(3, 2), [4, 1])


# -- packed inputs to the recurrent layers ---------------------------------------------------

def _build(kind, **kw):
    ganglion.manual_seed(0)
    g = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}[kind](3, 4, **kw).double()
    t = getattr(torch.nn, kind)(3, 4, **kw).double()
    t.load_state_dict({k: torch.from_numpy(np.array(v.array)) for k, v in
                       g.state_dict().items()})
    return g, t


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("case", ["sorted", "unsorted"])
@pytest.mark.parametrize("given_state", [True, False])
@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True)])
def test_packed_layer_matches_torch(kind, case, given_state, kw, jit_mode):
    lengths = LENGTHS[case]
    g, t = _build(kind, **kw)
    rng = np.random.default_rng(3)
    x = _padded(lengths, True, (3,))
    n = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    states = [rng.uniform(-1, 1, (n, len(lengths), 4))
              for _ in range((2 if kind == "LSTM" else 1) if given_state else 0)]
    results = []
    for lib, mod, rnn_utils in ((ganglion, g, g_rnn), (torch, t, t_rnn)):
        xi = lib.tensor(x, requires_grad=True)
        hs = [lib.tensor(s, requires_grad=True) for s in states]
        packed = rnn_utils.pack_padded_sequence(xi, lengths, batch_first=True,
                                                enforce_sorted=case == "sorted")
        hx = (tuple(hs) if kind == "LSTM" else hs[0]) if hs else None
        out, h = mod(packed, hx)
        assert isinstance(out, rnn_utils.PackedSequence)
        finals = list(h) if kind == "LSTM" else [h]
        padded, _ = rnn_utils.pad_packed_sequence(out, batch_first=True)
        loss = (padded * padded).sum() + sum((f * f * f).sum() for f in finals)
        loss.backward()
        results.append([padded, out.data] + finals + [xi.grad] + [s.grad for s in hs]
                       + [p.grad for p in mod.parameters()])
    for a, b in zip(*results):
        _eq(a, b, rtol=1e-9, atol=1e-11)


def test_packed_lstm_float32_with_projection(jit_mode):
    g, t = _build("LSTM", proj_size=2)
    g.float()
    t.float()
    x = _padded([4, 2, 3], False, (3,)).astype(np.float32)
    outs = []
    for lib, mod, rnn_utils in ((ganglion, g, g_rnn), (torch, t, t_rnn)):
        packed = rnn_utils.pack_padded_sequence(lib.tensor(x), [4, 2, 3], enforce_sorted=False)
        out, (h, c) = mod(packed)
        outs.append((out.data, h, c))
    for a, b in zip(*outs):
        _eq(a, b, rtol=1e-5, atol=1e-6)


def test_packed_bidirectional_projected_lstm_with_states(jit_mode):
    ganglion.manual_seed(0)
    g = LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=2).double()
    t = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=2).double()
    t.load_state_dict({k: torch.from_numpy(np.array(v.array)) for k, v in
                       g.state_dict().items()})
    rng = np.random.default_rng(4)
    x, h0, c0 = (rng.uniform(-1, 1, s) for s in ((5, 4, 3), (4, 4, 2), (4, 4, 6)))
    results = []
    for lib, mod, rnn_utils in ((ganglion, g, g_rnn), (torch, t, t_rnn)):
        xi, hi, ci = (lib.tensor(a, requires_grad=True) for a in (x, h0, c0))
        packed = rnn_utils.pack_padded_sequence(xi, [2, 5, 3, 1], enforce_sorted=False)
        out, (h, c) = mod(packed, (hi, ci))
        padded, _ = rnn_utils.pad_packed_sequence(out)
        ((padded * padded).sum() + (h * h * h).sum() + (c * c).sum()).backward()
        results.append([padded, h, c, xi.grad, hi.grad, ci.grad]
                       + [p.grad for p in mod.parameters()])
    for a, b in zip(*results):
        _eq(a, b, rtol=1e-9, atol=1e-11)
