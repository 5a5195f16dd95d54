"""A training process killed with SIGKILL after epoch k and resumed from its last checkpoint
ends bit-identical to one that never stopped (weights, history, CSV log)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

datasets = pytest.importorskip("sklearn.datasets")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EPOCHS, KILL_AFTER = 4, 1  # killed once epoch index 1 (the second) is checkpointed

SCRIPT = textwrap.dedent("""
    import json, pathlib, random, sys, time
    import numpy as np
    sys.path.insert(0, {repo!r})
    import ganglion, ganglion.optim as optim, ganglion.nn.functional as F
    from ganglion.optim.lr_scheduler import StepLR
    from ganglion.train import CSVLogger, Callback, EarlyStopping, ModelCheckpoint, Trainer
    from ganglion.utils.data import DataLoader, TensorDataset
    from ganglion.utils.data.collate import default_collate
    from tests.train._models import MLP

    out, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
    ganglion.manual_seed(0); np.random.seed(0); random.seed(0)
    digits = np.load(out / "digits.npz")  # sklearn's 8x8 digits, saved by the test
    x = ganglion.from_numpy((digits["data"][:480] / 16.0).astype(np.float32))
    y = ganglion.from_numpy(digits["target"][:480].astype(np.int64))

    def noisy_collate(samples):
        # Augmentation drawing from NumPy's and Python's global RNGs.
        xb, yb = default_collate(samples)
        noise = np.random.normal(scale=0.05 * random.random(), size=tuple(xb.shape))
        return xb + ganglion.from_numpy(noise.astype(np.float32)), yb

    train = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=32, shuffle=True,
                       generator=ganglion.Generator().manual_seed(1), collate_fn=noisy_collate)
    val = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=48, shuffle=True)
    model = MLP(64, 32, 10, dropout=0.2)  # dropout draws from ganglion's global generator
    opt = optim.Adam(model.parameters(), lr=0.01)

    class Marker(Callback):
        order = 20  # after ModelCheckpoint: the checkpoint is on disk when the marker appears
        def on_epoch_end(self, epoch, logs=None):
            (out / f"{{mode}}_epoch{{epoch}}").touch()
            if mode == "killed" and epoch == {kill_after}:
                time.sleep(120)  # wait for SIGKILL

    callbacks = [ModelCheckpoint(out / f"ckpt_{{mode}}", save_last=True),
                 EarlyStopping(monitor="val_accuracy", patience=10),
                 CSVLogger(out / f"log_{{'killed' if mode == 'resume' else mode}}.csv",
                           append=True),
                 Marker()]
    trainer = Trainer(model, opt, F.cross_entropy, metrics=["accuracy"], callbacks=callbacks,
                      scheduler=StepLR(opt, 1, 0.7), progress=False)
    resume = out / "ckpt_killed" / "last.ckpt" if mode == "resume" else None
    history = trainer.fit(train, val=val, epochs={epochs}, resume_from=resume)
    np.savez(out / f"final_{{mode}}.npz",
             **{{k: v.detach().numpy() for k, v in model.state_dict().items()}})
    (out / f"history_{{mode}}.json").write_text(json.dumps(history.history))
""")


def _run(tmp_path, mode):
    return subprocess.Popen([sys.executable, str(tmp_path / "train.py"), str(tmp_path), mode],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for(path, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"training process exited early:\n{proc.stdout.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no {path.name} after {timeout} s")
        time.sleep(0.05)


def test_killed_and_resumed_run_is_bit_identical(tmp_path):
    digits = datasets.load_digits()
    np.savez(tmp_path / "digits.npz", data=digits.data, target=digits.target)
    (tmp_path / "train.py").write_text(
        SCRIPT.format(repo=REPO, epochs=EPOCHS, kill_after=KILL_AFTER))
    full, killed = _run(tmp_path, "full"), _run(tmp_path, "killed")
    _wait_for(tmp_path / f"killed_epoch{KILL_AFTER}", killed)
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait(30) == -signal.SIGKILL
    assert not (tmp_path / f"killed_epoch{KILL_AFTER + 1}").exists()
    resumed = _run(tmp_path, "resume")
    for proc in (full, resumed):
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == 0, out
    assert not (tmp_path / "resume_epoch0").exists()  # resumed at epoch KILL_AFTER + 1
    a, b = np.load(tmp_path / "final_full.npz"), np.load(tmp_path / "final_resume.npz")
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        assert np.array_equal(a[name], b[name]), name
    h_full = json.loads((tmp_path / "history_full.json").read_text())
    h_resumed = json.loads((tmp_path / "history_resume.json").read_text())
    assert h_full == h_resumed and len(h_full["val_loss"]) == EPOCHS
    assert (tmp_path / "log_full.csv").read_text() == (tmp_path / "log_killed.csv").read_text()
    leftovers = [p for p in (tmp_path / "ckpt_killed").iterdir() if p.name != "last.ckpt"]
    assert leftovers == []  # atomic writes leave no temporary files
