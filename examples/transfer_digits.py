"""Transfer learning: pretrain a CNN on MNIST, fine-tune it on a few labelled 8x8 digits.

The source task is MNIST (60,000 28x28 digits); the target is scikit-learn's 8x8 digits
(another writer population, scanned at another resolution), resized to MNIST's layout: the
8x8 image is upsampled (bilinear) to 20x20 and padded by 4 pixels to 28x28, since MNIST
digits sit in a 20x20 box at the centre of the 28x28 frame (``--layout stretch`` resizes to
28x28 directly). Both are ink-on-black in [0, 1] and are normalised with MNIST's training
mean and std, the input statistics the pretrained network expects.

Only ``k`` labelled digits per class are used, drawn per seed from the fixed training part
(first 1,437 digits); every setting is evaluated on the fixed held-out part (last 360):

- ``zero-shot``: the MNIST classifier as it is (its own head), no digits labels at all;
- ``scratch``: the same architecture, random init, trained on the k-shot labels
  (``stage1 + stage2`` steps, Adam lr 1e-3);
- ``frozen-head``: the pretrained body frozen (``requires_grad_(False)``), a new head trained
  alone (``stage1`` steps, Adam lr 1e-2): a linear probe of the pretrained features;
- ``staged``: the frozen-head model, then everything unfrozen and trained ``stage2`` more
  steps with two optimizer parameter groups: the head at 1e-3, the pretrained body at 1e-4.

The hyperparameters (``DEFAULTS``) were chosen with a few trials on a validation split
(``--validate``: the training-part digits that were not drawn), never on the test part; the
results hardly moved across those trials.
The pretrained weights are cached as a safetensors file (``ganglion.io.save``) in a temporary
folder, so later runs skip pretraining.

Run: ``python examples/transfer_digits.py [--shots 1 5 10 50] [--seeds 5] [--model lenet5]``
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import ganglion
import ganglion.nn.functional as F
from ganglion import models, nn
from ganglion.cli_data import load_tensors
from ganglion.data import Digits
from ganglion.data.download import find_data_root
from ganglion.models.transfer import freeze, param_groups, unfreeze
from ganglion.train import Trainer

HEADS = {"lenet5": "fc3", "mnist_cnn": "7"}  # the name of each model's classifier layer


def build(name: str):
    if name not in HEADS:
        raise ValueError(f"transfer_digits: unknown model {name!r}; choose one of {list(HEADS)}")
    return models.get_model(name)


def load_mnist(root, train_limit=None):
    """MNIST train and test tensors normalised with the training mean/std, and those stats."""
    train, test, info = load_tensors("mnist", root, train_limit=train_limit)
    return train.tensors, test.tensors, (info["mean"][0], info["std"][0])


def digits_to_mnist(images: np.ndarray, mean: float, std: float, layout: str = "pad"):
    """(N, 8, 8) uint8 digits -> (N, 1, 28, 28) float32 in MNIST's layout and normalisation.

    Example:
        >>> x = digits_to_mnist(np.full((2, 8, 8), 255, np.uint8), 0.0, 1.0)
        >>> tuple(x.shape), float(x[0, 0, 0, 0]), float(x[0, 0, 14, 14])
        ((2, 1, 28, 28), 0.0, 1.0)
    """
    if layout not in ("pad", "stretch"):
        raise ValueError(f"digits_to_mnist: layout must be 'pad' or 'stretch', got {layout!r}")
    x = ganglion.from_numpy(images.astype(np.float32)[:, None] / 255.0)
    if layout == "pad":  # MNIST: the digit fills a 20x20 box centred in the 28x28 frame
        x = F.pad(F.interpolate(x, size=(20, 20), mode="bilinear"), (4, 4, 4, 4))
    else:
        x = F.interpolate(x, size=(28, 28), mode="bilinear")
    return (x - mean) / std


def few_labels(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` random samples of each class (without replacement), shuffled."""
    counts = np.bincount(labels)
    if not 1 <= k <= counts.min():
        raise ValueError(f"few_labels: k must be in 1..{counts.min()} (the smallest class has "
                         f"{counts.min()} samples), got {k}")
    picks = [rng.choice(np.flatnonzero(labels == c), k, replace=False)
             for c in np.unique(labels)]
    return rng.permutation(np.concatenate(picks))


