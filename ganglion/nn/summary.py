"""``summary(model, input_size=...)``: a torchinfo-style table of a model's layers.

It runs one forward pass (without recording a graph) on an example input with hooks on every
module, then prints each call's layer (nested by depth), output shape, parameter count and
trainability, and the totals: parameters, trainable and not, and sizes in MB (1 MB = 1e6 bytes,
as torchinfo). The global random generator is left untouched.

Example:
    >>> import ganglion
    >>> from ganglion import nn
    >>> class Toy(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = nn.Parameter(ganglion.zeros(3, 4))
    ...     def forward(self, x):
    ...         return x @ self.w
    >>> stats = nn.summary(nn.Sequential(nn.Flatten(), Toy()), input_size=(2, 1, 3),
    ...                    col_width=20, verbose=0)
    >>> stats.total_params, stats.trainable_params, stats.non_trainable_params
    (12, 12, 0)
    >>> print(stats)
    =========================================================================================
    Layer (type:depth-idx)                  Output Shape        Param #             Trainable
    =========================================================================================
    Sequential                              [2, 4]              --                  True
    ├─Flatten: 1-1                          [2, 3]              --                  --
    ├─Toy: 1-2                              [2, 4]              12                  True
    =========================================================================================
    Total params: 12
    Trainable params: 12
    Non-trainable params: 0
    =========================================================================================
    Input size (MB): 0.00
    Forward/backward pass size (MB): 0.00
    Params size (MB): 0.00
    Estimated Total Size (MB): 0.00
    =========================================================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.autograd.grad_mode import no_grad
from ganglion.backend import dtypes as _dt
from ganglion.tensor import Tensor

__all__ = ["summary", "ModelStatistics", "LayerInfo"]

_COLUMNS = {"input_size": "Input Shape", "output_size": "Output Shape",
            "num_params": "Param #", "params_percent": "Param %", "trainable": "Trainable"}
_NAME_WIDTH = 40


@dataclass
class LayerInfo:
    """One module call: where it sits, what it returned and which parameters it owns."""

    module: object
    class_name: str
    depth: int
    depth_index: int
    input_size: list = field(default_factory=list)
    output_size: list = field(default_factory=list)
    num_params: int = 0
    trainable: str = "--"
    output_bytes: int = 0
    is_leaf: bool = True
    recursive: bool = False  # a repeated call of a module whose parameters were counted


def _shapes(obj):
    """The shape of a Tensor, or the shapes of the tensors in a (nested) tuple/list/dict."""
    if isinstance(obj, Tensor):
        return list(obj.shape)
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        found = [_shapes(o) for o in obj]
        found = [f for f in found if f is not None]
        return found[0] if len(found) == 1 else found
    return None


def _nbytes(obj):
    if isinstance(obj, Tensor):
        return int(obj.array.nbytes)
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(o) for o in obj)
    return 0


def _trainable(params):
    if not params:
        return "--"
    flags = {p.requires_grad for p in params}
    return "Partial" if len(flags) == 2 else str(flags.pop())


@dataclass
class ModelStatistics:
    """What ``summary`` returns: the rows and totals; ``str()`` gives the table."""

    summary_list: list
    total_params: int
    trainable_params: int
    total_param_bytes: int
    total_input: int
    total_output_bytes: int
    col_names: tuple = ("output_size", "num_params", "trainable")
    col_width: int = 25
    depth: int = 3

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def _cell(self, row, col):
        if col == "input_size":
            return str(row.input_size) if row.input_size != [] else "--"
        if col == "output_size":
            return str(row.output_size) if row.output_size != [] else "--"
        if col == "num_params":
            if row.recursive:
                return "(recursive)"
            return f"{row.num_params:,}" if row.num_params else "--"
        if col == "params_percent":
            if not row.num_params or not self.total_params:
                return "--"
            return f"{100 * row.num_params / self.total_params:.2f}%"
        return row.trainable

    def _line(self, first, cells):
        text = first.ljust(_NAME_WIDTH) + "".join(c.ljust(self.col_width) for c in cells)
        return text.rstrip()

    def __str__(self) -> str:
        header = self._line("Layer (type:depth-idx)", [_COLUMNS[c] for c in self.col_names])
        lines = [header]
        for row in self.summary_list:
            if row.depth > self.depth:
                continue
            if row.depth == 0:
                name = row.class_name
            else:
                tree = "├─" if row.depth == 1 else "│    " * (row.depth - 1) + "└─"
                name = f"{tree}{row.class_name}: {row.depth}-{row.depth_index}"
            lines.append(self._line(name, [self._cell(row, c) for c in self.col_names]))
        mb = 1e6
        params_mb = self.total_param_bytes / mb
        in_mb, out_mb = self.total_input / mb, self.total_output_bytes / mb
        totals = [f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}"]
        sizes = [f"Input size (MB): {in_mb:0.2f}",
                 f"Forward/backward pass size (MB): {out_mb:0.2f}",
                 f"Params size (MB): {params_mb:0.2f}",
                 f"Estimated Total Size (MB): {in_mb + out_mb + params_mb:0.2f}"]
        rule = "=" * max(len(line) for line in lines + totals + sizes)
        return "\n".join([rule, header, rule] + lines[1:] + [rule] + totals + [rule] + sizes +
                         [rule])

    __repr__ = __str__


def _example_inputs(input_size, dtypes, device, batch_dim):
    """Tensors of the given sizes, drawn from a private generator (global RNG untouched)."""
    sizes = [input_size] if input_size and all(isinstance(s, int) for s in input_size) \
        else list(input_size)
    dtypes = list(dtypes) if dtypes is not None else [_dt.get_default_dtype()] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"summary: got {len(sizes)} input sizes but {len(dtypes)} dtypes; "
                         f"give one dtype per input.")
    rng = np.random.default_rng(0)
    out = []
    for size, dt in zip(sizes, dtypes):
        size = list(size)
        if batch_dim is not None:
            size.insert(batch_dim, 1)
        dt = _dt.to_dtype(dt)
        arr = rng.random(size).astype(dt.np) if dt.is_floating_point else \
            np.zeros(size, dtype=dt.np)
        t = _new_tensor(arr)
        out.append(t.to(device) if device is not None else t)
    return out


def _run_forward(model, input_data, kwargs):
    if isinstance(input_data, Tensor):
        return model(input_data, **kwargs)
    if isinstance(input_data, dict):
        return model(**input_data, **kwargs)
    return model(*input_data, **kwargs)


def _install_hooks(model, rows):
    """Pre-hooks add a row per call (parents before children), forward hooks fill it in."""
    state = {"depth": 0, "index": {}, "counted": set(), "open": []}
    handles = []
    params_of = {m: list(m.parameters(recurse=False)) for m in model.modules()}

    def pre(module, args):
        depth = state["depth"]
        state["index"][depth] = state["index"].get(depth, 0) + 1
        own = params_of.get(module, [])
        row = LayerInfo(module, type(module).__name__, depth, state["index"][depth],
                        input_size=_shapes(args) or [], num_params=sum(p.numel() for p in own),
                        trainable=_trainable(list(module.parameters())),
                        is_leaf=not module._modules)
        row.recursive = module in state["counted"] and bool(own)
        state["counted"].add(module)
        rows.append(row)
        state["open"].append(row)
        state["depth"] = depth + 1

    def post(module, args, output):
        row = state["open"].pop()
        row.output_size = _shapes(output) or []
        row.output_bytes = _nbytes(output)
        state["depth"] -= 1

    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    return handles


def _fold_hidden(rows, depth):
    """Rows at the depth limit show their hidden descendants' parameters too."""
    for i, row in enumerate(rows):
        if row.depth != depth or row.recursive:
            continue
        for later in rows[i + 1:]:
            if later.depth <= depth:
                break
            if not later.recursive:
                row.num_params += later.num_params


