"""Callbacks (early stopping, checkpoints, CSV, TensorBoard, lr), History, progress and plots."""
import csv
import io
import sys

import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
import ganglion.optim as optim
from ganglion.optim.lr_scheduler import StepLR
from ganglion.train import (Callback, CSVLogger, EarlyStopping, History, LearningRateMonitor,
                            ModelCheckpoint, TensorBoard, TerminateOnNaN, Trainer, plot_history)
from ganglion.train._state import load_checkpoint
from ganglion.utils.data import DataLoader, TensorDataset

from ._models import MLP, blobs


class Snapshots(Callback):
    """Keeps a copy of the weights after every epoch."""

    def __init__(self):
        self.states = []

    def on_epoch_end(self, epoch, logs=None):
        self.states.append({k: v.detach().numpy().copy()
                            for k, v in self.model.state_dict().items()})


def _trainer(callbacks=(), lr=0.05, metrics=("accuracy",), **kwargs):
    model = MLP(4, 8, 3)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return Trainer(model, opt, F.cross_entropy, metrics=list(metrics), callbacks=list(callbacks),
                   progress=False, **kwargs)


def _data():
    x, y = blobs(n=60, seed=1)
    return (x[:40], y[:40]), (x[40:], y[40:])


def test_early_stopping_patience_and_restore_best_weights():
    train, val = _data()
    snaps = Snapshots()
    # lr so large that training diverges: val_loss stops improving after a few epochs.
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    trainer = _trainer([es, snaps], lr=3.0)
    history = trainer.fit(train, val=val, epochs=30, batch_size=10)
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert es.stopped_epoch == len(losses) - 1 < 29
    assert len(losses) - 1 - best == 2 and es.best_epoch == best and es.best == losses[best]
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), snaps.states[best][k])


def test_early_stopping_mode_auto_and_min_delta():
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    es = EarlyStopping(monitor="val_loss", min_delta=0.1, patience=0)

    class T:
        stop_training = False

    es.set_trainer(T())
    es.on_epoch_end(0, {"val_loss": 1.0})
    es.on_epoch_end(1, {"val_loss": 0.95})  # better, but by less than min_delta
    assert T.stop_training is False and es.trainer.stop_training and es.best == 1.0
    with pytest.warns(RuntimeWarning, match="'val_f1' is not in the logs"):
        EarlyStopping(monitor="val_f1").on_epoch_end(0, {"val_loss": 1.0})
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")


def test_model_checkpoint_files_and_contents(tmp_path):
    train, val = _data()
    every = ModelCheckpoint(tmp_path / "every")
    best = ModelCheckpoint(tmp_path / "best", monitor="val_accuracy", save_best_only=True,
                           save_last=True)
    template = ModelCheckpoint(filepath=str(tmp_path / "tpl" / "{epoch:02d}-{val_loss:.3f}.ckpt"))
    trainer = _trainer([every, best, template])
    history = trainer.fit(train, val=val, epochs=3, batch_size=10)
    assert sorted(p.name for p in (tmp_path / "every").iterdir()) == \
        ["epoch001.ckpt", "epoch002.ckpt", "epoch003.ckpt"]
    names = [f"{e + 1:02d}-{v:.3f}.ckpt" for e, v in enumerate(history.history["val_loss"])]
    assert sorted(p.name for p in (tmp_path / "tpl").iterdir()) == sorted(names)
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == ["best.ckpt", "last.ckpt"]
    last = load_checkpoint(tmp_path / "best" / "last.ckpt")
    assert last["epoch"] == 3 and last["history"]["history"]["val_loss"] == \
        history.history["val_loss"]
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(last["model"][k].numpy(), v.numpy())
    assert set(last["optimizer"]) == {"state", "param_groups"}
    assert set(last["rng"]) == {"ganglion", "numpy", "python", "generators"}
    best_epoch, best_acc = history.best("val_accuracy")
    assert load_checkpoint(tmp_path / "best" / "best.ckpt")["epoch"] == best_epoch + 1
    assert best.best == best_acc
    first = load_checkpoint(tmp_path / "every" / "epoch001.ckpt")
    assert first["epoch"] == 1 and len(first["history"]["epoch"]) == 1


