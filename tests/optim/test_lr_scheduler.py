"""ganglion.optim.lr_scheduler stepped side by side with torch.optim.lr_scheduler: the same
optimizer lr (and momentum/beta1) trajectory, state dicts and errors."""
import math
import warnings

import numpy as np
import pytest

import ganglion
from ganglion import optim
from ganglion.optim import lr_scheduler as GL

torch = pytest.importorskip("torch")
TL = torch.optim.lr_scheduler
STEPS = 120


def _opts(kind="SGD"):
    """The same two-group optimizer in both libraries."""
    gps = [ganglion.nn.Parameter(ganglion.zeros(2)) for _ in range(2)]
    tps = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
    kw = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.01)}[kind]
    gopt = getattr(optim, kind)([{"params": gps[:1]}, {"params": gps[1:], "lr": 0.05}], **kw)
    topt = getattr(torch.optim, kind)([{"params": tps[:1]}, {"params": tps[1:], "lr": 0.05}],
                                      **kw)
    return gopt, topt


# (id, optimizer kind, factory(L, opt) building the scheduler with module L = either library)
SCHEDULERS = [
    ("lambda", "SGD", lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e)),
    ("lambda-list", "SGD", lambda L, o: L.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)])),
    ("multiplicative", "SGD", lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97)),
    ("step", "SGD", lambda L, o: L.StepLR(o, step_size=7, gamma=0.5)),
    ("multistep", "SGD", lambda L, o: L.MultiStepLR(o, milestones=[10, 30, 30, 80], gamma=0.5)),
    ("constant", "SGD", lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=20)),
    ("linear", "SGD", lambda L, o: L.LinearLR(o, start_factor=0.2, end_factor=0.9,
                                              total_iters=40)),
    ("exponential", "SGD", lambda L, o: L.ExponentialLR(o, gamma=0.97)),
    ("polynomial", "SGD", lambda L, o: L.PolynomialLR(o, total_iters=50, power=2.0)),
    ("cosine", "SGD", lambda L, o: L.CosineAnnealingLR(o, T_max=25, eta_min=0.001)),
    ("warm-restarts", "SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2,
                                                                        eta_min=0.01)),
    ("warm-restarts-1", "SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7)),
    ("sequential", "SGD", lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=10), L.CosineAnnealingLR(o, T_max=50)],
        milestones=[10])),
    ("sequential-3", "SGD", lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.5, total_iters=5), L.ExponentialLR(o, gamma=0.9),
            L.StepLR(o, step_size=10)], milestones=[15, 60])),
    ("chained", "SGD", lambda L, o: L.ChainedScheduler(
        [L.ExponentialLR(o, gamma=0.99), L.StepLR(o, step_size=10, gamma=0.5)])),
    ("onecycle-cos", "SGD", lambda L, o: L.OneCycleLR(o, max_lr=[0.5, 1.0], total_steps=121)),
    ("onecycle-linear-3", "SGD", lambda L, o: L.OneCycleLR(
        o, max_lr=1.0, epochs=11, steps_per_epoch=11, anneal_strategy="linear",
        three_phase=True, pct_start=0.25)),
    ("onecycle-adam", "Adam", lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=150,
                                                        base_momentum=0.8, div_factor=10.0)),
    ("onecycle-nomomentum", "Adam", lambda L, o: L.OneCycleLR(o, max_lr=0.1, total_steps=130,
                                                              cycle_momentum=False)),
    ("cyclic-triangular", "SGD", lambda L, o: L.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=9,
                                                         step_size_down=5)),
    ("cyclic-triangular2", "SGD", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=10,
                                                          mode="triangular2")),
    ("cyclic-exp-range", "Adam", lambda L, o: L.CyclicLR(o, 0.001, 0.01, step_size_up=8,
                                                         mode="exp_range", gamma=0.99)),
    ("cyclic-scale-fn", "SGD", lambda L, o: L.CyclicLR(
        o, 0.01, 0.1, step_size_up=6, scale_fn=lambda x: 1 / (1 + 0.05 * x),
        scale_mode="iterations", base_momentum=[0.7, 0.75], max_momentum=0.95)),
    ("cyclic-no-momentum", "SGD", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4,
                                                          cycle_momentum=False)),
]
SCHED_IDS = [s[0] for s in SCHEDULERS]


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _check_same(gsched, tsched, gopt, topt, where):
    assert gsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12), where
    assert [g["lr"] for g in gopt.param_groups] == pytest.approx(
        [g["lr"] for g in topt.param_groups], rel=1e-12), where
    assert _momenta(gopt) == pytest.approx(_momenta(topt), rel=1e-12), where