def summary(model, input_size=None, input_data=None, batch_dim=None, col_names=None,
            col_width=25, depth=3, device=None, dtypes=None, mode="same", verbose=None,
            **kwargs):
    """Print (and return) a table of ``model``'s layers, like ``torchinfo.summary``.

    Args:
        model: the Module to inspect.
        input_size: the example input's shape (a tuple), or a list of shapes for several
            inputs; random values from a private generator (integers are zeros).
        input_data: the example input itself (a Tensor, a sequence of args or a dict of
            kwargs); use this or ``input_size``.
        batch_dim: where to insert a batch dimension of 1 into ``input_size``. Default: None
            (the sizes include the batch).
        col_names: columns among "input_size", "output_size", "num_params",
            "params_percent", "trainable". Default: output_size, num_params, trainable.
        col_width: width of each column. Default: 25.
        depth: deepest nesting level shown (deeper layers count into their shown parent).
        device: device for the generated inputs.
        dtypes: one dtype per ``input_size`` entry. Default: the default float dtype.
        mode: "train", "eval" or "same" (leave the model's mode as is); restored afterwards.
        verbose: 0 prints nothing; 1 (default) prints the table.
        **kwargs: extra keyword arguments for ``model.forward``.

    Returns:
        ModelStatistics: ``total_params``, ``trainable_params``, ``non_trainable_params``,
        ``total_param_bytes``, ``summary_list`` (one LayerInfo per module call); ``str()``
        is the table.

    Raises:
        ValueError: neither or both of ``input_size``/``input_data``, unknown columns or mode.
    """
    col_names = tuple(col_names) if col_names is not None else \
        ("output_size", "num_params", "trainable")
    bad = [c for c in col_names if c not in _COLUMNS]
    if bad:
        raise ValueError(f"summary: unknown col_names {bad}; choose from {list(_COLUMNS)}.")
    if (input_size is None) == (input_data is None):
        raise ValueError("summary: pass exactly one of input_size= (a shape tuple) or "
                         "input_data= (example tensors).")
    if mode not in ("train", "eval", "same"):
        raise ValueError(f"summary: mode must be 'train', 'eval' or 'same', got {mode!r}.")
    if input_data is None:
        inputs = _example_inputs(input_size, dtypes, device, batch_dim)
        input_data = inputs if len(inputs) > 1 else inputs[0]
    stats = _collect(model, input_data, mode, kwargs)
    stats.col_names, stats.col_width, stats.depth = col_names, col_width, depth
    _fold_hidden(stats.summary_list, depth)
    if verbose is None or verbose >= 1:
        print(stats)
    return stats


def _collect(model, input_data, mode, kwargs):
    rows = []
    modes = {m: m.training for m in model.modules()}
    handles = _install_hooks(model, rows)
    try:
        if mode != "same":
            model.train(mode == "train")
        with no_grad():
            _run_forward(model, input_data, kwargs)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    params = list(model.parameters())
    return ModelStatistics(
        summary_list=rows, total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        total_param_bytes=sum(int(p.array.nbytes) for p in params),
        total_input=_nbytes(input_data),
        total_output_bytes=2 * sum(r.output_bytes for r in rows if r.is_leaf))