def test_model_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="exactly one of dirpath"):
        ModelCheckpoint()
    train, val = _data()
    ck = ModelCheckpoint(filepath=str(tmp_path / "{val_f1:.2f}.ckpt"))
    with pytest.raises(KeyError, match="val_f1"):
        _trainer([ck]).fit(train, val=val, epochs=1)
    with pytest.raises(ValueError, match="not a Trainer checkpoint"):
        ganglion.io.save({"w": ganglion.zeros(2)}, str(tmp_path / "other.ckpt"))
        _trainer().fit(train, epochs=2, resume_from=tmp_path / "other.ckpt")


def test_csv_logger_and_history_to_csv(tmp_path):
    train, val = _data()
    trainer = _trainer([CSVLogger(tmp_path / "log.csv")])
    history = trainer.fit(train, val=val, epochs=3, batch_size=10)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == history.history["val_loss"]
    history.to_csv(tmp_path / "h.csv")
    assert open(tmp_path / "h.csv").read() == open(tmp_path / "log.csv").read()
    # append=True continues the file across fit calls.
    _trainer([CSVLogger(tmp_path / "log.csv", append=True)]).fit(train, val=val, epochs=1)
    assert len(list(csv.DictReader(open(tmp_path / "log.csv")))) == 4


def test_tensorboard_event_files(tmp_path):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    train, val = _data()
    trainer = _trainer([TensorBoard(tmp_path / "tb", update_freq=2)])
    history = trainer.fit(train, val=val, epochs=3, batch_size=10)
    acc = ea.EventAccumulator(str(tmp_path / "tb" / "train"))
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy", "epoch_lr",
                                           "batch_loss"}
    events = acc.Scalars("epoch_loss")
    assert [e.step for e in events] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in events], history.history["train_loss"],
                               rtol=1e-6)
    assert [e.step for e in acc.Scalars("batch_loss")] == [2, 4, 6, 8, 10, 12]
    val_acc = ea.EventAccumulator(str(tmp_path / "tb" / "validation"))
    val_acc.Reload()
    np.testing.assert_allclose([e.value for e in val_acc.Scalars("epoch_accuracy")],
                               history.history["val_accuracy"], rtol=1e-6)


