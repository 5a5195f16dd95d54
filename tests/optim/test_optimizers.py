"""ganglion.optim optimizers stepped side by side with torch.optim on identical parameters and
gradients; state dicts, parameter groups, hooks and validation errors compared with torch."""
import copy

import numpy as np
import pytest

import ganglion
from ganglion import optim
from ganglion.optim import _fused, _fused_jit

torch = pytest.importorskip("torch")

SHAPES = [(5, 3), (4,), ()]
STEPS = 120

# Every optimizer with combinations of its options (torch's names and defaults).
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, maximize=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.2, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, betas=(0.3, 0.9))),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True, eps=1e-3)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.3)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True, eps=1e-5)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.6, 0.9), weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _data(dtype, steps=STEPS, shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    return init, grads


def _pair(name, kwargs, init):
    gp = [ganglion.nn.Parameter(ganglion.tensor(a.copy())) for a in init]
    tp = [torch.nn.Parameter(torch.tensor(a.copy())) for a in init]
    return gp, tp, getattr(optim, name)(gp, **kwargs), getattr(torch.optim, name)(tp, **kwargs)


def _set_grads(gp, tp, grads, skip=()):
    for i, (p, q, g) in enumerate(zip(gp, tp, grads)):
        p.grad = None if i in skip else ganglion.tensor(g.copy())
        q.grad = None if i in skip else torch.tensor(g.copy())


def _assert_close(gp, tp, dtype, what=""):
    for p, q in zip(gp, tp):
        np.testing.assert_allclose(p.array, q.detach().numpy(), **TOL[dtype], err_msg=what)


def _assert_state_close(gopt, topt, gp, tp, dtype):
    for p, q in zip(gp, tp):
        gs, ts = gopt.state[p], topt.state[q]
        assert set(gs) == set(ts)
        for key, tv in ts.items():
            gv = gs[key]
            if tv is None:
                assert gv is None
                continue
            assert gv.array.dtype == tv.detach().numpy().dtype, key
            np.testing.assert_allclose(gv.array, tv.detach().numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=key)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trajectory_matches_torch(name, kwargs, dtype, jit_mode):
    init, grads = _data(dtype)
    gp, tp, gopt, topt = _pair(name, kwargs, init)
    for k, gs in enumerate(grads):
        _set_grads(gp, tp, gs)
        gopt.step()
        topt.step()
        _assert_close(gp, tp, dtype, f"step {k}")
    _assert_state_close(gopt, topt, gp, tp, dtype)


@pytest.mark.parametrize("name,kwargs", CASES[1::3], ids=IDS[1::3])
def test_split_and_threaded_kernels_match_torch(name, kwargs, monkeypatch, jit_mode):
    # Force the multi-threaded paths on small arrays: NumPy kernels in pieces of 7 elements
    # over 3 threads; compiled kernels in parallel (the 20100-element array spans 3 blocks).
    monkeypatch.setattr(_fused, "NUM_THREADS", 3)
    monkeypatch.setattr(_fused, "PARALLEL_MIN", 0)
    monkeypatch.setattr(_fused, "CHUNK", 7)
    monkeypatch.setattr(_fused_jit, "PARALLEL_MIN", 0)
    init, grads = _data(np.float32, steps=30, shapes=[(9, 5), (13,), (), (2, 3, 4), (100, 201)])
    _run_and_compare(name, kwargs, init, grads)


def _run_and_compare(name, kwargs, init, grads):
    gp, tp, gopt, topt = _pair(name, kwargs, init)
    for gs in grads:
        _set_grads(gp, tp, gs)
        gopt.step()
        topt.step()
    _assert_close(gp, tp, np.float32)
    _assert_state_close(gopt, topt, gp, tp, np.float32)
    return gp


def test_non_contiguous_parameter_matches_torch():
    # An F-ordered parameter array (a transposed view) is updated in place, unsplit.
    init, grads = _data(np.float32, steps=20, shapes=[(6, 4)])
    arr = np.asfortranarray(init[0])
    p = ganglion.nn.Parameter(ganglion.tensor(arr))
    p.array = arr
    q = torch.nn.Parameter(torch.tensor(init[0].copy()))
    gopt, topt = optim.Adam([p], lr=0.01), torch.optim.Adam([q], lr=0.01)
    for (g,) in grads:
        p.grad, q.grad = ganglion.tensor(g.copy()), torch.tensor(g.copy())
        gopt.step()
        topt.step()
    assert p.array is arr
    np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "NAdam"])
