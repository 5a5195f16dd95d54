"""The ``ganglion`` command.

- ``ganglion demo``: trains a small CNN on scikit-learn's bundled 8x8 digits (real data, no
  download) with a progress bar, prints the test accuracy and confusion matrix, and saves the
  checkpoint and a learning-curve PNG.
- ``ganglion train``: a zoo model on a dataset (digits, MNIST, Fashion-MNIST, KMNIST,
  CIFAR-10/100 from a local directory), with the optimizer, learning rate, batch size and
  epochs you choose; writes the checkpoint, history CSV and learning curves.
- ``ganglion evaluate``: test accuracy and confusion matrix of a saved checkpoint.
- ``ganglion summary``: the layer table of a zoo model.

Example:
    $ ganglion demo --epochs 30
    $ ganglion train --model mnist_cnn --dataset mnist --data-dir ../shared/data/mnist
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import ganglion as G

__all__ = ["main", "run_demo", "run_training", "run_evaluation"]

_OPTIMIZERS = {"sgd": lambda p, lr: G.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
               "adam": lambda p, lr: G.optim.Adam(p, lr=lr),
               "adamw": lambda p, lr: G.optim.AdamW(p, lr=lr),
               "rmsprop": lambda p, lr: G.optim.RMSprop(p, lr=lr)}


def _build_model(name, info):
    from ganglion import models  # noqa: PLC0415

    return models.get_model(name, num_classes=info["num_classes"],
                            in_channels=info["in_channels"], image_size=info["image_size"])


def _confusion(trainer, test, num_classes):
    from ganglion.train import ConfusionMatrix  # noqa: PLC0415

    cm = ConfusionMatrix(num_classes=num_classes)
    x, y = test.tensors
    cm.update(trainer.predict(x, batch_size=512), y)
    return cm.compute().numpy()


def _print_confusion(cm, out):
    width = max(len(str(cm.max())), 3)
    print("confusion matrix (rows: true class, columns: predicted):", file=out)
    print("     " + " ".join(f"{j:>{width}d}" for j in range(cm.shape[1])), file=out)
    for i, row in enumerate(cm):
        print(f"{i:>4d} " + " ".join(f"{v:>{width}d}" for v in row), file=out)


def run_training(model_name, dataset, data_dir=None, epochs=10, optimizer="adam", lr=1e-3,
                 batch_size=64, out_dir="ganglion-run", seed=0, progress=True,
                 train_limit=None, out=sys.stdout, title="ganglion train", augment=0):
    """Train ``model_name`` on ``dataset``; returns (test accuracy, trainer, output dir)."""
    from ganglion.cli_data import ShiftCollate, load_tensors  # noqa: PLC0415
    from ganglion.train import CSVLogger, Trainer  # noqa: PLC0415
    from ganglion.utils.data import DataLoader  # noqa: PLC0415

    G.manual_seed(seed)
    np.random.seed(seed)
    train, test, info = load_tensors(dataset, data_dir, train_limit)
    model = _build_model(model_name, info)
    n_params = sum(p.numel() for p in model.parameters())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{title}: {model_name} ({n_params:,} parameters) on {dataset} "
          f"({len(train)} train / {len(test)} test), {optimizer} lr={lr}, batch {batch_size}, "
          f"{epochs} epochs" + (f", random shifts of up to {augment} px" if augment else ""),
          file=out)
    opt = _OPTIMIZERS[optimizer](model.parameters(), lr)
    sched = G.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    trainer = Trainer(model, opt, G.nn.CrossEntropyLoss(), metrics=["accuracy"],
                      scheduler=sched, callbacks=[CSVLogger(out_dir / "history.csv")],
                      progress=progress)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True,
                        generator=G.Generator().manual_seed(seed),
                        collate_fn=ShiftCollate(augment, seed) if augment else None)
    test_loader = DataLoader(test, batch_size=512)
    start = time.perf_counter()
    history = trainer.fit(loader, test_loader, epochs=epochs)
    seconds = time.perf_counter() - start
    acc = float(history.history["val_accuracy"][-1])
    cm = _confusion(trainer, test, info["num_classes"])
    G.save(model.state_dict(), out_dir / "model.safetensors")
    (out_dir / "run.json").write_text(json.dumps(
        {"model": model_name, "dataset": dataset, "epochs": epochs, "optimizer": optimizer,
         "lr": lr, "batch_size": batch_size, "seed": seed, "augment": augment,
         "test_accuracy": acc,
         "train_seconds": round(seconds, 1), **info}, indent=2))
    curves = _plot(history, out_dir / "learning_curves.png", out)
    print(f"test accuracy {acc:.4f} after {epochs} epochs in {seconds:.1f} s", file=out)
    if info["num_classes"] <= 20:
        _print_confusion(cm, out)
    print(f"saved {out_dir / 'model.safetensors'}, {out_dir / 'history.csv'}"
          + (f", {curves}" if curves else ""), file=out)
    return acc, trainer, out_dir


def _plot(history, path, out):
    try:
        history.plot(path)
    except ImportError as e:  # matplotlib missing: say so, keep the run's other results
        print(f"(no learning-curve PNG: {e})", file=out)
        return None
    return path


def run_demo(epochs=30, out_dir="ganglion-demo", seed=0, progress=True, out=sys.stdout):
    """The main job: a small CNN on the bundled 8x8 digits (random 1-pixel shifts as
    augmentation); returns the test accuracy."""
    acc, _, _ = run_training("small_cnn", "digits", epochs=epochs, optimizer="adam", lr=3e-3,
                             batch_size=32, out_dir=out_dir, seed=seed, progress=progress,
                             out=out, title="ganglion demo", augment=1)
    return acc


def run_evaluation(model_name, dataset, checkpoint, data_dir=None, out=sys.stdout):
    """Test accuracy (and confusion matrix) of a saved state_dict."""
    from ganglion.cli_data import load_tensors  # noqa: PLC0415
    from ganglion.train import Trainer  # noqa: PLC0415

    _, test, info = load_tensors(dataset, data_dir)
    model = _build_model(model_name, info)
    model.load_state_dict(G.load(checkpoint))
    trainer = Trainer(model, None, G.nn.CrossEntropyLoss(), metrics=["accuracy"],
                      progress=False)
    logs = trainer.evaluate(test.tensors, batch_size=512)
    print(f"{model_name} on {dataset} test: loss {logs['loss']:.4f}, accuracy "
          f"{logs['accuracy']:.4f}", file=out)
    if info["num_classes"] <= 20:
        _print_confusion(_confusion(trainer, test, info["num_classes"]), out)
    return logs["accuracy"]


def _parser():
    from ganglion.cli_data import DATASETS  # noqa: PLC0415
    from ganglion.models import MODELS  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="ganglion", description="ganglion: deep learning on "
                                "NumPy with PyTorch's API.")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a CNN on the bundled 8x8 digits (no download)")
    demo.add_argument("--epochs", type=int, default=30)
    demo.add_argument("--out", default="ganglion-demo", help="output directory")
    demo.add_argument("--seed", type=int, default=0)
    train = sub.add_parser("train", help="train a zoo model on a dataset")
    evaluate = sub.add_parser("evaluate", help="evaluate a saved checkpoint")
    for sp in (train, evaluate):
        sp.add_argument("--model", required=True, choices=sorted(MODELS))
        sp.add_argument("--dataset", required=True, choices=DATASETS)
        sp.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--optimizer", default="adam", choices=sorted(_OPTIMIZERS))
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--out", default="ganglion-run", help="output directory")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--augment", type=int, default=0, metavar="PX",
                       help="random shifts of up to PX pixels (0: none)")
    evaluate.add_argument("--checkpoint", required=True, help="a model.safetensors file")
    summary = sub.add_parser("summary", help="print a zoo model's layers and parameters")
    summary.add_argument("--model", required=True, choices=sorted(MODELS))
    summary.add_argument("--input-size", default=None,
                         help="comma-separated input shape, e.g. 1,3,32,32")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        run_demo(epochs=args.epochs, out_dir=args.out, seed=args.seed)
    elif args.command == "train":
        run_training(args.model, args.dataset, args.data_dir, args.epochs, args.optimizer,
                     args.lr, args.batch_size, args.out, args.seed, augment=args.augment)
    elif args.command == "evaluate":
        run_evaluation(args.model, args.dataset, args.checkpoint, args.data_dir)
    else:
        _summary(args.model, args.input_size)
    return 0


def _summary(name, input_size):
    from ganglion import models  # noqa: PLC0415
    from ganglion.nn import summary  # noqa: PLC0415

    shapes = {"small_cnn": (1, 1, 8, 8), "mnist_cnn": (1, 1, 28, 28), "mlp": (1, 1, 28, 28),
              "lenet5": (1, 1, 28, 28)}
    size = tuple(int(s) for s in input_size.split(",")) if input_size else \
        shapes.get(name, (1, 3, 32, 32))
    summary(models.get_model(name), input_size=size)


if __name__ == "__main__":
    raise SystemExit(main())
