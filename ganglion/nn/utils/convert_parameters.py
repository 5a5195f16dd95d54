"""``parameters_to_vector`` / ``vector_to_parameters`` (torch.nn.utils.convert_parameters).

Example:
    >>> import ganglion
    >>> from ganglion.nn.utils import parameters_to_vector, vector_to_parameters
    >>> ps = [ganglion.zeros(2), ganglion.zeros(1, 2)]
    >>> vector_to_parameters(ganglion.arange(4.0), ps)
    >>> ps[1]
    tensor([[2., 3.]])
"""
from __future__ import annotations

from ganglion.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param, old_param_device):
    """The device index shared by all parameters (-1 for the CPU); mixing devices raises."""
    index = param.get_device() if param.device.type == "cuda" else -1
    if old_param_device is not None and index != old_param_device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return index


def parameters_to_vector(parameters) -> Tensor:
    """Flatten and concatenate ``parameters`` into one 1-D tensor (differentiable).

    Example:
        >>> import ganglion
        >>> from ganglion.nn.utils import parameters_to_vector
        >>> parameters_to_vector([ganglion.ones(2), ganglion.zeros(1)])
        tensor([1., 1., 0.])
    """
    from ganglion.ops.movement import cat  # noqa: PLC0415 - keeps nn.utils import-light

    device, vec = None, []
    for param in parameters:
        device = _check_param_device(param, device)
        vec.append(param.reshape(-1))
    if not vec:
        raise RuntimeError("parameters_to_vector: expected a non-empty iterable of tensors "
                           "(torch.cat() of an empty list fails the same way).")
    return cat(vec)


def vector_to_parameters(vec, parameters) -> None:
    """Point each parameter's data at the matching slice of the 1-D ``vec`` (shared memory,
    as torch's ``param.data = vec[a:b].view_as(param)``).

    Example:
        >>> import ganglion
        >>> from ganglion.nn.utils import vector_to_parameters
        >>> p = ganglion.zeros(2)
        >>> vector_to_parameters(ganglion.tensor([5.0, 6.0]), [p]); p
        tensor([5., 6.])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected ganglion.Tensor, but got: {type(vec).__name__}")
    device, pointer = None, 0
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.numel() < total:
        raise RuntimeError(f"vector_to_parameters: vec has {vec.numel()} elements but the "
                           f"parameters need {total}.")
    for param in parameters:
        device = _check_param_device(param, device)
        n = param.numel()
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n