def accuracy(model, x, y, batch_size: int = 1000) -> float:
    model.eval()
    with ganglion.no_grad():
        pred = np.concatenate([model(x[i:i + batch_size]).argmax(1).numpy()
                               for i in range(0, len(x), batch_size)])
    model.train()
    return float((pred == y.numpy()).mean())


def train_steps(model, optimizer, x, y, steps: int, batch_size: int, rng) -> list[float]:
    """``steps`` optimizer steps on random minibatches (the whole set when it is smaller)."""
    losses = []
    n = len(x)
    for _ in range(steps):
        idx = ganglion.from_numpy(rng.choice(n, min(n, batch_size), replace=False))
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def pretrain(name, mnist, epochs: int, seed: int = 0, lr: float = 2e-3, batch_size: int = 64):
    """Train ``name`` on MNIST; returns the model and its MNIST test accuracy."""
    (xtr, ytr), (xte, yte), _ = mnist
    ganglion.manual_seed(seed)
    model = build(name)
    trainer = Trainer(model, ganglion.optim.Adam(model.parameters(), lr=lr),
                      nn.CrossEntropyLoss(), progress=False)
    trainer.fit((xtr, ytr), epochs=epochs, batch_size=batch_size)
    return model, accuracy(model, xte, yte)


def pretrained(name, root, epochs, cache_dir, train_limit=None):
    """``(checkpoint, mnist, path, seconds)``: the MNIST-pretrained checkpoint (``"model"``, its
    state_dict; ``"mnist_test_accuracy"``; ``"seconds"``, the CPU time it took), read from the
    safetensors cache at ``path`` or trained now (``seconds`` is 0.0 when it was cached)."""
    mnist = load_mnist(root, train_limit)
    path = os.path.join(cache_dir, f"{name}_mnist_e{epochs}_n{train_limit or 'all'}.safetensors")
    if os.path.exists(path):
        ckpt = ganglion.io.load(path)
        return ckpt, mnist, path, 0.0
    start = time.process_time()  # CPU time: meaningful on a shared machine
    model, acc = pretrain(name, mnist, epochs)
    seconds = time.process_time() - start
    ckpt = {"model": model.state_dict(), "mnist_test_accuracy": acc, "seconds": seconds}
    os.makedirs(cache_dir, exist_ok=True)
    ganglion.io.save(ckpt, path)
    return ganglion.io.load(path), mnist, path, seconds  # what later runs will see


# Chosen on the validation split (``--validate``), never on the test part.
DEFAULTS = {"stage1": 100, "stage2": 200, "probe_lr": 1e-2, "head_lr": 1e-3, "body_lr": 1e-4,
            "scratch_lr": 1e-3, "batch_size": 64}


def new_head(model, head: str):
    """Replace the classifier ``head`` with a freshly initialised Linear of the same shape and
    freeze everything else (``requires_grad_(False)``); returns the new head."""
    old = model.get_submodule(head)
    layer = nn.Linear(old.in_features, old.out_features)
    model.set_submodule(head, layer)
    freeze(model, exclude=head)
    return layer


def train_head(model, x, y, rng, hp):
    """Stage 1: train only what is trainable (the new head) on the frozen pretrained body."""
    opt = ganglion.optim.Adam([p for p in model.parameters() if p.requires_grad],
                              lr=hp["probe_lr"])
    return train_steps(model, opt, x, y, hp["stage1"], hp["batch_size"], rng)


def stage_unfrozen(model, head: str, x, y, rng, hp):
    """Stage 2: everything trainable, the pretrained body at a lower learning rate."""
    unfreeze(model)
    groups = param_groups(model, {head: {"lr": hp["head_lr"]}}, lr=hp["body_lr"])
    opt = ganglion.optim.Adam(groups)
    return train_steps(model, opt, x, y, hp["stage2"], hp["batch_size"], rng)


