"""The op table: one ``OpRow`` per op, gathered from the per-family tables
(``tests/ops/table_<family>.py``, each defining ``ROWS``). ``test_op_table.py`` runs every row
against PyTorch (forward, gradient, second derivative) in float32 and float64, and a float64
finite-difference check.

A row's ``fn`` takes tensors and uses names both libraries share, so the same lambda runs on
ganglion and on torch. ``cases`` lists the input shapes of each case: cover a 0-d case, a
broadcast case, an empty dimension and negative dims (in ``fn``) where the op allows them;
``noncontig`` re-runs >= 2-d cases on transposed (strided) views.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Optional

FAMILIES = ("arith", "unary", "activation", "reduce", "movement", "indexing", "linalg",
            "random")


@dataclass
class OpRow:
    name: str
    fn: Callable
    cases: list  # each case: a list of input shapes
    torch_fn: Optional[Callable] = None  # when torch spells it differently
    low: float = -2.0
    high: float = 2.0
    atol: float = 1e-5  # float32 tolerances; float64 uses atol * 1e-6, rtol * 1e-6 (floored)
    rtol: float = 1e-4
    grad: bool = True
    gradgrad: bool = True  # second derivatives against torch's create_graph=True
    fd: bool = True  # float64 finite-difference gradcheck on the first case
    fd_atol: float = 1e-5
    fd_rtol: float = 1e-3
    noncontig: bool = True
    dtypes: tuple = ("float32", "float64")
    # make_inputs(rng, dtype) -> list of arrays, for ops needing special inputs (indices, ...)
    make_inputs: Optional[Callable] = None
    requires_grad: Optional[list] = None
    marks: list = field(default_factory=list)


def all_rows():
    rows = []
    for fam in FAMILIES:
        try:
            mod = importlib.import_module(f"tests.ops.table_{fam}")
        except ModuleNotFoundError as e:
            if e.name != f"tests.ops.table_{fam}":
                raise
            continue
        rows.extend(mod.ROWS)
    return rows
