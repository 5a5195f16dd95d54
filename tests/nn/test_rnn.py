"""RNN, LSTM, GRU and the cells against torch.nn on identical weights (ganglion's state_dict
copied into torch): outputs, final states, and the gradients of the input, the initial states
and every parameter, in float32 and float64, train (dropout 0) and eval mode."""
import warnings

import numpy as np
import pytest

import ganglion
from ganglion.nn.layers.rnn import GRU, LSTM, RNN
from ganglion.nn.layers.rnn_cells import GRUCell, LSTMCell, RNNCell

torch = pytest.importorskip("torch")

G_LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU, "RNNCell": RNNCell, "LSTMCell": LSTMCell,
            "GRUCell": GRUCell}
T_, B_, I_, H_ = 5, 3, 4, 6
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def build(kind, *args, **kwargs):
    """The same constructor call on both libraries, ganglion's weights copied into torch."""
    ganglion.manual_seed(0)
    g = G_LAYERS[kind](*args, **kwargs)
    t = getattr(torch.nn, kind)(*args, **kwargs)
    assert list(g.state_dict()) == list(t.state_dict()), "state_dict keys differ"
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert repr(g) == repr(t)
    t.load_state_dict({k: torch.from_numpy(np.array(v.array))
                       for k, v in g.state_dict().items()})
    return g, t


def _pairs(arrays):
    g = [ganglion.tensor(a, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    return g, t


def _flat(out):
    """Output structure -> flat list of tensors ((out, (h, c)) -> [out, h, c])."""
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def run_both(g_mod, t_mod, x, states, dtype, mode="train", call=None):
    """Forward both modules, backward a random cotangent of every output, compare all."""
    g_mod.to(dtype=getattr(ganglion, np.dtype(dtype).name))
    t_mod.to(dtype=getattr(torch, np.dtype(dtype).name))
    getattr(g_mod, mode)()
    getattr(t_mod, mode)()
    arrays = [x.astype(dtype)] + [s.astype(dtype) for s in states]
    g_in, t_in = _pairs(arrays)
    call = call or (lambda m, inp: m(inp[0], *([inp[1]] if len(inp) == 2 else
                                               [tuple(inp[1:])] if len(inp) == 3 else [])))
    g_out, t_out = _flat(call(g_mod, g_in)), _flat(call(t_mod, t_in))
    tol = TOL[dtype]
    assert len(g_out) == len(t_out)
    rng = np.random.default_rng(1)
    g_loss, t_loss = 0, 0
    for go, to in zip(g_out, t_out):
        assert tuple(go.shape) == tuple(to.shape)
        np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), **tol)
        cot = rng.uniform(-1, 1, tuple(to.shape)).astype(dtype)
        g_loss = g_loss + (go * ganglion.tensor(cot)).sum()
        t_loss = t_loss + (to * torch.tensor(cot)).sum()
    g_loss.backward()
    t_loss.backward()
    for k, (gi, ti) in enumerate(zip(g_in, t_in)):
        np.testing.assert_allclose(gi.grad.numpy(), ti.grad.numpy(), err_msg=f"input {k}",
                                   **tol)
    t_params = dict(t_mod.named_parameters())
    for name, p in g_mod.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), err_msg=name,
                                   **tol)


CONFIGS = {
    "1layer": dict(),
    "2layers": dict(num_layers=2),
    "bidir": dict(bidirectional=True),
    "2layers_bidir_batch_first": dict(num_layers=2, bidirectional=True, batch_first=True),
    "nobias_batch_first": dict(bias=False, batch_first=True),
}


def _states(kind, kw, batch, rng):
    dirs = 2 if kw.get("bidirectional") else 1
    n = kw.get("num_layers", 1) * dirs
    hid = kw.get("proj_size") or H_
    shape = (n, batch, hid) if batch else (n, hid)
    states = [rng.uniform(-1, 1, shape)]
    if kind == "LSTM":
        states.append(rng.uniform(-1, 1, shape[:-1] + (H_,)))
    return states


