"""``ganglion.optim``: optimizers and learning-rate schedulers with torch.optim's semantics.

Every optimizer takes the same arguments as its torch counterpart, keeps torch's per-parameter
state names and state-dict format, and updates the parameters' NumPy arrays in place with a
fused kernel (see ``ganglion/optim/_fused.py``).

Example:
    >>> import ganglion
    >>> from ganglion import optim
    >>> w = ganglion.nn.Parameter(ganglion.zeros(3))
    >>> opt = optim.Adam([w], lr=1e-3)
    >>> sched = optim.lr_scheduler.StepLR(opt, step_size=10)
    >>> type(opt).__name__, sched.get_last_lr()
    ('Adam', [0.001])
"""
from ganglion.optim import lr_scheduler  # noqa: F401
from ganglion.optim.adadelta import Adadelta
from ganglion.optim.adagrad import Adagrad
from ganglion.optim.adam import Adam
from ganglion.optim.adamax import Adamax
from ganglion.optim.adamw import AdamW
from ganglion.optim.nadam import NAdam
from ganglion.optim.optimizer import Optimizer
from ganglion.optim.radam import RAdam
from ganglion.optim.rmsprop import RMSprop
from ganglion.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "NAdam", "RAdam", "lr_scheduler"]
