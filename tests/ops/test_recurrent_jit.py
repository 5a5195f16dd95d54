"""The compiled recurrent kernels (ganglion.ops.recurrent_jit): their float32 tanh/sigmoid
against float64 references and torch, NaN/inf handling, and whole layers on both paths against
torch at sizes the vector loops split unevenly (hidden 5, 17), batch-first, packed, reversed."""
import numpy as np
import pytest

import ganglion
from ganglion.backend import jit
from ganglion.nn.layers.rnn import LSTM
from ganglion.nn.utils.rnn import pack_padded_sequence

torch = pytest.importorskip("torch")


def _ulps(got, ref):
    ref32 = ref.astype(np.float32)
    keep = np.isfinite(ref) & (np.abs(ref) > np.finfo(np.float32).tiny)
    return (np.abs(got[keep].astype(np.float64) - ref[keep])
            / np.spacing(np.abs(ref32[keep])).astype(np.float64))


def _grid():
    x = np.linspace(-30, 30, 600_001, dtype=np.float32)
    tiny = np.float32(10) ** np.linspace(-40, 1.5, 20_001, dtype=np.float32)
    return np.concatenate([x, tiny, -tiny])


@pytest.fixture
def kernels():
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    from ganglion.ops import recurrent_jit
    return recurrent_jit


@pytest.mark.parametrize("kind,ref,bound", [
    (0, np.tanh, 2.0),
    (1, lambda x: 1 / (1 + np.exp(-x)), 3.0),
])
def test_float32_activations_within_a_few_ulp(kernels, kind, ref, bound):
    x = _grid()
    out = np.empty_like(x)
    kernels.activate(x, out, kind)
    ulps = _ulps(out, ref(x.astype(np.float64)))
    assert ulps.max() <= bound, (ulps.max(), x[np.argmax(ulps)])
    t = torch.tanh if kind == 0 else torch.sigmoid
    np.testing.assert_allclose(out, t(torch.from_numpy(x)).numpy(), rtol=3e-7, atol=1e-38)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", [0, 1])
def test_activations_special_values(kernels, dtype, kind):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 100.0, -100.0], dtype)
    out = np.empty_like(x)
    kernels.activate(x, out, kind)
    want = (torch.tanh if kind == 0 else torch.sigmoid)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_allclose(out[1:], want[1:], atol=1e-30)


def _copy_to_torch(g, t):
    t.load_state_dict({k: torch.from_numpy(np.array(v.array)) for k, v in
                       g.state_dict().items()})


@pytest.mark.parametrize("hidden", [5, 17])
@pytest.mark.parametrize("kw", [dict(batch_first=True), dict(bidirectional=True),
                                dict(num_layers=2, proj_size=3)])
def test_lstm_odd_sizes_match_torch(jit_mode, hidden, kw):
    ganglion.manual_seed(0)
    g, t = LSTM(7, hidden, **kw), torch.nn.LSTM(7, hidden, **kw)
    _copy_to_torch(g, t)
    x = np.random.default_rng(0).standard_normal((9, 6, 7)).astype(np.float32) * 2
    gx, tx = ganglion.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (go, (gh, gc)), (to, (th, tc)) = g(gx), t(tx)
    for a, b in ((go, to), (gh, th), (gc, tc)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
    (go.square().sum() + gh.sum() + 2 * gc.sum()).backward()
    (to.square().sum() + th.sum() + 2 * tc.sum()).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    tp = dict(t.named_parameters())
    for name, p in g.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-4,
                                   atol=1e-4, err_msg=name)


