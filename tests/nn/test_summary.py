"""nn.summary: parameter totals checked against torch's counts on the same model, rows,
depth folding, input forms and side effects (modes, hooks, RNG)."""
import numpy as np
import pytest

import ganglion
from ganglion import nn
from tests.nn.toy_modules import build

torch = pytest.importorskip("torch")

G = build(nn, ganglion)
T = build(torch.nn, torch)


def _deep(ns, lib_nn):
    shared = ns.Linear(3, 3)
    return lib_nn.Sequential(ns.Linear(4, 3), lib_nn.Sequential(shared, ns.ReLU(), shared),
                             ns.BatchNorm1d(3), lib_nn.Flatten())


def test_totals_match_torch_counts():
    g, t = _deep(G, nn), _deep(T, torch.nn)
    g[0].requires_grad_(False)
    t[0].requires_grad_(False)
    stats = nn.summary(g, input_size=(2, 4), verbose=0)
    assert stats.total_params == sum(p.numel() for p in t.parameters())
    assert stats.trainable_params == sum(p.numel() for p in t.parameters() if p.requires_grad)
    assert stats.non_trainable_params == sum(p.numel() for p in t.parameters()
                                             if not p.requires_grad)
    assert stats.total_param_bytes == 4 * stats.total_params
    assert stats.total_input == 2 * 4 * 4


def test_rows_follow_calls_with_depth_and_shapes():
    g = _deep(G, nn)
    stats = nn.summary(g, input_size=(2, 4), verbose=0, depth=5)
    rows = [(r.class_name, r.depth, r.depth_index, r.output_size, r.num_params, r.recursive)
            for r in stats.summary_list]
    assert rows == [("Sequential", 0, 1, [2, 3], 0, False),
                    ("Linear", 1, 1, [2, 3], 15, False),
                    ("Sequential", 1, 2, [2, 3], 0, False),
                    ("Linear", 2, 1, [2, 3], 12, False),
                    ("ReLU", 2, 2, [2, 3], 0, False),
                    ("Linear", 2, 3, [2, 3], 12, True),  # the shared layer's second call
                    ("BatchNorm1d", 1, 3, [2, 3], 6, False),
                    ("Flatten", 1, 4, [2, 3], 0, False)]
    text = str(stats)
    assert "│    └─Linear: 2-3" in text and "(recursive)" in text
    assert "Total params: 33" in text and "Params size (MB): 0.00" in text


def test_depth_limit_folds_hidden_params():
    stats = nn.summary(_deep(G, nn), input_size=(2, 4), verbose=0, depth=1)
    text = str(stats)
    assert "└─" not in text
    inner = [r for r in stats.summary_list if r.depth == 1 and r.class_name == "Sequential"]
    assert inner[0].num_params == 12  # the shared Linear, counted once
    assert "├─Sequential: 1-2" in text


def test_input_forms_and_columns():
    m = G.TwoIO()
    x, y = ganglion.ones(2, 3), ganglion.zeros(2, 3)
    s1 = nn.summary(m, input_data=(x, y), verbose=0,
                    col_names=("input_size", "output_size", "params_percent"))
    s2 = nn.summary(m, input_data={"x": x, "y": y}, verbose=0)
    s3 = nn.summary(m, input_size=[(2, 3), (2, 3)], verbose=0)
    for s in (s1, s2, s3):
        assert s.summary_list[0].output_size == [[2, 3], [2, 3]]
    assert s1.summary_list[0].input_size == [[2, 3], [2, 3]]
    assert "Input Shape" in str(s1) and "100.00%" in str(s1)
    s4 = nn.summary(G.Linear(3, 2), input_size=(3,), batch_dim=0, dtypes=[ganglion.float32],
                    verbose=0)
    assert s4.summary_list[0].output_size == [1, 2]


def test_prints_by_default(capsys):
    nn.summary(G.Linear(3, 2), input_size=(1, 3))
    out = capsys.readouterr().out
    assert out.startswith("=") and "Linear" in out and "Trainable params: 8" in out


def test_side_effects_restored():
    g = _deep(G, nn)
    g[1].eval()
    state = ganglion.get_rng_state()
    seen = []
    g[0].register_forward_hook(lambda m, a, o: seen.append(m.training))
    nn.summary(g, input_size=(2, 4), mode="train", verbose=0)
    assert seen == [True]
    assert g.training and not g[1].training and not g[1][0].training
    nn.summary(g, input_size=(2, 4), mode="eval", verbose=0)
    assert seen == [True, False] and g.training
    assert ganglion.get_rng_state() == state
    assert all(len(m._forward_hooks) == (1 if m is g[0] else 0) for m in g.modules())
    assert all(not m._forward_pre_hooks for m in g.modules())


def test_errors_and_failing_forward_cleans_up():
    m = G.Linear(3, 2)
    with pytest.raises(ValueError, match="exactly one of input_size"):
        nn.summary(m, verbose=0)
    with pytest.raises(ValueError, match="exactly one of input_size"):
        nn.summary(m, input_size=(1, 3), input_data=ganglion.ones(1, 3), verbose=0)
    with pytest.raises(ValueError, match="unknown col_names"):
        nn.summary(m, input_size=(1, 3), col_names=["kernel"], verbose=0)
    with pytest.raises(ValueError, match="mode must be"):
        nn.summary(m, input_size=(1, 3), mode="test", verbose=0)
    with pytest.raises(ValueError, match="dtypes"):
        nn.summary(m, input_size=(1, 3), dtypes=[ganglion.float32] * 2, verbose=0)
    with pytest.raises(Exception):
        nn.summary(m, input_size=(1, 5), verbose=0)  # wrong feature size: forward fails
    assert not m._forward_hooks and not m._forward_pre_hooks
    np.testing.assert_array_equal(m.weight.numpy(force=True), np.zeros((2, 3)))
