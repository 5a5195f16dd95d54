"""``repr`` of tensors in torch's style: ``tensor([1.0000, 2.5000], requires_grad=True)``."""
from __future__ import annotations

import numpy as np

from ganglion.backend.dtypes import DTYPE_OF, get_default_dtype, int64, bool as bool_

_THRESHOLD, _EDGE = 1000, 3


def _float_formatter(arr):
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        fmt = "{:.4f}"
    elif np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        fmt = "{:.0f}."
    else:
        amax, amin = np.abs(finite).max(), np.abs(finite[finite != 0]).min(initial=np.inf)
        if amax >= 1e8 or (amin < 1e-4) or (amax / max(amin, 1e-300) > 1000 and amax > 1e3):
            fmt = "{:.4e}"
        else:
            fmt = "{:.4f}"
    sample = arr if arr.size <= _THRESHOLD else np.concatenate(
        [arr.reshape(-1)[:_EDGE], arr.reshape(-1)[-_EDGE:]])
    width = max((len(_fmt_one(fmt, v)) for v in sample.reshape(-1)), default=1)
    return lambda v: _fmt_one(fmt, v).rjust(width)


def _fmt_one(fmt, v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return fmt.format(float(v))


def tensor_repr(t) -> str:
    arr = np.asarray(t.array if type(t.array) is np.ndarray else t.array.get())
    dt = DTYPE_OF[arr.dtype]
    prefix = "tensor("
    suffix = []
    if arr.size == 0 and arr.ndim != 1:
        body = "[]"
        suffix.append(f"size={tuple(arr.shape)}")
    else:
        opts = dict(separator=", ", prefix=prefix, threshold=_THRESHOLD, edgeitems=_EDGE,
                    max_line_width=80)
        if dt.is_floating_point:
            opts["formatter"] = {"float_kind": _float_formatter(arr.astype(np.float64))}
        elif dt is bool_:
            width = 5 if not arr.all() else 4
            opts["formatter"] = {"bool": lambda v: ("True" if v else "False").rjust(width)}
        body = np.array2string(arr, **opts) if arr.ndim else (
            opts["formatter"]["float_kind"](arr.item()).strip() if dt.is_floating_point
            else str(arr.item()))
    if dt not in (get_default_dtype(), int64, bool_):
        suffix.append(f"dtype={dt}")
    if t.array is not arr:
        suffix.insert(0, f"device='{t.device}'")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        suffix.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffix) + ")"
