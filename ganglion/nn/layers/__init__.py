"""Layer modules of ``ganglion.nn`` (re-exported there)."""
from ganglion.nn.layers.activation import *  # noqa: F401,F403
from ganglion.nn.layers.conv import *  # noqa: F401,F403
from ganglion.nn.layers.dropout import *  # noqa: F401,F403
from ganglion.nn.layers.linear import *  # noqa: F401,F403
from ganglion.nn.layers.normalization import *  # noqa: F401,F403
from ganglion.nn.layers.pooling import *  # noqa: F401,F403
from ganglion.nn.layers.sparse import *  # noqa: F401,F403
from ganglion.nn.layers.upsampling import *  # noqa: F401,F403
from ganglion.nn.layers.attention import *  # noqa: F401,F403
from ganglion.nn.layers.positional import *  # noqa: F401,F403
from ganglion.nn.layers.transformer import *  # noqa: F401,F403
from ganglion.nn.layers.rnn import *  # noqa: F401,F403
