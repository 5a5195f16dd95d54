"""Hook plumbing for ``Module``: removable handles, global module hooks and ``BackwardHook``
(the full backward hooks of torch.nn, built from an identity autograd Function on the module's
inputs and outputs, as ``torch.utils.hooks.BackwardHook``).

Example:
    >>> from collections import OrderedDict
    >>> from ganglion.nn.module_hooks import RemovableHandle
    >>> hooks = OrderedDict()
    >>> h = RemovableHandle(hooks); hooks[h.id] = print
    >>> h.remove(); len(hooks)
    0
"""
from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict

from ganglion.autograd.function import Function
from ganglion.autograd.grad_mode import STATE
from ganglion.tensor import Tensor

__all__ = ["RemovableHandle", "BackwardHook", "register_module_forward_pre_hook",
           "register_module_forward_hook", "register_module_full_backward_pre_hook",
           "register_module_full_backward_hook", "register_module_buffer_registration_hook",
           "register_module_module_registration_hook",
           "register_module_parameter_registration_hook"]


class RemovableHandle:
    """A handle that removes the hook it was returned for (``torch.utils.hooks.RemovableHandle``).

    Args:
        hooks_dict: the dict of hooks, keyed by handle ``id``.
        extra_dict: a dict (or list of dicts) whose entry with the same ``id`` goes too.
    """

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None) -> None:
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if isinstance(extra_dict, dict):
            extra_dict = [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in (extra_dict or ()))

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def add_hook(hooks, hook, prepend=False, extra=None, flags=()):
    """Store ``hook`` in the ordered dict ``hooks``; mark it in each dict of ``flags``."""
    handle = RemovableHandle(hooks, extra_dict=extra)
    hooks[handle.id] = hook
    for d in flags:
        d[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


# Hooks common to every module (torch.nn.modules.module's globals).
GLOBAL = {name: OrderedDict() for name in (
    "forward_pre", "forward", "forward_always", "forward_kwargs", "backward_pre", "backward",
    "buffer", "module", "parameter")}


def any_global_call_hook() -> bool:
    g = GLOBAL
    return bool(g["forward_pre"] or g["forward"] or g["backward_pre"] or g["backward"])


def register_module_forward_pre_hook(hook):
    """Register ``hook(module, args)`` to run before every module's forward."""
    return add_hook(GLOBAL["forward_pre"], hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """Register ``hook(module, args, output)`` (``(module, args, kwargs, output)`` with
    ``with_kwargs``) to run after every module's forward."""
    flags = ((GLOBAL["forward_always"],) if always_call else ()) + \
        ((GLOBAL["forward_kwargs"],) if with_kwargs else ())
    return add_hook(GLOBAL["forward"], hook,
                    extra=[GLOBAL["forward_always"], GLOBAL["forward_kwargs"]], flags=flags)


def hook_wants_kwargs(module, hook_id) -> bool:
    return hook_id in module._forward_hooks_with_kwargs or hook_id in GLOBAL["forward_kwargs"]


def register_module_full_backward_pre_hook(hook):
    """Register ``hook(module, grad_output)`` for every module."""
    return add_hook(GLOBAL["backward_pre"], hook)


def register_module_full_backward_hook(hook):
    """Register ``hook(module, grad_input, grad_output)`` for every module."""
    return add_hook(GLOBAL["backward"], hook)


def register_module_buffer_registration_hook(hook):
    """Register ``hook(module, name, buffer)``, run when any module registers a buffer."""
    return add_hook(GLOBAL["buffer"], hook)


def register_module_module_registration_hook(hook):
    """Register ``hook(module, name, submodule)``, run when any module registers a child."""
    return add_hook(GLOBAL["module"], hook)


def register_module_parameter_registration_hook(hook):
    """Register ``hook(module, name, param)``, run when any module registers a parameter."""
    return add_hook(GLOBAL["parameter"], hook)


def run_registration_hooks(kind, module, name, value):
    for hook in GLOBAL[kind].values():
        out = hook(module, name, value)
        if out is not None:
            value = out
    return value


def attach_legacy_backward_hooks(module, result):
    """``register_backward_hook`` (deprecated): hooks on the node that made the first output."""
    var = result
    while not isinstance(var, Tensor):
        var = next(v for v in var.values() if isinstance(v, Tensor)) \
            if isinstance(var, dict) else var[0]
    if var.grad_fn is not None:
        for hook in module._backward_hooks.values():
            var.grad_fn.register_hook(
                lambda gi, go, hook=hook: hook(module, tuple(gi), tuple(go)))


def run_always_called_hooks(module, state, called):
    """After forward raised: run the ``always_call`` forward hooks that did not run yet."""
    args, kwargs, result = state
    for hook_id, hook in (*GLOBAL["forward"].items(), *module._forward_hooks.items()):
        always = hook_id in module._forward_hooks_always_called or \
            hook_id in GLOBAL["forward_always"]
        if not always or hook_id in called:
            continue
        try:
            res = hook(module, args, kwargs, result) if hook_wants_kwargs(module, hook_id) \
                else hook(module, args, result)
            if res is not None:
                result = res
        except Exception as e:  # noqa: BLE001 - torch silences it: forward's error wins
            warnings.warn(f"module forward hook with ``always_call=True`` raised an exception "
                          f"that was silenced as another error was raised in forward: {e}",
                          stacklevel=2)


class BackwardHookFunction(Function):
    """Identity on every tensor argument; its node is where module backward hooks attach."""

    @staticmethod
    def forward(ctx, *args):
        needs = getattr(ctx, "needs_input_grad", None) or (False,) * len(args)
        outs = tuple(a.detach() for a in args)
        ctx.mark_non_differentiable(*[o for o, n in zip(outs, needs) if not n])
        return outs

    @staticmethod
    def backward(ctx, *grads):
        # grads of unused outputs arrive as zeros (materialized), which torch's hooks see too
        return grads


class BackwardHook:
    """Runs a module's full backward (pre-)hooks once both its grad_output and grad_input exist.

    ``setup_input_hook`` passes the module's tensor inputs through ``BackwardHookFunction`` and
    hooks the node to see grad_input; ``setup_output_hook`` does the same on the outputs to see
    (and let pre-hooks replace) grad_output.
    """

    def __init__(self, module, user_hooks, user_pre_hooks) -> None:
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    @staticmethod
    def _pack_with_none(indices, values, size):
        res = [None] * size
        for idx, val in zip(indices, values):
            res[idx] = val
        return tuple(res)

    def _input_hook(self, grad_input, _grad_output):
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing through the outputs (e.g. a
            # double backward): torch skips the user hooks then
            return None
        res = self._pack_with_none(self.input_tensors_index, grad_input, self.n_inputs)
        for hook in self.user_hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(res)}")
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_tensors_index)

    def _output_hook(self, _grad_input, grad_output):
        self.grad_outputs = self._pack_with_none(self.output_tensors_index, grad_output,
                                                 self.n_outputs)
        for pre in self.user_pre_hooks:
            new = pre(self.module, self.grad_outputs)
            if new is None:
                continue
            if len(new) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(new)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = tuple(new)
        local = self.grad_outputs
        if self.input_tensors_index is None:
            self._fire_without_inputs()
        return tuple(local[i] for i in self.output_tensors_index)

    def _fire_without_inputs(self):
        warnings.warn("Full backward hook is firing when gradients are computed with respect to "
                      "module outputs since no inputs require gradients.", stacklevel=5)
        grad_inputs = (None,) * self.n_inputs
        for hook in self.user_hooks:
            res = hook(self.module, grad_inputs, self.grad_outputs)
            if res is not None and not (isinstance(res, tuple) and all(r is None for r in res)):
                raise RuntimeError("Backward hook for Modules where no input requires gradient "
                                   "should always return None or None for all gradients.")
        self.grad_outputs = None

    def _apply_on_tensors(self, hook, args):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not (STATE.enabled and any(args[i].requires_grad for i in idx)):
            return args, None
        new = BackwardHookFunction.apply(*[args[i] for i in idx])
        node = next((t.grad_fn for t in new if t.grad_fn is not None), None)
        if node is None:
            raise RuntimeError("Error while setting up backward hooks: no output of the hook "
                               "function is attached to the graph.")
        node.register_hook(hook)
        out = list(args)
        for i, t in zip(idx, new):
            out[i] = t
        return (tuple(out) if type(args) is tuple else type(args)(*out)), idx

    def setup_input_hook(self, args):
        res, idx = self._apply_on_tensors(self._input_hook, args)
        self.n_inputs = len(args)
        self.input_tensors_index = idx
        return res

    def setup_output_hook(self, args):
        is_tuple = isinstance(args, tuple)
        if not is_tuple:
            args = (args,)
        res, idx = self._apply_on_tensors(self._output_hook, args)
        self.n_outputs = len(args)
        self.output_tensors_index = idx
        return res if is_tuple else res[0]
