"""Generic tests driven by the op table: every op against PyTorch and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import ganglion
from ganglion.testing import check_against_torch, make_inputs
from tests.ops.op_table import all_rows

pytest.importorskip("torch")

ROWS = all_rows()
_DT = {"float32": np.float32, "float64": np.float64}


def _params():
    for row in ROWS:
        for i, case in enumerate(row.cases):
            for dt in row.dtypes:
                yield pytest.param(row, i, dt, id=f"{row.name}-case{i}-{dt}", marks=row.marks)


def _inputs(row, case_idx, dtype, noncontig=False):
    if row.make_inputs is not None:
        rng = np.random.default_rng(case_idx)
        return row.make_inputs(rng, dtype, row.cases[case_idx])
    return make_inputs(row.cases[case_idx], dtype, row.low, row.high, seed=case_idx,
                       noncontig=noncontig)


@pytest.mark.parametrize("row,case_idx,dt", list(_params()))
def test_matches_torch(row, case_idx, dt):
    dtype = _DT[dt]
    tight = dtype == np.float64
    atol = max(row.atol * 1e-6, 1e-12) if tight else row.atol
    rtol = max(row.rtol * 1e-6, 1e-10) if tight else row.rtol
    inputs = _inputs(row, case_idx, dtype)
    check_against_torch(row.fn, inputs=inputs, atol=atol, rtol=rtol, grad=row.grad,
                        gradgrad=row.gradgrad and row.grad, requires_grad=row.requires_grad,
                        torch_fn=row.torch_fn)


def _noncontig_params():
    for row in ROWS:
        if not row.noncontig or row.make_inputs is not None:
            continue
        for i, case in enumerate(row.cases):
            if any(len(s) >= 2 for s in case):
                yield pytest.param(row, i, id=f"{row.name}-case{i}", marks=row.marks)
                break


@pytest.mark.parametrize("row,case_idx", list(_noncontig_params()))
def test_noncontiguous_matches_torch(row, case_idx):
    inputs = _inputs(row, case_idx, np.float32, noncontig=True)
    check_against_torch(row.fn, inputs=inputs, atol=row.atol, rtol=row.rtol, grad=row.grad,
                        requires_grad=row.requires_grad, torch_fn=row.torch_fn)


def _fd_params():
    for row in ROWS:
        if row.fd and row.grad:
            yield pytest.param(row, id=row.name, marks=row.marks)


@pytest.mark.parametrize("row", list(_fd_params()))
def test_finite_differences(row):
    arrays = _inputs(row, 0, np.float64)
    req = row.requires_grad or [a.dtype.kind == "f" for a in arrays]
    xs = [ganglion.tensor(a, requires_grad=r) for a, r in zip(arrays, req)]

    def scalar_fn(*ts):
        out = row.fn(*ts)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return tuple(o for o in outs if isinstance(o, ganglion.Tensor) and o.is_floating_point())

    assert ganglion.autograd.gradcheck(scalar_fn, xs, eps=1e-6, atol=row.fd_atol,
                                       rtol=row.fd_rtol)