def test_packed_reverse_lstm_with_states_matches_torch(jit_mode):
    ganglion.manual_seed(1)
    g = LSTM(4, 6, bidirectional=True, batch_first=True).double()
    t = torch.nn.LSTM(4, 6, bidirectional=True, batch_first=True).double()
    _copy_to_torch(g, t)
    rng = np.random.default_rng(1)
    x, lengths = rng.standard_normal((5, 7, 4)), [3, 7, 1, 5, 7]
    h0, c0 = rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 5, 6))
    res = []
    for lib, mod, pack in ((ganglion, g, pack_padded_sequence),
                           (torch, t, torch.nn.utils.rnn.pack_padded_sequence)):
        xs = [lib.tensor(a, requires_grad=True) for a in (x, h0, c0)]
        out, (h, c) = mod(pack(xs[0], lengths, batch_first=True, enforce_sorted=False),
                          (xs[1], xs[2]))
        (out.data.square().sum() + (h * c).sum()).backward()
        res.append([out.data.detach().numpy(), h.detach().numpy(), c.detach().numpy()]
                   + [a.grad.numpy() for a in xs] + [p.grad.numpy() for p in mod.parameters()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_nan_input_propagates_like_torch(jit_mode):
    ganglion.manual_seed(2)
    g, t = LSTM(3, 4), torch.nn.LSTM(3, 4)
    _copy_to_torch(g, t)
    x = np.ones((4, 2, 3), np.float32)
    x[1, 0, 0] = np.nan
    go, to = g(ganglion.tensor(x))[0].detach().numpy(), t(torch.tensor(x))[0].detach().numpy()
    np.testing.assert_array_equal(np.isnan(go), np.isnan(to))
    np.testing.assert_allclose(go[~np.isnan(go)], to[~np.isnan(to)], rtol=1e-5, atol=1e-6)


def test_no_grad_records_nothing(jit_mode):
    lstm = LSTM(3, 4)
    x = ganglion.randn(5, 2, 3, requires_grad=True)
    with ganglion.no_grad():
        out, (h, c) = lstm(x)
    assert out.grad_fn is None and h.grad_fn is None and c.grad_fn is None
    np.testing.assert_allclose(out.numpy(), lstm(x)[0].detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("kind,kw", [("GRU", dict(batch_first=True, bidirectional=True)),
                                     ("RNN", dict(nonlinearity="relu", num_layers=2)),
                                     ("RNN", dict(batch_first=True))])
def test_gru_and_rnn_odd_sizes_match_torch(jit_mode, kind, kw):
    ganglion.manual_seed(3)
    g = getattr(ganglion.nn.layers.rnn, kind)(7, 17, **kw)
    t = getattr(torch.nn, kind)(7, 17, **kw)
    _copy_to_torch(g, t)
    x = np.random.default_rng(3).standard_normal((9, 6, 7)).astype(np.float32)
    gx, tx = ganglion.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (go, gh), (to, th) = g(gx), t(tx)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gh.detach().numpy(), th.detach().numpy(), rtol=1e-4, atol=1e-5)
    (go.square().sum() + 3 * gh.sum()).backward()
    (to.square().sum() + 3 * th.sum()).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    tp = dict(t.named_parameters())
    for name, p in g.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-4,
                                   atol=1e-4, err_msg=name)


def test_parallel_step_kernels_match_serial(kernels, monkeypatch):
    # the parallel twins split a step's rows over the threads: same values as the serial run
    ganglion.manual_seed(4)
    lstm = LSTM(5, 9, batch_first=True)
    x = ganglion.randn(7, 4, 5, requires_grad=True)
    results = []
    prev = ganglion.get_num_threads()
    try:
        for threads, par_min in ((1, 1 << 40), (2, 0)):
            ganglion.set_num_threads(threads)
            monkeypatch.setattr(kernels, "PAR_MIN", par_min)
            x.grad = None
            lstm.zero_grad()
            out, (h, c) = lstm(x)
            (out.square().sum() + c.sum()).backward()
            with ganglion.no_grad():
                infer = lstm(x)[0]
            results.append([out.detach().numpy(), h.detach().numpy(), infer.numpy(),
                            x.grad.numpy()] + [p.grad.numpy() for p in lstm.parameters()])
    finally:
        ganglion.set_num_threads(prev)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
