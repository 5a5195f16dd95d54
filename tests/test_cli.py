"""The main job: ``ganglion demo`` learns the real digits data; the README quick start runs."""
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ganglion as G

pytest.importorskip("sklearn")


def test_demo_reaches_high_accuracy_on_digits():
    from ganglion.cli import run_demo

    out = io.StringIO()
    acc = run_demo(epochs=10, out=out)
    assert acc >= 0.93, out.getvalue()  # chance is 0.10
    assert "final test accuracy" in out.getvalue()


def test_cli_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "ganglion.cli", "demo", "--epochs", "2"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    acc = float(re.search(r"final test accuracy ([0-9.]+)", r.stdout).group(1))
    assert acc > 0.5


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