def test_missing_extras_name_them(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(ImportError, match=r"ganglion\[tensorboard\]"):
        TensorBoard(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    h = History()
    h.append(0, {"train_loss": 1.0})
    with pytest.raises(ImportError, match=r"ganglion\[plot\]"):
        plot_history(h, tmp_path / "x.png")


def test_learning_rate_monitor_with_scheduler():
    train, _ = _data()
    model = MLP(4, 8, 3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    monitor = LearningRateMonitor(logging_interval="batch", log_momentum=True)
    trainer = Trainer(model, opt, F.cross_entropy, callbacks=[monitor],
                      scheduler=StepLR(opt, step_size=1, gamma=0.5), progress=False)
    history = trainer.fit(train, epochs=3, batch_size=20)
    # Epoch logs: the lr each epoch started with.
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert history.history["momentum"] == [0.5] * 3
    assert [d["lr"] for d in monitor.lrs] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    trainer = Trainer(model, opt, F.cross_entropy, callbacks=[LearningRateMonitor()],
                      scheduler=StepLR(opt, step_size=1, gamma=0.5), scheduler_interval="batch",
                      progress=False)
    assert trainer.fit(train, epochs=2, batch_size=20).history["lr"] == \
        pytest.approx([0.0125, 0.003125])


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_terminate_on_nan():
    train, _ = _data()
    trainer = _trainer([TerminateOnNaN()], lr=1e30)
    with pytest.warns(RuntimeWarning, match="TerminateOnNaN"):
        history = trainer.fit(train, epochs=5, batch_size=5)
    assert len(history) == 1


def test_history_padding_best_and_state_roundtrip():
    h = History()
    h.append(0, {"train_loss": 1.0})
    h.append(1, {"train_loss": 0.5, "val_acc": 0.7, "cm": ganglion.eye(2, dtype=ganglion.int64)})
    assert np.isnan(h["val_acc"][0]) and h["val_acc"][1] == 0.7
    assert h.scalar_keys() == ["train_loss", "val_acc"]
    assert h.best("train_loss") == (1, 0.5) and h.best("val_acc") == (1, 0.7)
    h2 = History()
    h2.load_state_dict(h.state_dict())
    assert h2.epoch == [0, 1] and h2["train_loss"] == [1.0, 0.5]
    np.testing.assert_array_equal(h2["cm"][1].numpy(), np.eye(2))


def test_plot_history_png(tmp_path):
    pytest.importorskip("matplotlib")
    train, val = _data()
    history = _trainer().fit(train, val=val, epochs=2, batch_size=10)
    path = history.plot(tmp_path / "sub" / "curves.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_history(history, tmp_path / "y.png", metrics=["bleu"])


def test_progress_plain_lines_when_not_a_tty(capsys):
    train, val = _data()
    model = MLP(4, 8, 3)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy,
                      metrics=["accuracy"])
    trainer.fit(train, val=val, epochs=2, batch_size=10)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - ")
    assert "train_loss: " in lines[0] and "val_accuracy: " in lines[0] and "lr: 0.1" in lines[0]
    _trainer().fit(train, epochs=1)  # progress=False: silent
    assert capsys.readouterr().out == ""


def test_progress_tqdm_bar_on_a_tty(monkeypatch, capsys):
    pytest.importorskip("tqdm")

    class TTY(io.StringIO):
        def isatty(self):
            return True

    fake = TTY()
    monkeypatch.setattr(sys, "stderr", fake)
    train, _ = _data()
    model = MLP(4, 8, 3)
    Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy).fit(
        train, epochs=2, batch_size=10)
    assert "Epoch 1/2" in fake.getvalue() and "4/4" in fake.getvalue()
    assert "train_loss" in fake.getvalue()
    assert capsys.readouterr().out == ""  # no plain summary lines when the bar shows


def _seeded_run(tmp_path, name, epochs, resume_from=None):
    ganglion.manual_seed(3)
    np.random.seed(3)
    train, val = _data()
    model = MLP(4, 8, 3, dropout=0.3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, opt, F.cross_entropy, metrics=["accuracy", "confusion_matrix"],
                      scheduler=StepLR(opt, 1, 0.5), progress=False,
                      callbacks=[ModelCheckpoint(tmp_path / name, save_last=True),
                                 CSVLogger(tmp_path / f"{name}.csv")])
    history = trainer.fit(train, val=val, epochs=epochs, batch_size=8, resume_from=resume_from)
    return trainer, history


def test_in_process_resume_with_non_scalar_metrics(tmp_path):
    full, h_full = _seeded_run(tmp_path, "full", 3)
    _seeded_run(tmp_path, "part", 2)
    resumed, h_res = _seeded_run(tmp_path, "res", 3, resume_from=tmp_path / "part" / "last.ckpt")
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), k
    assert h_res["train_loss"] == h_full["train_loss"] and h_res["lr"] == [0.01, 0.005, 0.0025]
    for a, b in zip(h_full["val_confusion_matrix"], h_res["val_confusion_matrix"]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert "val_confusion_matrix" not in open(tmp_path / "full.csv").readline()
    pred = resumed.predict(DataLoader(TensorDataset(*_data()[1]), batch_size=7))
    np.testing.assert_array_equal(pred.numpy(), full.predict(_data()[1][0]).numpy())
