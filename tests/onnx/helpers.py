"""Shared checks for the ONNX tests: export, check, run in onnxruntime, compare.

Tolerance: the norm-relative error ||got - ref|| / ||ref|| of every output (with ||ref|| floored
at 1e-12), <= 1e-5 unless a test says otherwise.
"""
from __future__ import annotations

import io

import numpy as np
import pytest

import ganglion
from ganglion.onnx import export
from ganglion.onnx._runs import flatten_outputs

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-5


def rel_err(got, ref) -> float:
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    return float(np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-12))


def outputs(model, *xs):
    with ganglion.no_grad():
        return [t.numpy() for t in flatten_outputs(model(*xs))]


def session(data: bytes):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def export_bytes(model, example, **kwargs) -> bytes:
    buf = io.BytesIO()
    proto = export(model, example, buf, **kwargs)
    onnx.checker.check_model(proto, full_check=True)
    return buf.getvalue()


def check_ort(model, examples, input_names, dynamic_axes=None, tol=TOL, **kwargs):
    """Export with ``examples[0]``; onnxruntime matches ganglion on every example (tuples of
    Tensors). Returns the exported bytes and the worst error."""
    model.eval()
    data = export_bytes(model, examples[0], input_names=input_names,
                        dynamic_axes=dynamic_axes, **kwargs)
    sess = session(data)
    worst = 0.0
    for xs in examples:
        ref = outputs(model, *xs)
        got = sess.run(None, {n: x.numpy() for n, x in zip(input_names, xs)})
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            if r.dtype.kind in "iub":
                np.testing.assert_array_equal(g, r)
            else:
                err = rel_err(g, r)
                worst = max(worst, err)
                assert err <= tol, f"onnxruntime differs from ganglion: {err:.3g} > {tol}"
    return data, worst


def batch_axes(names, *axes):
    """{name: {0: 'batch'}} (and axis 1 'seq' when given) for every input name."""
    spec = {0: "batch"}
    if axes:
        spec.update({a: s for a, s in axes})
    return {n: dict(spec) for n in names}
