"""``Optimizer``: the base class of every optimizer, with torch.optim's semantics.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus the options of that
group) and ``state`` (a dict keyed by parameter, filled lazily on the first step with torch's
state names). ``state_dict()`` refers to parameters by integer ids, in the order they appear in
the groups, exactly as torch does, so checkpoints move between the two libraries.

Subclasses validate their options, fill ``state[p]`` lazily in ``step`` and call a pure
functional update that works in place on the parameters' NumPy arrays.

Example:
    >>> import ganglion
    >>> from ganglion.optim import SGD
    >>> w = ganglion.nn.Parameter(ganglion.ones(2))
    >>> opt = SGD([w], lr=0.5)
    >>> w.grad = ganglion.ones(2)
    >>> opt.step()
    >>> w.data
    tensor([0.5000, 0.5000])
    >>> opt.state_dict()["param_groups"][0]["params"]
    [0]
"""
from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from ganglion.autograd import function as _function
from ganglion.autograd.grad_mode import enable_grad
from ganglion.backend import dtypes as _dt
from ganglion.tensor import Tensor

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook",
           "required"]


class _RequiredParameter:
    """Marks a default that every param group must give (torch's ``optim.optimizer.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks: OrderedDict = OrderedDict()
_global_post_hooks: OrderedDict = OrderedDict()


class RemovableHandle:
    """Removes the hook it was returned for from its dict (``torch.utils.hooks``)."""

    _next_id = 0

    def __init__(self, hooks_dict: dict):
        self.hooks_dict = hooks_dict
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(hooks: OrderedDict, hook, prepend: bool = False) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's ``step``."""
    return _add_hook(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's ``step``."""
    return _add_hook(_global_post_hooks, hook)


def _with_step_hooks(step):
    """Wrap a subclass's ``step`` so the step pre/post hooks run around it, as torch does.

    Without hooks the wrapper costs one attribute store and two dict truth tests. A ``step``
    that calls ``super().step()`` runs the hooks once (the depth counter).
    """
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True  # lets LR schedulers warn when they are stepped first
        if self._step_depth or not (self._optimizer_step_pre_hooks or _global_pre_hooks
                                    or self._optimizer_step_post_hooks or _global_post_hooks):
            return step(self, *args, **kwargs)
        for hook in chain(list(_global_pre_hooks.values()),
                          list(self._optimizer_step_pre_hooks.values())):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
                args, kwargs = result
        self._step_depth += 1
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._step_depth -= 1
        for hook in chain(list(self._optimizer_step_post_hooks.values()),
                          list(_global_post_hooks.values())):
            hook(self, args, kwargs)
        return out

    wrapper._ganglion_hooked = True
    return wrapper


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return f"ganglion.{type(obj).__name__}"
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def wrap_array(arr) -> Tensor:
    """A plain (no-grad) ganglion Tensor around ``arr`` (used for optimizer state)."""
    return _function._new_tensor(arr)


def scalar_dtype():
    """torch's ``_get_scalar_dtype``: float64 when that is the default dtype, else float32."""
    return np.float64 if _dt.get_default_dtype().np == np.float64 else np.float32


def new_step(value: float = 0.0) -> Tensor:
    """The 0-d ``state["step"]`` tensor torch keeps per parameter (float32 on the CPU)."""
    return wrap_array(np.array(value, dtype=scalar_dtype()))


def zeros_state(p: Tensor) -> Tensor:
    """``torch.zeros_like(p, memory_format=torch.preserve_format)`` for optimizer state."""
    return wrap_array(np.zeros_like(p.array))


def steps_to_tensors(opt, *scalar_keys) -> None:
    """Old checkpoints kept ``step`` (and NAdam's ``mu_product``) as Python numbers: make them
    0-d tensors again, as every torch optimizer's ``__setstate__`` does."""
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            for key in ("step",) + scalar_keys:
                if st and key in st and not isinstance(st[key], Tensor):
                    st[key] = new_step(float(st[key]))


def as_float(x) -> float:
    """A hyper-parameter that may be a 1-element Tensor, as a Python float (torch's
    ``_to_scalar`` followed by the single-tensor path's use of it as a number)."""
    return float(x) if isinstance(x, Tensor) else x


def check_lr(lr) -> None:
    """torch's learning-rate validation, shared by every optimizer."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_nonneg(value, name: str) -> None:
    """torch's ``Invalid <name> value: <value>`` check for options that must be >= 0."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name} value: {value}")


def check_betas(betas) -> None:
    """torch's ``Invalid beta parameter at index i`` check: each beta in [0, 1)."""
    for i in range(2):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


def check_fused(fused, foreach, differentiable) -> None:
    """The option conflicts torch rejects for ``fused=True`` (a no-op flag in ganglion)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _to_ganglion(value):
    """State loaded from a torch checkpoint may hold torch tensors: bring them over as arrays."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return wrap_array(value)
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
        return wrap_array(np.array(value.detach().cpu().numpy()))
    return value


class Optimizer:
    """Base class for all optimizers (``torch.optim.Optimizer``).

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts defining
            parameter groups (each with a ``"params"`` entry and per-group options).
        defaults: the default value of every option, used where a group does not set it.

    Raises:
        TypeError: ``params`` is a single Tensor, or holds something other than Tensors.
        ValueError: ``params`` is empty, holds a non-leaf Tensor, or a parameter appears in
            two groups.
    """

    _step_depth = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_ganglion_hooked", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def _init_hooks(self) -> None:
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    # (key, default) pairs that checkpoints of older torch versions may lack in their groups
    _group_defaults: tuple = ()
    # state keys kept as 0-d tensors (old checkpoints stored numbers); None: no such keys
    _tensor_state_keys = None

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_hooks()
        self.defaults.setdefault("differentiable", False)
        for group in self.param_groups:
            for key, value in self._group_defaults:
                group.setdefault(key, value)
        if self._tensor_state_keys is not None:
            steps_to_tensors(self, *self._tensor_state_keys)

    def _gather(self, group: dict, keys=()):
        """The params of ``group`` that have a gradient, their grads, and their state as
        ``{key: list}`` for ``step`` and ``keys`` — created on first use, in torch's key order:
        ``step`` 0, ``mu_product`` 1, every other key zeros like the parameter."""
        params, grads = [], []
        lists = {k: [] for k in ("step",) + tuple(keys)}
        for p in group["params"]:
            if p.grad is None:
                continue
            st = self.state[p]
            if len(st) == 0:
                st["step"] = new_step()
                for k in keys:
                    st[k] = new_step(1.0) if k == "mu_product" else zeros_state(p)
            params.append(p)
            grads.append(p.grad)
            for k, values in lists.items():
                values.append(st[k])
        return params, grads, lists

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # -- hooks --------------------------------------------------------------------------
    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)`` before step."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None`` after each step."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` before ``state_dict()`` builds its result."""
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> state_dict or None`` after ``state_dict()``."""
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> state_dict or None`` before loading."""
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` after ``load_state_dict``."""
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # -- state dict ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state as ``{"state": {id: {...}}, "param_groups": [...]}``.

        Parameters are replaced by integer ids, numbered in group order; state tensors are
        the optimizer's own (not copies), as in torch.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        mapping: dict[int, int] = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            mapping.update({id(p): i for i, p in enumerate(group["params"], start)
                            if id(p) not in mapping})
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _cast_state(param, value, key=None):
        """torch's policy: ``step`` is kept as is; other floating state takes the param's
        dtype (a tensor that already has it is kept, not copied, as ``Tensor.to`` does)."""
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(param, v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast_state(param, v) for v in value)
        value = _to_ganglion(value)
        if not isinstance(value, Tensor) or key == "step":
            return value
        if param.array.dtype.kind == "f" and value.array.dtype != param.array.dtype:
            return wrap_array(value.array.astype(param.array.dtype))
        return value

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state dict made by ``state_dict()`` (this library's or torch's).

        Raises:
            ValueError: the number of groups, or the size of a group, differs.
        """
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = self._cast_state(id_map[k], v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    # -- stepping -----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors: to None (the default), or to zeros
        in place (``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                if g.array.flags.writeable:
                    g.array.fill(0)
                else:  # a broadcast view: replace it by zeros of its shape
                    g.array = np.zeros(g.array.shape, g.array.dtype)
                g._vc[0] += 1

    def step(self, closure=None):
        """Perform one optimization step (subclasses implement it)."""
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure):
        """Re-evaluate the model under grad mode, as torch's ``step(closure)`` does."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (with its own options) to ``param_groups``.

        Raises:
            TypeError: ``param_group`` is not a dict, or its params are a set or not Tensors.
            ValueError: a parameter is not a leaf, a required option is missing, or a
                parameter is already in another group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        self._extract_names(param_group)
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        self._check_disjoint(param_group)
        self.param_groups.append(param_group)

    @staticmethod
    def _extract_names(param_group: dict) -> None:
        """``named_parameters()`` gives ``(name, tensor)`` pairs: keep the names aside."""
        names, tensors = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

    def _check_disjoint(self, param_group: dict) -> None:
        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            import warnings  # noqa: PLC0415 - only on this rare path

            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