def run_seed(name, state, train, test, k, seed, hp=None, validate=False):
    """The test accuracies of the three trained settings for one draw of ``k`` labels.

    ``hp`` overrides entries of ``DEFAULTS``. With ``validate``, the accuracies are measured
    on the training-part digits that were not drawn instead of the test part: the split used
    to choose the hyperparameters.
    """
    hp = {**DEFAULTS, **(hp or {})}
    (xd, yd), (xt, yt) = train, test
    rng = np.random.default_rng(seed)
    picked = few_labels(yd.numpy(), k, rng)
    idx = ganglion.from_numpy(picked)
    x, y = xd[idx], yd[idx]
    if validate:
        rest = ganglion.from_numpy(np.setdiff1d(np.arange(len(yd)), picked))
        xt, yt = xd[rest], yd[rest]
    head = HEADS[name]
    ganglion.manual_seed(seed)
    scratch = build(name)
    opt = ganglion.optim.Adam(scratch.parameters(), lr=hp["scratch_lr"])
    train_steps(scratch, opt, x, y, hp["stage1"] + hp["stage2"], hp["batch_size"], rng)
    model = build(name)
    model.load_state_dict(state)
    new_head(model, head)
    train_head(model, x, y, rng, hp)
    frozen = accuracy(model, xt, yt)
    stage_unfrozen(model, head, x, y, rng, hp)
    return {"scratch": accuracy(scratch, xt, yt), "frozen-head": frozen,
            "staged": accuracy(model, xt, yt)}


def digits_tensors(mean, std, layout):
    out = []
    for train in (True, False):
        ds = Digits(train=train)
        out.append((digits_to_mnist(ds.data.numpy(), mean, std, layout), ds.targets))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="lenet5", choices=sorted(HEADS))
    ap.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10, 50])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--pretrain-epochs", type=int, default=2)
    ap.add_argument("--layout", default="pad", choices=["pad", "stretch"])
    ap.add_argument("--stage1", type=int, default=100, help="head-only steps")
    ap.add_argument("--stage2", type=int, default=200, help="unfrozen steps")
    ap.add_argument("--validate", action="store_true",
                    help="evaluate on the undrawn training-part digits (for tuning), not test")
    ap.add_argument("--data-dir", default=find_data_root("mnist"))
    ap.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(),
                                                        "ganglion-transfer"))
    args = ap.parse_args(argv)
    if args.data_dir is None:
        raise SystemExit("transfer_digits: MNIST not found; pass --data-dir (the IDX files)")
    ckpt, mnist, path, seconds = pretrained(args.model, args.data_dir, args.pretrain_epochs,
                                            args.cache_dir)
    note = "trained now" if seconds else "loaded from the cache"
    print(f"pretrained {args.model} ({args.pretrain_epochs} epochs in {ckpt['seconds']:.0f} CPU s, "
          f"{note}): MNIST test accuracy {ckpt['mnist_test_accuracy']:.4f}, weights {path}")
    train, test = digits_tensors(*mnist[2], args.layout)
    zero = build(args.model)
    zero.load_state_dict(ckpt["model"])
    print(f"zero-shot (MNIST head, no digits labels): {accuracy(zero, *test):.4f} on the "
          f"{len(test[1])} held-out digits")
    print("\n| labels per class | scratch | frozen-head | staged fine-tune |")
    print("| --- | --- | --- | --- |")
    for k in args.shots:
        start = time.process_time()
        hp = {"stage1": args.stage1, "stage2": args.stage2}
        runs = [run_seed(args.model, ckpt["model"], train, test, k, seed, hp, args.validate)
                for seed in range(args.seeds)]
        cells = [f"{100 * np.mean([r[s] for r in runs]):.1f} ± "
                 f"{100 * np.std([r[s] for r in runs]):.1f}"
                 for s in ("scratch", "frozen-head", "staged")]
        print(f"| {k} | " + " | ".join(cells) + f" |  ({time.process_time() - start:.0f} CPU s)",
              flush=True)


if __name__ == "__main__":
    main()
