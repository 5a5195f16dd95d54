"""ganglion: a complete deep learning framework on NumPy, with PyTorch's API.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""
from __future__ import annotations

import warnings as _warnings

from ganglion import autograd
from ganglion.autograd import enable_grad, inference_mode, no_grad, set_grad_enabled
from ganglion.autograd.grad_mode import is_grad_enabled, is_inference_mode_enabled
from ganglion.backend.device import cuda_is_available as _cuda_is_available, device
from ganglion.backend.dtypes import (bool, double, dtype, float, float16, float32, float64,
                                     get_default_dtype, half, int, int8, int16, int32, int64,
                                     long, promote_types, set_default_dtype, short, uint8)
from ganglion.backend.random import (Generator, default_generator, get_rng_state, initial_seed,
                                     manual_seed, seed, set_rng_state)
from ganglion.backend.threads import get_num_threads, set_num_threads  # noqa: E402,F401
from ganglion.tensor import Size, Tensor
from ganglion.ops.arith import *  # noqa: F401,F403,E402
from ganglion.ops.compare import *  # noqa: F401,F403,E402
from ganglion.ops.creation import *  # noqa: F401,F403,E402
from ganglion.ops.unary import *  # noqa: F401,F403,E402
from ganglion.ops.reduce import *  # noqa: F401,F403,E402
from ganglion.ops.movement import *  # noqa: F401,F403,E402
from ganglion.ops.indexing import *  # noqa: F401,F403,E402
from ganglion.ops.linalg import *  # noqa: F401,F403,E402
from ganglion.ops.random import *  # noqa: F401,F403,E402
from ganglion.ops import linalg_namespace as linalg  # noqa: E402
# The nn-level ops that torch also has at its top level (the rest live in nn.functional only).
from ganglion.ops.activation import (celu, celu_, hardshrink, log_softmax, prelu,  # noqa: E402
                                     relu, relu_, rrelu, rrelu_, selu, selu_, softmax,
                                     threshold, threshold_)
from ganglion.ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d,  # noqa: E402
                               conv_transpose2d, conv_transpose3d)
from ganglion.ops.embedding import embedding, embedding_bag  # noqa: E402
from ganglion.ops.loss import (binary_cross_entropy_with_logits, cosine_embedding_loss,  # noqa: E402,E501
                               cosine_similarity, hinge_embedding_loss, kl_div,
                               margin_ranking_loss, pairwise_distance, poisson_nll_loss,
                               triplet_margin_loss)
from ganglion.ops.norm import batch_norm, group_norm, instance_norm, layer_norm, rms_norm  # noqa: E402,E501
from ganglion.ops.pool import (adaptive_avg_pool1d, adaptive_max_pool1d, avg_pool1d,  # noqa: E402
                               max_pool1d, max_pool2d, max_pool3d)
from ganglion.ops.upsample import pixel_shuffle, pixel_unshuffle  # noqa: E402
from ganglion.ops.recurrent import (gru, gru_cell, lstm, lstm_cell, rnn_relu,  # noqa: E402
                                    rnn_relu_cell, rnn_tanh, rnn_tanh_cell)
from ganglion import nn  # noqa: E402,F401
from ganglion import optim  # noqa: E402,F401
from ganglion import io  # noqa: E402,F401
from ganglion import utils  # noqa: E402,F401
from ganglion.io import load, save  # noqa: E402,F401

# NumPy reports overflow/invalid values as RuntimeWarnings; torch is silent. Filtering by the
# module the warning comes from costs nothing per op (np.errstate costs ~1 us per call).
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ganglion(\.|$)")

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:
    return input.is_floating_point()


def numel(input) -> int:
    return input.numel()


def result_type(tensor1, tensor2) -> dtype:
    from ganglion.backend.dtypes import result_type_of  # noqa: PLC0415

    return result_type_of(tensor1, tensor2)


def can_cast(from_, to) -> bool:
    return from_.category <= to.category or from_ is to


class cuda:  # noqa: N801 - torch's namespace ``torch.cuda``
    """``ganglion.cuda.is_available()`` and ``device_count()``, backed by CuPy."""

    @staticmethod
    def is_available() -> bool:
        return _cuda_is_available()

    @staticmethod
    def device_count() -> int:
        if not _cuda_is_available():
            return 0
        import cupy  # noqa: PLC0415

        return cupy.cuda.runtime.getDeviceCount()

    @staticmethod
    def manual_seed(seed: int) -> None:
        manual_seed(seed)

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        manual_seed(seed)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """Accepted for torch compatibility; ganglion prints with torch's default options."""