def test_groups_missing_grads_and_added_group(name):
    init, grads = _data(np.float32, steps=60, shapes=[(3, 2), (4,), (2,), (5,)])
    gp = [ganglion.nn.Parameter(ganglion.tensor(a.copy())) for a in init]
    tp = [torch.nn.Parameter(torch.tensor(a.copy())) for a in init]
    kw = dict(momentum=0.9) if name in ("SGD", "RMSprop") else {}
    gopt = getattr(optim, name)([{"params": gp[:2]}, {"params": gp[2:3], "lr": 0.003}],
                                lr=0.02, **kw)
    topt = getattr(torch.optim, name)([{"params": tp[:2]}, {"params": tp[2:3], "lr": 0.003}],
                                      lr=0.02, **kw)
    for k, gs in enumerate(grads):
        if k == 20:
            gopt.add_param_group({"params": [gp[3]], "lr": 0.05})
            topt.add_param_group({"params": [tp[3]], "lr": 0.05})
        skip = {1} if k % 3 == 0 else set()  # param 1 sometimes has no gradient
        _set_grads(gp, tp, gs, skip)
        gopt.step()
        topt.step()
    _assert_close(gp, tp, np.float32)
    _assert_state_close(gopt, topt, gp, tp, np.float32)
    assert [g["lr"] for g in gopt.param_groups] == [g["lr"] for g in topt.param_groups]


def _mlp(w1, b1, w2, x, y):
    # the same code runs on ganglion and torch tensors
    h = (x @ w1.T + b1).relu()
    return ((h @ w2.T - y) ** 2).mean()


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("RMSprop", dict(lr=0.005, centered=True))])
def test_closure_mlp_loss_matches_torch(name, kwargs):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in [(8, 4), (8,), (2, 8)]]
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal(
        (16, 2)).astype(np.float32)
    gp, tp, gopt, topt = _pair(name, kwargs, arrays)
    gx, gy, tx, ty = ganglion.tensor(x), ganglion.tensor(y), torch.tensor(x), torch.tensor(y)

    def gclosure():
        gopt.zero_grad()
        loss = _mlp(*gp, gx, gy)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = _mlp(*tp, tx, ty)
        loss.backward()
        return loss

    for _ in range(100):
        with ganglion.no_grad():  # the closure re-enables grad itself
            gl = gopt.step(gclosure)
        tl = topt.step(tclosure)
        np.testing.assert_allclose(float(gl), tl.item(), rtol=1e-4, atol=1e-6)
    _assert_close(gp, tp, np.float32)


