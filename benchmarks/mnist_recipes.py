"""MNIST with the same recipe in ganglion and in PyTorch: test accuracy and wall time.

Recipes (issue 3's results): the CNN (``models.MnistCNN``: conv3x3(32)-conv3x3(64)-maxpool-
fc128, the PyTorch example's network) and the MLP (``models.MLP``: 784-512-256-10, dropout
0.2). Adam, cosine learning-rate decay, batch 128, random 1-pixel shifts, inputs normalised
with the training set's mean and std. The torch side uses the same data tensors, the same
shift augmentation and equivalent torch.nn modules.

Run: python benchmarks/mnist_recipes.py [--model cnn|mlp|both] [--epochs N] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import ganglion
from ganglion.cli_data import ShiftCollate, load_tensors

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def torch_model(name):
    import torch.nn as tnn  # noqa: PLC0415

    if name == "cnn":
        return tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.Conv2d(32, 64, 3), tnn.ReLU(),
                              tnn.MaxPool2d(2), tnn.Dropout(0.25), tnn.Flatten(),
                              tnn.Linear(9216, 128), tnn.ReLU(), tnn.Dropout(0.5),
                              tnn.Linear(128, 10))
    return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Dropout(0.2),
                          tnn.Linear(512, 256), tnn.ReLU(), tnn.Dropout(0.2),
                          tnn.Linear(256, 10))


def ganglion_model(name):
    from ganglion import models  # noqa: PLC0415

    return models.MnistCNN() if name == "cnn" else models.MLP(784, [512, 256], 10, dropout=0.2)


def evaluate(lib, model, test_set):
    """Test accuracy of ``model`` (eval mode, no_grad, batches of 1000)."""
    model.eval()
    xt, yt = (t.numpy() for t in test_set.tensors)
    with lib.no_grad():
        pred = np.concatenate([model(lib.from_numpy(xt[i:i + 1000])).numpy().argmax(1)
                               for i in range(0, len(xt), 1000)])
    return float((pred == yt).mean())


def train(lib, name, train_set, test_set, epochs, batch_size=128, lr=1e-3, seed=0,
          target=None):
    """One recipe in one library; returns (test accuracy, training seconds, epochs run).

    With ``target``, the test accuracy is measured after every epoch (not counted in the
    seconds) and training stops at the first epoch that reaches it; the schedule is still the
    ``epochs``-long cosine, so the recipe is the same whether or not it stops early.
    """
    lib.manual_seed(seed)
    model = ganglion_model(name) if lib is ganglion else torch_model(name)
    opt = lib.optim.Adam(model.parameters(), lr=lr)
    sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    x, y = (t.numpy() for t in train_set.tensors)
    shift = ShiftCollate(1, seed)
    rng = np.random.default_rng(seed)
    loss_fn = lib.nn.functional.cross_entropy
    seconds, acc = 0.0, None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = shift([(ganglion.from_numpy(x[j]), ganglion.tensor(y[j])) for j in idx])
            xb, yb = lib.from_numpy(xb.numpy()), lib.from_numpy(yb.numpy())
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        seconds += time.perf_counter() - start
        if target is not None or epoch == epochs:
            acc = evaluate(lib, model, test_set)
            if target is not None and acc >= target:
                break
    return acc, seconds, epoch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="both", choices=["cnn", "mlp", "both"])
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--data-dir", default=str(DATA))
    p.add_argument("--libs", default="ganglion,torch")
    args = p.parse_args()
    import torch  # noqa: PLC0415

    torch.set_num_threads(2)
    train_set, test_set, _ = load_tensors("mnist", args.data_dir)
    libs = [ganglion if n == "ganglion" else torch for n in args.libs.split(",")]
    for name in (["cnn", "mlp"] if args.model == "both" else [args.model]):
        epochs = args.epochs or (8 if name == "cnn" else 12)
        for lib in libs:
            acc, sec, _ = train(lib, name, train_set, test_set, epochs)
            print(f"{name} {lib.__name__:8s} epochs {epochs}: test accuracy {acc:.4f}, "
                  f"train time {sec:.0f} s", flush=True)


if __name__ == "__main__":
    main()
