"""Trainer.fit/evaluate/predict: the loop against a hand-written torch loop, mode switching,
schedulers, accumulation and clipping, errors."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
import ganglion.optim as optim
from ganglion.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from ganglion.train import LambdaCallback, Trainer
from ganglion.utils.data import DataLoader, TensorDataset

from ._models import MLP, blobs

torch = pytest.importorskip("torch")


def _torch_loop(model, x, y, epochs, batch, lr, k=1, clip_norm=None, clip_value=None,
                step_size=None):
    """The textbook torch loop Trainer should reproduce, on the same batches and weights."""
    params = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in model.parameters()]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size, 0.5) if step_size else None
    tx, ty = torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())
    n_batches = -(-len(tx) // batch)
    epoch_losses = []
    for _ in range(epochs):
        total = 0.0
        for i in range(n_batches):
            xb, yb = tx[i * batch:(i + 1) * batch], ty[i * batch:(i + 1) * batch]
            h = torch.relu(torch.nn.functional.linear(xb, params[0], params[1]))
            loss = torch.nn.functional.cross_entropy(
                torch.nn.functional.linear(h, params[2], params[3]), yb)
            (loss / k).backward()
            total += loss.item() * len(yb)
            if (i + 1) % k == 0 or i == n_batches - 1:
                if clip_value:
                    torch.nn.utils.clip_grad_value_(params, clip_value)
                if clip_norm:
                    torch.nn.utils.clip_grad_norm_(params, clip_norm)
                opt.step()
                opt.zero_grad()
                if sched:
                    sched.step()
        epoch_losses.append(total / len(tx))
    return [p.detach().numpy() for p in params], epoch_losses


@pytest.mark.parametrize("k,clip_norm,clip_value,step_size", [
    (1, None, None, None), (2, 0.5, None, 2), (3, None, 0.05, None)])
def test_fit_matches_torch_loop(k, clip_norm, clip_value, step_size):
    x, y = blobs(n=50)
    model = MLP(4, 8, 3)
    expected, losses = _torch_loop(model, x, y, 2, 10, 0.1, k, clip_norm, clip_value, step_size)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = StepLR(opt, step_size, 0.5) if step_size else None
    trainer = Trainer(model, opt, F.cross_entropy, scheduler=sched, scheduler_interval="batch",
                      grad_accumulation_steps=k, grad_clip_norm=clip_norm,
                      grad_clip_value=clip_value, progress=False)
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=10), epochs=2)
    for p, q in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.detach().numpy(), q, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(history.history["train_loss"], losses, rtol=1e-5)
    assert trainer.global_step == 2 * -(-5 // k)


def test_fit_learns_and_evaluate_predict():
    x, y = blobs()
    model = MLP(4, 16, 3)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.02), F.cross_entropy,
                      metrics=["accuracy", "f1"], progress=False)
    history = trainer.fit((x, y), val=(x, y), epochs=8, batch_size=16)
    assert list(history.history) == ["train_loss", "train_accuracy", "train_f1", "val_loss",
                                     "val_accuracy", "val_f1", "lr"]
    assert all(len(v) == 8 for v in history.history.values())
    assert history.history["val_accuracy"][-1] > 0.9
    result = trainer.evaluate((x, y), batch_size=7)  # uneven batches: sample-weighted mean
    with torch.no_grad():
        ref_logits = torch.from_numpy(model(x).detach().numpy())
    ref_loss = torch.nn.functional.cross_entropy(ref_logits, torch.from_numpy(y.numpy()))
    assert result["loss"] == pytest.approx(ref_loss.item(), rel=1e-5)
    assert result["accuracy"] == pytest.approx(
        (ref_logits.argmax(1).numpy() == y.numpy()).mean())
    assert result["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-5)
    pred = trainer.predict(x, batch_size=10)
    assert tuple(pred.shape) == (96, 3) and not pred.requires_grad
    np.testing.assert_allclose(pred.numpy(), ref_logits.numpy(), atol=1e-6)


def test_train_eval_modes_and_grad_mode():
    seen = []

    class Spy(MLP):
        def forward(self, x):
            seen.append((self.training, ganglion.is_grad_enabled()))
            return super().forward(x)

    x, y = blobs(n=20)
    model = Spy(4, 5, 3)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy,
                      progress=False)
    trainer.fit((x, y), val=(x, y), epochs=2, batch_size=10)
    assert seen == [(True, True)] * 2 + [(False, False)] * 2 + [(True, True)] * 2 + \
        [(False, False)] * 2
    assert model.training  # evaluate leaves the mode as it found it
    model.eval()
    trainer.evaluate((x, y))
    assert not model.training


def test_reduce_lr_on_plateau_gets_val_metric():
    steps = []

    class SpyPlateau(ReduceLROnPlateau):
        def step(self, metrics):
            steps.append(metrics)
            super().step(metrics)

    x, y = blobs(n=20)
    model = MLP(4, 5, 3)
    opt = optim.SGD(model.parameters(), lr=1e-6)  # tiny steps: val_loss plateaus at once
    trainer = Trainer(model, opt, F.cross_entropy, progress=False,
                      scheduler=SpyPlateau(opt, patience=0, factor=0.5))
    history = trainer.fit([(x, y)], val=[(x, y)], epochs=3)
    assert steps == history.history["val_loss"]
    # The reduction after epoch 1 shows in the lr epoch 2 trains with.
    assert history.history["lr"] == pytest.approx([1e-6, 1e-6, 5e-7])


def test_stop_training_from_batch_callback():
    x, y = blobs(n=40)
    model = MLP(4, 5, 3)

    def stop(batch, logs):
        if batch == 1:
            trainer.stop_training = True

    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy,
                      callbacks=[LambdaCallback(on_batch_end=stop)], progress=False)
    history = trainer.fit((x, y), epochs=5, batch_size=10)
    assert len(history) == 1 and trainer.global_step == 2


def test_multi_input_models_and_batches_without_len():
    class TwoInputs(MLP):
        def forward(self, a, b):
            return super().forward(a + b)

    x, y = blobs(n=20)
    model = TwoInputs(4, 5, 3)
    batches = (((x[i:i + 5], x[i:i + 5]), y[i:i + 5]) for i in range(0, 20, 5))
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy,
                      metrics="accuracy", progress=False)
    history = trainer.fit(batches, epochs=1)
    assert 0.0 <= history.history["train_accuracy"][0] <= 1.0


def test_errors():
    x, y = blobs(n=10)
    model = MLP(4, 5, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(model, opt, F.cross_entropy, scheduler_interval="step")
    with pytest.raises(ValueError, match="grad_accumulation_steps"):
        Trainer(model, opt, F.cross_entropy, grad_accumulation_steps=0)
    with pytest.raises(ValueError, match="unique"):
        Trainer(model, opt, F.cross_entropy, metrics=["accuracy", "acc"])
    with pytest.raises(ValueError, match="unknown metric"):
        Trainer(model, opt, F.cross_entropy, metrics=["acurracy"])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        Trainer(model, opt, F.cross_entropy, scheduler=ReduceLROnPlateau(opt),
                scheduler_interval="batch")
    trainer = Trainer(model, opt, F.cross_entropy, progress=False)
    with pytest.raises(TypeError, match=r"\(inputs, targets\) pair, got a list of length 3"):
        trainer.fit([[x, y, y]])
    with pytest.raises(TypeError, match="DataLoader"):
        trainer.fit(42)
