"""``state_dict`` / ``load_state_dict`` for ``Module`` (mixed into it), with torch's key names,
hooks, metadata and error messages, so a torch state_dict loads directly.

Values may be ganglion Tensors, NumPy arrays or torch tensors (converted through NumPy).

Example:
    >>> import ganglion
    >>> from ganglion import nn
    >>> class Scale(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.weight = nn.Parameter(ganglion.zeros(3))
    >>> m = Scale()
    >>> m.load_state_dict({"weight": [1.0, 2.0, 3.0]})
    <All keys matched successfully>
    >>> m.weight.tolist()
    [1.0, 2.0, 3.0]
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.autograd.grad_mode import no_grad
from ganglion.backend.dtypes import DTYPE_OF
from ganglion.nn.module_hooks import RemovableHandle
from ganglion.nn.parameter import Parameter
from ganglion.tensor import Tensor

__all__ = ["StateDictMixin"]

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns (torch's NamedTuple)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class _SizeMismatch(str):
    """A size-mismatch error message that also carries its key and both shapes (for
    ``ganglion.io.load_state_dict_file``'s report)."""

    def __new__(cls, key, checkpoint_shape, model_shape):
        msg = super().__new__(cls, f"size mismatch for {key}: copying a param with shape "
                                   f"{checkpoint_shape} from checkpoint, the shape in current "
                                   f"model is {model_shape}.")
        msg.key, msg.checkpoint_shape, msg.model_shape = key, checkpoint_shape, model_shape
        return msg


def _as_tensor(value):
    """A ganglion Tensor from a Tensor, NumPy array, torch tensor or nested list; else None."""
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
        value = value.detach().cpu()
        try:
            value = value.numpy()
        except TypeError:  # bfloat16 and other dtypes NumPy lacks: go through float32
            value = value.float().numpy()
    elif not isinstance(value, (np.ndarray, np.generic, list, tuple, int, float)):
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        return None
    if arr.dtype not in DTYPE_OF:
        arr = arr.astype(np.float32 if arr.dtype.kind == "f" else np.int64)
    return _new_tensor(arr)


def _copy_into(param, value):
    """``param.copy_(value)`` for equal shapes in one pass: NumPy's assignment casts and
    copies straight into the parameter's buffer; the version counter goes up as for copy_."""
    dst, src = param.array, value.array
    if type(src) is not type(dst) or not dst.flags.writeable:
        param.copy_(value)  # another device, or a read-only view: the general path
        return
    dst[...] = src
    param._vc[0] += 1


class _WrappedHook:
    """A load_state_dict pre-hook that may or may not receive the module first."""

    def __init__(self, hook, module=None):
        self.hook, self.module = hook, module

    def __call__(self, *args):
        return self.hook(self.module, *args) if self.module is not None else self.hook(*args)


class StateDictMixin:
    """The state-dict half of ``Module``: saving, loading and their hooks."""

    def get_extra_state(self):
        """Return extra (non-tensor) state for ``state_dict``; override with set_extra_state."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called.")

    def set_extra_state(self, state) -> None:
        """Restore what ``get_extra_state`` returned."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called.")

    def _has_extra_state(self, which):
        return getattr(type(self), which) is not getattr(StateDictMixin, which)

    # -- hooks ----------------------------------------------------------------------------
    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before this module saves its state."""
        handle = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after; it must return None."""
        hook._from_public_api = True
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def _register_state_dict_hook(self, hook):
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        handle = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[handle.id] = _WrappedHook(
            hook, self if with_module else None)
        return handle

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module loads its state."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after loading; edit the keys in place."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    # -- saving ---------------------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        """Store this module's own parameters and persistent buffers (not its children's)."""
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if self._has_extra_state("get_extra_state"):
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of parameters and persistent buffers under torch's key names
        (``'layer.0.weight'``, ``'bn.running_mean'``); values are detached and share memory.

        Example:
            >>> import ganglion
            >>> from ganglion import nn
            >>> class M(nn.Module):
            ...     def __init__(self):
            ...         super().__init__()
            ...         self.w = nn.Parameter(ganglion.ones(2))
            >>> outer = nn.Module(); outer.inner = M()
            >>> list(outer.state_dict())
            ['inner.w']
        """
        if args:  # torch's deprecated positional form: (destination, prefix, keep_vars)
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 and prefix == "" else prefix
            keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            result = hook(self, destination, prefix, local_metadata)
            if getattr(hook, "_from_public_api", False):
                if result is not None:
                    raise RuntimeError("state_dict post-hook must return None")
            elif result is not None:
                destination = result
        return destination

    # -- loading --------------------------------------------------------------------------
    def _load_one(self, name, param, key, input_param, assign, error_msgs):
        """Copy (or assign) one checkpoint value into ``param``; errors go to error_msgs."""
        value = _as_tensor(input_param)
        if value is None:
            error_msgs.append(f"While copying the parameter named \"{key}\", expected a "
                              f"Tensor, NumPy array or torch.Tensor from checkpoint but "
                              f"received {type(input_param)}")
            return
        if param.ndim == 0 and value.ndim == 1 and value.shape[0] == 1:
            value = value.reshape(())
        if tuple(value.shape) != tuple(param.shape):
            error_msgs.append(_SizeMismatch(key, tuple(value.shape), tuple(param.shape)))
            return
        try:
            with no_grad():
                if not assign:
                    _copy_into(param, value)
                elif isinstance(param, Parameter):
                    setattr(self, name, Parameter(value.detach(), param.requires_grad))
                else:
                    setattr(self, name, value.detach())
        except Exception as ex:  # noqa: BLE001 - reported with the key, as torch does
            error_msgs.append(f"While copying the parameter named \"{key}\", whose dimensions "
                              f"in the model are {tuple(param.shape)} and whose dimensions in "
                              f"the checkpoint are {tuple(value.shape)}, an exception occurred "
                              f": {ex.args}.")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Load this module's own parameters and buffers (not its children's) from
        ``state_dict``; subclasses override it to convert old checkpoint formats."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        local_state = {k: v for k, v in self._parameters.items() if v is not None}
        local_state.update((k, v) for k, v in self._buffers.items()
                           if v is not None and k not in self._non_persistent_buffers_set)
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key in state_dict:
                self._load_one(name, param, key, state_dict[key], assign, error_msgs)
            elif strict:
                missing_keys.append(key)
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if self._has_extra_state("set_extra_state"):
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    head = key[len(prefix):].split(".", 1)
                    if (len(head) > 1 and head[0] not in self._modules) or \
                            (len(head) == 1 and head[0] not in local_state):
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from ``state_dict`` (a ganglion or torch state_dict, or
        NumPy arrays) into this module and its descendants.

        Args:
            state_dict: a mapping from torch-style keys to tensors or arrays.
            strict: the keys must match ``self.state_dict()`` exactly. Default: True.
            assign: assign the given tensors instead of copying into the existing ones
                (Parameters keep their ``requires_grad``). Default: False.

        Returns:
            NamedTuple ``(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: missing or unexpected keys (when ``strict``), shape mismatches.
        """
        missing, unexpected, errors = self._load_state_dict_lists(state_dict, assign)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self.__class__.__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    def _load_state_dict_lists(self, state_dict, assign):
        """Load what matches; return ``(missing, unexpected, error messages)`` (size
        mismatches among the errors are ``_SizeMismatch`` strings)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors = [], [], []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        self._load_tree(state_dict, "", metadata, assign, (missing, unexpected, errors))
        return missing, unexpected, errors

    def _load_tree(self, local_state_dict, prefix, metadata, assign, lists):
        missing, unexpected, errors = lists
        local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
        if assign:
            local_metadata["assign_to_params_buffers"] = assign
        self._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing,
                                   unexpected, errors)
        for name, child in self._modules.items():
            if child is not None:
                child_prefix = prefix + name + "."
                child_state = {k: v for k, v in local_state_dict.items()
                               if k.startswith(child_prefix)}
                child._load_tree(child_state, child_prefix, metadata, assign, lists)
        incompatible = _IncompatibleKeys(missing, unexpected)
        for hook in self._load_state_dict_post_hooks.values():
            if hook(self, incompatible) is not None:
                raise AssertionError("Hooks registered with ``register_load_state_dict_post_"
                                     "hook`` are not expected to return new values, if "
                                     "incompatible_keys need to be modified, it should be done "
                                     "inplace.")