def _to_torch_sd(sd):
    conv = lambda v: torch.tensor(np.array(v.array)) if isinstance(v, ganglion.Tensor) else v
    return {"state": {k: {n: conv(v) for n, v in s.items()} for k, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}


@pytest.mark.parametrize("name,kwargs", CASES[::2], ids=IDS[::2])
def test_state_dict_format_and_round_trip(name, kwargs):
    init, grads = _data(np.float32, steps=80)
    gp, tp, gopt, topt = _pair(name, kwargs, init)
    for gs in grads[:40]:
        _set_grads(gp, tp, gs)
        gopt.step()
        topt.step()
    gsd, tsd = gopt.state_dict(), topt.state_dict()
    # torch's format: same group entries and values, same state ids, names and dtypes
    assert gsd["param_groups"] == tsd["param_groups"]
    assert gsd["state"].keys() == tsd["state"].keys()
    for k in tsd["state"]:
        assert gsd["state"][k].keys() == tsd["state"][k].keys()
        for n, v in tsd["state"][k].items():
            assert isinstance(gsd["state"][k][n], ganglion.Tensor)
            assert gsd["state"][k][n].shape == tuple(v.shape)
            assert gsd["state"][k][n].array.dtype == v.numpy().dtype
    # ganglion -> fresh ganglion, torch -> fresh ganglion, ganglion -> torch: all continue
    # exactly like the uninterrupted optimizers
    runs = []
    for source in ("ganglion", "torch"):
        params = [ganglion.nn.Parameter(ganglion.tensor(p.array.copy())) for p in gp]
        fresh = getattr(optim, name)(params, **kwargs)
        fresh.load_state_dict(copy.deepcopy(gsd) if source == "ganglion" else tsd)
        runs.append((fresh, params))
    tparams = [torch.nn.Parameter(q.detach().clone()) for q in tp]
    tfresh = getattr(torch.optim, name)(tparams, **kwargs)
    tfresh.load_state_dict(_to_torch_sd(copy.deepcopy(gsd)))
    for gs in grads[40:]:
        _set_grads(gp, tp, gs)
        gopt.step()
        topt.step()
        for fresh, params in runs:
            _set_grads(params, tparams, gs)
            fresh.step()
        tfresh.step()
    for _, params in runs:
        _assert_close(params, tp, np.float32)
    for p, q in zip(runs[0][1], gp):  # ganglion -> ganglion continues bit for bit
        np.testing.assert_array_equal(p.array, q.array)
    _assert_close(gp, tparams, np.float32)


def test_load_state_dict_casts_to_param_dtype_and_keeps_step():
    p = ganglion.nn.Parameter(ganglion.zeros(3, dtype=ganglion.float32))
    opt = optim.Adam([p])
    state = {0: {"step": ganglion.tensor(4.0, dtype=ganglion.float64),
                 "exp_avg": ganglion.ones(3, dtype=ganglion.float64),
                 "exp_avg_sq": ganglion.ones(3, dtype=ganglion.float64)}}
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
    tq = torch.nn.Parameter(torch.zeros(3))
    topt = torch.optim.Adam([tq])
    topt.load_state_dict({"state": {0: {"step": torch.tensor(4.0, dtype=torch.float64),
                                        "exp_avg": torch.ones(3, dtype=torch.float64),
                                        "exp_avg_sq": torch.ones(3, dtype=torch.float64)}},
                          "param_groups": topt.state_dict()["param_groups"]})
    for key in ("step", "exp_avg", "exp_avg_sq"):
        assert opt.state[p][key].array.dtype == topt.state[tq][key].numpy().dtype


def test_load_state_dict_validates_groups():
    a, b = (ganglion.nn.Parameter(ganglion.zeros(2)) for _ in range(2))
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


def test_old_style_numeric_step_is_converted():
    p = ganglion.nn.Parameter(ganglion.zeros(2))
    opt = optim.Adam([p])
    p.grad = ganglion.ones(2)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["step"] = 1  # checkpoints from old torch versions stored a number
    opt2 = optim.Adam([ganglion.nn.Parameter(ganglion.zeros(2))])
    opt2.load_state_dict(sd)
    (st,) = opt2.state.values()
    assert isinstance(st["step"], ganglion.Tensor) and float(st["step"]) == 1.0


def test_zero_grad_matches_torch():
    p = ganglion.nn.Parameter(ganglion.ones(3))
    opt = optim.SGD([p], lr=0.1)
    p.grad = ganglion.ones(3)
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and g.array.shape == (3,) and not g.array.any()
    opt.zero_grad()
    assert p.grad is None


def test_step_updates_in_place_and_bumps_version():
    p = ganglion.nn.Parameter(ganglion.ones(3))
    arr, version = p.array, p._version
    opt = optim.Adam([p], lr=0.1)
    p.grad = ganglion.ones(3)
    opt.step()
    assert p.array is arr and p._version == version + 1
    q = ganglion.nn.Parameter(ganglion.ones(2))  # no grad: skipped, no state
    opt.add_param_group({"params": [q]})
    opt.step()
    assert q not in opt.state or len(opt.state[q]) == 0
    np.testing.assert_array_equal(q.array, np.ones(2, np.float32))


def test_step_hooks_and_repr():
    p = ganglion.nn.Parameter(ganglion.ones(1))
    opt = optim.SGD([p], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    h3 = optim.optimizer.register_optimizer_step_pre_hook(lambda o, a, k: calls.append("g"))
    opt.step()
    assert calls == ["g", "pre", "post"]
    for h in (h1, h2, h3):
        h.remove()
    opt.step()
    assert calls == ["g", "pre", "post"]
    tq = torch.nn.Parameter(torch.ones(1))
    assert repr(opt) == repr(torch.optim.SGD([tq], lr=0.1))


def test_state_dict_hooks():
    p = ganglion.nn.Parameter(ganglion.ones(1))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    seen = []
    opt.register_state_dict_pre_hook(lambda o: seen.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: dict(sd, extra=1))
    opt.register_load_state_dict_pre_hook(lambda o, sd: seen.append("load-pre"))
    opt.register_load_state_dict_post_hook(lambda o: seen.append("load-post"))
    sd = opt.state_dict()
    assert sd["extra"] == 1 and seen == ["pre"]
    opt.load_state_dict(sd)
    assert seen == ["pre", "load-pre", "load-post"]


def test_closure_loss_is_returned_and_grad_enabled():
    p = ganglion.nn.Parameter(ganglion.ones(2))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        assert ganglion.is_grad_enabled()
        return 3.5

    with ganglion.no_grad():
        assert opt.step(closure) == 3.5


def test_named_parameters_and_param_names():
    a = ganglion.nn.Parameter(ganglion.zeros(2))
    opt = optim.Adam([("w", a)])
    assert opt.param_groups[0]["param_names"] == ["w"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w"]


@pytest.mark.parametrize("make,exc,msg", [
    (lambda p: optim.SGD([p], lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (lambda p: optim.SGD([p], momentum=-1), ValueError, "Invalid momentum value: -1"),
    (lambda p: optim.SGD([p], nesterov=True), ValueError, "Nesterov momentum requires"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.9)), ValueError,
     "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam([p], betas=(0.9, -0.1)), ValueError,
     "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.Adam([p], eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
    (lambda p: optim.AdamW([p], weight_decay=-1.0), ValueError, "Invalid weight_decay value"),
    (lambda p: optim.RMSprop([p], alpha=-0.5), ValueError, "Invalid alpha value: -0.5"),
    (lambda p: optim.Adagrad([p], lr_decay=-1.0), ValueError, "Invalid lr_decay value"),
    (lambda p: optim.Adadelta([p], rho=1.5), ValueError, "Invalid rho value: 1.5"),
    (lambda p: optim.NAdam([p], momentum_decay=-1.0), ValueError, "Invalid momentum_decay"),
    (lambda p: optim.Adam([p], fused=True, foreach=True), RuntimeError, "cannot be `True`"),
    (lambda p: optim.SGD([], lr=0.1), ValueError, "optimizer got an empty parameter list"),
    (lambda p: optim.SGD(p, lr=0.1), TypeError, "should be an iterable of Tensors or dicts"),
    (lambda p: optim.SGD([p * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda p: optim.SGD([np.zeros(2)], lr=0.1), TypeError, "can only optimize Tensors"),
    (lambda p: optim.SGD([{"params": {p}}], lr=0.1), TypeError, "organized in ordered collections"),
    (lambda p: optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1), ValueError,
     "some parameters appear in more than one parameter group"),
])
def test_validation_errors_match_torch(make, exc, msg):
    with pytest.raises(exc, match=msg.replace("(", r"\(").replace(")", r"\)")):
        make(ganglion.nn.Parameter(ganglion.ones(2)))


def test_torch_reference_messages():
    # the reference strings above are torch's own: a few checked against torch itself
    p = torch.nn.Parameter(torch.ones(2))
    for fn, msg in [(lambda: torch.optim.SGD([p], lr=-0.1), "Invalid learning rate: -0.1"),
                    (lambda: torch.optim.Adam([p], betas=(1.0, 0.9)),
                     "Invalid beta parameter at index 0: 1.0"),
                    (lambda: torch.optim.Adadelta([p], rho=1.5), "Invalid rho value: 1.5"),
                    (lambda: torch.optim.SGD([p * 2], lr=0.1), "can't optimize a non-leaf")]:
        with pytest.raises(ValueError, match=msg):
            fn()


def test_tensor_lr_is_accepted():
    p = ganglion.nn.Parameter(ganglion.ones(2))
    opt = optim.Adam([p], lr=ganglion.tensor(0.1))
    p.grad = ganglion.ones(2)
    opt.step()
    np.testing.assert_allclose(p.array, [0.9, 0.9], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(amsgrad=True), dict(weight_decay=0.1, maximize=True),
                                    dict(weight_decay=0.1, decoupled_weight_decay=True)])
def test_adam_nan_and_inf_propagate_as_torch(kwargs, jit_mode):
    # a NaN or inf gradient entry poisons its own elements (amsgrad's running max keeps the
    # NaN, as torch.maximum does) and no other
    init, grads = _data(np.float32, steps=6, shapes=[(7, 3)])
    grads[2][0][1, 1] = np.nan
    grads[3][0][4, 2] = np.inf
    grads[4][0][0, 0] = -np.inf
    with np.errstate(invalid="ignore"):
        gp = _run_and_compare("Adam", dict(lr=0.01, **kwargs), init, grads)
    assert np.isnan(gp[0].array[1, 1]) and np.isfinite(gp[0].array[6]).all()
