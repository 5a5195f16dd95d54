"""``ganglion.nn``: neural-network building blocks, as ``torch.nn``."""
from ganglion.nn import functional  # noqa: F401
from ganglion.nn.parameter import Buffer, Parameter  # noqa: F401
