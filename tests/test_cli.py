"""The main job and the other commands: ``ganglion demo`` learns the real digits data; train,
evaluate and summary run; the README quick start runs."""
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ganglion as G

pytest.importorskip("sklearn")


def test_demo_reaches_97_percent_on_digits(tmp_path):
    from ganglion.cli import run_demo

    out = io.StringIO()
    acc = run_demo(out_dir=tmp_path, progress=False, out=out)
    assert acc >= 0.97, out.getvalue()  # chance is 0.10
    text = out.getvalue()
    assert "confusion matrix" in text and "test accuracy" in text
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "history.csv").exists()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["test_accuracy"] == acc


def test_cli_train_evaluate_summary(tmp_path):
    def cli(*args):
        r = subprocess.run([sys.executable, "-m", "ganglion.cli", *args], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = cli("train", "--model", "mlp", "--dataset", "digits", "--epochs", "3", "--out",
              str(tmp_path), "--lr", "0.003")
    acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert acc > 0.8
    out = cli("evaluate", "--model", "mlp", "--dataset", "digits", "--checkpoint",
              str(tmp_path / "model.safetensors"))
    assert float(re.search(r"accuracy ([0-9.]+)", out).group(1)) == pytest.approx(acc, abs=1e-4)
    assert "Total params" in cli("summary", "--model", "resnet20")
    assert "usage" in cli("train", "--help")


def test_readme_quick_start_runs():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = readme.split("## Quick start")[1].split("```python")[1].split("```")[0]
    scope = {}
    G.manual_seed(0)
    exec(compile(code, "README-quick-start", "exec"), scope)  # noqa: S102 - our own README
    assert scope["loss"].item() < 1e-3
    np.testing.assert_allclose(scope["w"].detach().numpy().ravel(), [2.0, -1.0, 0.5], atol=0.02)


def test_dlpack_exchange_with_torch_shares_memory():
    torch = pytest.importorskip("torch")
    t = torch.arange(4, dtype=torch.float32)
    g = G.from_dlpack(t)
    t[0] = 9.0
    assert g.array[0] == 9.0
    back = torch.from_dlpack(g)
    g.array[1] = 7.0
    assert back[1].item() == 7.0
