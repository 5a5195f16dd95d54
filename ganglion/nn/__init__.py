"""``ganglion.nn``: neural-network building blocks, as ``torch.nn``."""
from ganglion.nn import functional  # noqa: F401
from ganglion.nn.parameter import Buffer, Parameter  # noqa: F401
from ganglion.nn.module import Module  # noqa: F401
from ganglion.nn.containers import (ModuleDict, ModuleList, ParameterDict,  # noqa: F401
                                    ParameterList, Sequential)
from ganglion.nn.layers_basic import Flatten, Identity, Unflatten  # noqa: F401
from ganglion.nn.module_hooks import (  # noqa: F401
    register_module_buffer_registration_hook, register_module_forward_hook,
    register_module_forward_pre_hook, register_module_full_backward_hook,
    register_module_full_backward_pre_hook, register_module_module_registration_hook,
    register_module_parameter_registration_hook)
from ganglion.nn import init, utils  # noqa: F401
from ganglion.nn.summary import summary  # noqa: F401
from ganglion.nn.layers import *  # noqa: F401,F403,E402
from ganglion.nn.losses import *  # noqa: F401,F403,E402