@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "LSTM", "GRU"])
@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("given_state", [True, False])
def test_layer_matches_torch(kind, config, given_state, jit_mode):
    kw = dict(CONFIGS[config])
    name = "RNN" if kind.startswith("RNN") else kind
    if kind == "RNN_relu":
        kw["nonlinearity"] = "relu"
    g, t = build(name, I_, H_, **kw)
    rng = np.random.default_rng(0)
    shape = (B_, T_, I_) if kw.get("batch_first") else (T_, B_, I_)
    states = _states(name, kw, B_, rng) if given_state else []
    for dtype in (np.float64, np.float32):
        g.zero_grad()
        t.zero_grad()
        run_both(g, t, rng.uniform(-1, 1, shape), states, dtype)


@pytest.mark.parametrize("kw", [dict(proj_size=3), dict(proj_size=2, num_layers=2,
                                                        bidirectional=True, batch_first=True)])
@pytest.mark.parametrize("given_state", [True, False])
def test_lstm_projection_matches_torch(kw, given_state, jit_mode):
    g, t = build("LSTM", I_, H_, **kw)
    assert "weight_hr_l0" in dict(g.named_parameters())
    rng = np.random.default_rng(2)
    shape = (B_, T_, I_) if kw.get("batch_first") else (T_, B_, I_)
    states = _states("LSTM", kw, B_, rng) if given_state else []
    run_both(g, t, rng.uniform(-1, 1, shape), states, np.float64)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_state", [True, False])