def _step_both(gsched, tsched, gopt, topt, n, start=0):
    for k in range(start, start + n):
        gopt.step()
        topt.step()
        gsched.step()
        tsched.step()
        _check_same(gsched, tsched, gopt, topt, f"step {k}")


@pytest.mark.parametrize("name,kind,make", SCHEDULERS, ids=SCHED_IDS)
def test_lr_trajectory_matches_torch(name, kind, make):
    gopt, topt = _opts(kind)
    gsched, tsched = make(GL, gopt), make(TL, topt)
    _check_same(gsched, tsched, gopt, topt, "construction")
    assert [g.get("initial_lr") for g in gopt.param_groups] == pytest.approx(
        [g.get("initial_lr") for g in topt.param_groups])
    _step_both(gsched, tsched, gopt, topt, STEPS)


@pytest.mark.parametrize("name,kind,make", SCHEDULERS, ids=SCHED_IDS)
def test_state_dict_round_trip(name, kind, make):
    gopt, topt = _opts(kind)
    gsched, tsched = make(GL, gopt), make(TL, topt)
    _step_both(gsched, tsched, gopt, topt, 50)
    gsd, tsd = gsched.state_dict(), tsched.state_dict()
    assert set(gsd) == set(tsd)
    if "_schedulers" in tsd:
        assert [set(s) for s in gsd["_schedulers"]] == [set(s) for s in tsd["_schedulers"]]
    # a fresh optimizer + scheduler that loads both state dicts continues like torch's
    gopt2, _ = _opts(kind)
    gsched2 = make(GL, gopt2)
    gopt2.load_state_dict(gopt.state_dict())
    gsched2.load_state_dict(gsd)
    _step_both(gsched2, tsched, gopt2, topt, 70, start=50)


@pytest.mark.parametrize("make,epochs", [
    (lambda L, o: L.StepLR(o, step_size=3, gamma=0.5), [1, 2, 5, 9, 4]),
    (lambda L, o: L.MultiStepLR(o, milestones=[2, 6, 6], gamma=0.5), [1, 3, 7, 2]),
    (lambda L, o: L.ExponentialLR(o, gamma=0.9), [3, 1, 10]),
    (lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.01), [3, 12, 7]),
    (lambda L, o: L.LinearLR(o, start_factor=0.3, total_iters=6), [2, 9, 4]),
    (lambda L, o: L.ConstantLR(o, factor=0.3, total_iters=6), [2, 9, 4]),
    (lambda L, o: L.PolynomialLR(o, total_iters=8, power=0.5), [2, 9, 4]),
    (lambda L, o: L.LambdaLR(o, lambda e: 1.0 / (e + 1)), [2, 9, 4]),
])
def test_step_with_epoch_uses_closed_form(make, epochs):
    gopt, topt = _opts()
    gsched, tsched = make(GL, gopt), make(TL, topt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for e in epochs:
            gopt.step()
            topt.step()
            gsched.step(e)
            tsched.step(e)
            _check_same(gsched, tsched, gopt, topt, f"epoch {e}")


def test_warm_restarts_fractional_epochs():
    gopt, topt = _opts()
    gsched = GL.CosineAnnealingWarmRestarts(gopt, T_0=5, T_mult=2, eta_min=0.001)
    tsched = TL.CosineAnnealingWarmRestarts(topt, T_0=5, T_mult=2, eta_min=0.001)
    iters = 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in range(20):
            for i in range(iters):
                gopt.step()
                topt.step()
                gsched.step(epoch + i / iters)
                tsched.step(epoch + i / iters)
                _check_same(gsched, tsched, gopt, topt, f"epoch {epoch} iter {i}")
    with pytest.raises(ValueError, match="Expected non-negative epoch"):
        gsched.step(-1)


def _metrics(seed, n=STEPS):
    rng = np.random.default_rng(seed)
    base = 1.0 / (1.0 + 0.05 * np.minimum(np.arange(n), 40))  # improves, then plateaus
    return base + 0.002 * rng.standard_normal(n)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(patience=3, factor=0.5),
    dict(mode="max", patience=2, factor=0.5, threshold=1e-3),
    dict(threshold_mode="abs", threshold=0.01, patience=2, cooldown=3, factor=0.3),
    dict(mode="max", threshold_mode="abs", patience=0, min_lr=[0.02, 0.001], factor=0.5),
    dict(patience=1, factor=0.5, min_lr=0.004, eps=1e-3),
])
def test_reduce_lr_on_plateau_matches_torch(kw):
    gopt, topt = _opts()
    gsched = GL.ReduceLROnPlateau(gopt, **kw)
    tsched = TL.ReduceLROnPlateau(topt, **kw)
    metrics = _metrics(0)
    if kw.get("mode") == "max":
        metrics = -metrics
    for k, m in enumerate(metrics):
        gsched.step(float(m))
        tsched.step(float(m))
        _check_same(gsched, tsched, gopt, topt, f"step {k}")
        if k == 60:  # state dict round trip halfway
            gsd, tsd = gsched.state_dict(), tsched.state_dict()
            assert set(gsd) == set(tsd)
            gopt2, _ = _opts()
            gsched2 = GL.ReduceLROnPlateau(gopt2)
            gopt2.load_state_dict(gopt.state_dict())
            gsched2.load_state_dict(gsd)
            gsched, gopt = gsched2, gopt2
    assert gsched.best == pytest.approx(tsched.best)
    assert gsched.num_bad_epochs == tsched.num_bad_epochs


