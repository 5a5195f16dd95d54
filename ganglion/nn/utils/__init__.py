"""``ganglion.nn.utils``: gradient clipping and parameter/vector conversion, as
``torch.nn.utils``.

Example:
    >>> import ganglion
    >>> from ganglion.nn.utils import parameters_to_vector
    >>> parameters_to_vector([ganglion.ones(2, 2), ganglion.zeros(3)]).shape
    ganglion.Size([7])
"""
from ganglion.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                                         clip_grads_with_norm_, get_total_norm)
from ganglion.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters"]
from ganglion.nn.utils import rnn  # noqa: F401,E402