def test_unbatched_input_matches_torch(kind, batch_first, given_state):
    kw = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    g, t = build(kind, I_, H_, **kw)
    rng = np.random.default_rng(3)
    states = _states(kind, kw, 0, rng) if given_state else []
    run_both(g, t, rng.uniform(-1, 1, (T_, I_)), states, np.float64)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_eval_mode_and_inter_layer_dropout(kind):
    g, t = build(kind, I_, H_, num_layers=2, dropout=0.5)
    x = np.random.default_rng(4).uniform(-1, 1, (T_, B_, I_))
    run_both(g, t, x, [], np.float64, mode="eval")  # dropout off in eval mode
    g.train()
    xg = ganglion.tensor(x)
    a, b = _flat(g(xg))[0].detach().numpy(), _flat(g(xg))[0].detach().numpy()
    assert not np.allclose(a, b), "dropout between layers must be random in training"
    with ganglion.no_grad():
        g.eval()
        np.testing.assert_array_equal(_flat(g(xg))[0].numpy(), _flat(g(xg))[0].numpy())


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("given_state", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(kind, given_state, batched):
    kw = dict(nonlinearity="relu") if kind == "RNNCell" and batched else {}
    g, t = build(kind, I_, H_, **kw)
    rng = np.random.default_rng(5)
    lead = (B_,) if batched else ()
    states = []
    if given_state:
        states = [rng.uniform(-1, 1, lead + (H_,))
                  for _ in range(2 if kind == "LSTMCell" else 1)]
    for dtype in (np.float64, np.float32):
        g.zero_grad()
        t.zero_grad()
        run_both(g, t, rng.uniform(-1, 1, lead + (I_,)), states, dtype)


def test_cell_double_backward_matches_torch():
    g, t = build("LSTMCell", 3, 4)
    g.double()
    t.double()
    x = np.random.default_rng(6).uniform(-1, 1, (2, 3))
    grads = []
    for lib, mod in ((ganglion, g), (torch, t)):
        xi = lib.tensor(x, requires_grad=True)
        h, c = mod(xi)
        (gx,) = lib.autograd.grad((h * h).sum() + c.sum(), xi, create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), xi)
        grads.append((gx.detach().numpy(), ggx.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_fused_backward_is_once_differentiable(jit_mode):
    lstm = LSTM(3, 4)
    x = ganglion.randn(5, 2, 3, requires_grad=True)
    out, _ = lstm(x)
    # the cotangent 2 * out depends on x, so double backward has to go through the fused op
    (gx,) = ganglion.autograd.grad((out * out).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        gx.sum().backward()


def test_parameters_init_and_flatten():
    lstm = LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_hr_l0"]
    assert names[5] == "weight_ih_l0_reverse" and lstm.weight_ih_l1.shape == (80, 10)
    bound = 1 / np.sqrt(20)
    for p in lstm.parameters():
        a = p.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound and a.std() > bound / 3
    assert lstm.flatten_parameters() is None
    assert len(lstm.all_weights) == 4 and len(lstm._flat_weights) == 20


@pytest.mark.parametrize("ctor", [
    lambda lib: lib.nn.LSTM(10, 20, num_layers=2, batch_first=True),
    lambda lib: lib.nn.GRU(3, 4, bias=False, dropout=0.5, num_layers=2, bidirectional=True),
    lambda lib: lib.nn.RNN(3, 4, nonlinearity="relu"),
    lambda lib: lib.nn.LSTM(3, 4, proj_size=2),
    lambda lib: lib.nn.GRUCell(3, 4, bias=False),
])
def test_repr_matches_torch(ctor):
    g_nn = type("nn", (), dict(G_LAYERS))
    assert repr(ctor(type("lib", (), {"nn": g_nn}))) == repr(ctor(torch))


def _raises_like_torch(fn, match):
    """fn(lib) raises the same exception type on both libraries; ganglion's matches."""
    with pytest.raises(Exception) as t_err:
        fn(torch)
    with pytest.raises(t_err.type, match=match):
        fn(ganglion)


def _nn(lib):
    return type("nn", (), dict(G_LAYERS)) if lib is ganglion else lib.nn


@pytest.mark.parametrize("fn,match", [
    (lambda L: _nn(L).LSTM(10, 20)(L.randn(5, 3, 7)),
     r"LSTM: input.size\(-1\) must be equal to input_size. Expected 10, got 7"),
    (lambda L: _nn(L).LSTM(10, 20, num_layers=2)(L.randn(5, 3, 10),
                                                  (L.zeros(1, 3, 20), L.zeros(2, 3, 20))),
     r"LSTM: Expected hidden\[0\] size \(2, 3, 20\), got \[1, 3, 20\]"),
    (lambda L: _nn(L).LSTM(10, 20)(L.randn(5, 3, 10), (L.zeros(1, 3, 20), L.zeros(1, 2, 20))),
     r"Expected hidden\[1\] size \(1, 3, 20\), got \[1, 2, 20\]"),
    (lambda L: _nn(L).GRU(4, 5)(L.randn(5, 3, 4), L.zeros(2, 3, 5)),
     r"GRU: Expected hidden size \(1, 3, 5\), got \[2, 3, 5\]"),
    (lambda L: _nn(L).LSTM(4, 5)(L.randn(2, 5, 3, 4)),
     "LSTM: Expected input to be 2D or 3D, got 4D"),
    (lambda L: _nn(L).RNN(4, 5)(L.randn(4)), "RNN: Expected input to be 2D or 3D, got 1D"),
    (lambda L: _nn(L).GRU(4, 5)(L.randn(5, 3, 4), L.zeros(3, 5)),
     "For batched 3-D input, hx should also be 3-D but got 2-D"),
    (lambda L: _nn(L).LSTM(4, 5)(L.randn(5, 4), (L.zeros(1, 1, 5), L.zeros(1, 1, 5))),
     "For unbatched 2-D input, hx and cx should also be 2-D"),
    (lambda L: _nn(L).LSTM(4, 5)(L.randn(5, 3, 4, dtype=L.float64)), "does not match weight"),
    (lambda L: _nn(L).LSTMCell(4, 5)(L.randn(2, 3, 4)),
     "LSTMCell: Expected input to be 1D or 2D, got 3D instead"),
    (lambda L: _nn(L).GRUCell(4, 5)(L.randn(3, 4), L.zeros(2, 2, 5)),
     "GRUCell: Expected hidden to be 1D or 2D, got 3D instead"),
    (lambda L: _nn(L).RNNCell(4, 5)(L.randn(3, 6)), "RNNCell: input has inconsistent"),
])
def test_forward_errors_match_torch(fn, match):
    _raises_like_torch(fn, match)


@pytest.mark.parametrize("fn,match", [
    (lambda L: _nn(L).LSTM(4, 5, dropout=1.5), "dropout should be a number in range"),
    (lambda L: _nn(L).GRU(4, 5, proj_size=2), "proj_size argument is only supported for LSTM"),
    (lambda L: _nn(L).LSTM(4, 5, proj_size=5), "proj_size has to be smaller than hidden_size"),
    (lambda L: _nn(L).LSTM(4, 5, proj_size=-1), "proj_size should be a positive integer"),
    (lambda L: _nn(L).RNN(4, 5, nonlinearity="sigmoid"), "Unknown nonlinearity 'sigmoid'"),
    (lambda L: _nn(L).RNN(4, 0), "hidden_size must be greater than zero"),
    (lambda L: _nn(L).LSTM(4, 5, num_layers=0), "num_layers must be greater than zero"),
    (lambda L: _nn(L).GRU(4.0, 5), "input_size should be of type int, got: float"),
    (lambda L: _nn(L).GRU(4, 5, bias=1), "bias should be of type bool, got: int"),
])
def test_constructor_errors_match_torch(fn, match):
    _raises_like_torch(fn, match)


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        LSTM(4, 5, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTM(4, 5, num_layers=2, dropout=0.2)


def test_state_dict_round_trip_from_torch():
    t = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
    g = GRU(3, 4, num_layers=2, bidirectional=True)
    g.load_state_dict({k: ganglion.tensor(v.detach().numpy()) for k, v in
                       t.state_dict().items()})
    x = np.random.default_rng(7).uniform(-1, 1, (5, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(g(ganglion.tensor(x))[0].detach().numpy(),
                               t(torch.tensor(x))[0].detach().numpy(), rtol=1e-4, atol=1e-6)


def test_buffer_pool_reuses_only_unreferenced_arrays():
    from ganglion.ops.recurrent_kernels import _BufferPool

    pool = _BufferPool(min_bytes=1000, max_free=10000)
    a = pool.take(1000, np.float32)
    view, first = a[:10], id(a)
    del a
    assert id(pool.take(1000, np.float32)) != first  # a view still pins it
    del view
    assert id(pool.take(1000, np.float32)) == first
    assert pool.take(10, np.float32).size == 10  # small arrays bypass the pool
    for n in (2000, 3000, 4000):
        pool.take(n, np.float32)  # nothing kept: all but the newest are free
    assert sum(x.nbytes for x in pool.arrays) <= 10000 + 16000


def test_outputs_survive_later_calls(jit_mode):
    # big enough for the work arrays to come from the pool: an output still held by the
    # caller must not be overwritten by the next call
    lstm = LSTM(32, 64, batch_first=True)
    x1, x2 = ganglion.randn(16, 64, 32), ganglion.randn(16, 64, 32)
    out1, (h1, _) = lstm(x1)
    keep = out1.detach().numpy().copy()
    for _ in range(3):
        out2, _ = lstm(x2)
        out2.sum().backward()
    np.testing.assert_array_equal(out1.detach().numpy(), keep)
    np.testing.assert_allclose(lstm(x1)[0].detach().numpy(), keep, rtol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("shape", [(T_, 1, I_), (T_, I_), (T_, 0, I_)])
def test_sum_backward_batch_one_and_empty_batch(kind, shape, jit_mode):
    # .sum() sends read-only broadcast gradients; a (1, F) state gradient transposes to a
    # view of it: the kernels must copy before accumulating into it
    g, t = build(kind, I_, H_, num_layers=2, bidirectional=True)
    x = np.random.default_rng(8).uniform(-1, 1, shape)
    grads = []
    for lib, mod in ((ganglion, g.double()), (torch, t.double())):
        xi = lib.tensor(x, requires_grad=True)
        out, h = mod(xi)
        h = h[0] if kind == "LSTM" else h
        (out.sum() + h.sum()).backward()
        grads.append([out.detach().numpy(), xi.grad.numpy()]
                     + [p.grad.numpy() for p in mod.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_empty_sequence_is_an_error_as_in_torch():
    _raises_like_torch(lambda L: _nn(L).GRU(4, 5)(L.randn(0, 2, 4)),
                       "Expected sequence length to be larger than 0")


def test_retain_graph_backward_twice(jit_mode):
    lstm = LSTM(3, 4, num_layers=2)
    x = ganglion.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = lstm(x)
    loss = (out * out).sum() + h.sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-5, atol=1e-6)