def test_reduce_lr_on_plateau_accepts_tensor_metric():
    gopt, _ = _opts()
    sched = GL.ReduceLROnPlateau(gopt, patience=0)
    sched.step(ganglion.tensor(1.0))
    sched.step(ganglion.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.005])


def test_warns_when_scheduler_steps_before_optimizer():
    gopt, topt = _opts()
    gsched, tsched = GL.StepLR(gopt, 2), TL.StepLR(topt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        tsched.step()
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        gsched.step()


def test_tensor_lr_is_updated_in_place():
    p = ganglion.nn.Parameter(ganglion.zeros(1))
    lr = ganglion.tensor(0.5)
    opt = optim.SGD([p], lr=lr)
    sched = GL.ExponentialLR(opt, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and float(lr) == 0.25
    assert float(opt.param_groups[0]["initial_lr"]) == 0.5


@pytest.mark.parametrize("make,exc,msg", [
    (lambda o: GL.StepLR(object(), 1), TypeError, "object is not an Optimizer"),
    (lambda o: GL.StepLR(o, 1, last_epoch=3), KeyError, "initial_lr"),
    (lambda o: GL.ConstantLR(o, factor=2.0), ValueError, "between 0 and 1"),
    (lambda o: GL.LinearLR(o, start_factor=0.0), ValueError, "greater than 0"),
    (lambda o: GL.LambdaLR(o, [lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: GL.MultiplicativeLR(o, 3.0), TypeError, "lr_lambda should be a function"),
    (lambda o: GL.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: GL.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
    (lambda o: GL.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs"),
    (lambda o: GL.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "positive integer T_0"),
    (lambda o: GL.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "T_mult >= 1"),
    (lambda o: GL.OneCycleLR(o, max_lr=1.0), ValueError, "either total_steps OR"),
    (lambda o: GL.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=2.0), ValueError,
     "pct_start"),
    (lambda o: GL.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="x"), ValueError,
     "anneal_strategy"),
    (lambda o: GL.OneCycleLR(o, max_lr=[1.0], total_steps=5), ValueError,
     "max_lr must have the same length"),
    (lambda o: GL.CyclicLR(o, 0.1, 1.0, mode="zigzag"), ValueError, "mode is invalid"),
    (lambda o: GL.SequentialLR(o, [GL.StepLR(o, 2)], milestones=[3]), ValueError,
     "one more than the number of milestone"),
    (lambda o: GL.ChainedScheduler([GL.ReduceLROnPlateau(o)]), ValueError,
     "does not support `ReduceLROnPlateau`"),
    (lambda o: GL.SequentialLR(o, [], milestones=[]), ValueError, "at least one scheduler"),
])
def test_validation_errors(make, exc, msg):
    gopt, _ = _opts()
    with pytest.raises(exc, match=msg):
        make(gopt)


def test_onecycle_too_many_steps_and_cycle_momentum_requirement():
    gopt, topt = _opts()
    gs = GL.OneCycleLR(gopt, max_lr=1.0, total_steps=3)
    ts = TL.OneCycleLR(topt, max_lr=1.0, total_steps=3)
    _step_both(gs, ts, gopt, topt, 2)
    gopt.step()
    gs.step()  # step 3 == total_steps is still allowed, as in torch
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        gs.step()
    p = ganglion.nn.Parameter(ganglion.zeros(1))
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        GL.CyclicLR(optim.Adagrad([p]), 0.1, 1.0)


def test_cosine_matches_closed_form_values():
    # independent of torch: the recursive form reproduces the closed form at every epoch
    gopt, _ = _opts()
    sched = GL.CosineAnnealingLR(gopt, T_max=10, eta_min=0.0)
    for e in range(1, 10):
        gopt.step()
        sched.step()
        assert sched.get_last_lr()[0] == pytest.approx(0.1 * (1 + math.cos(math.pi * e / 10)) / 2)
