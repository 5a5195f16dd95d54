"""Op coverage of the exporter: small functions and layers, exported with a dynamic batch,
run by onnxruntime at two batch sizes, and loaded back with ganglion.onnx.load."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
from ganglion import nn
from ganglion.onnx import load

from tests.onnx.helpers import TOL, batch_axes, check_ort, outputs, rel_err


class Fn(nn.Module):
    def __init__(self, fn, *layers):
        super().__init__()
        self.fn = fn
        self.layers = nn.ModuleList(layers)

    def forward(self, *xs):
        return self.fn(self, *xs)


def _acts(m, x):
    fs = [F.relu, lambda t: F.leaky_relu(t, 0.1), F.elu, F.selu, F.celu, F.gelu,
          lambda t: F.gelu(t, approximate="tanh"), F.silu, F.mish,
          lambda t: F.softplus(t, beta=2.0), F.softsign, F.hardsigmoid, F.hardswish,
          lambda t: F.hardtanh(t, -0.5, 0.7), F.logsigmoid, F.tanhshrink,
          lambda t: F.hardshrink(t, 0.3), lambda t: F.softshrink(t, 0.3), ganglion.sigmoid,
          ganglion.tanh, lambda t: F.threshold(t, 0.2, -1.0), lambda t: F.elu(t, 0.5)]
    return ganglion.stack([f(x) for f in fs], 1)


def _math(m, x):
    a = x.abs() + 0.5
    fs = [x.exp(), a.log(), a.sqrt(), a.rsqrt(), x * x, x.square(), a.log1p(), x.expm1(),
          x.sin(), x.cos(), ganglion.erf(x), (x * 3).floor(), (x * 3).ceil(), (x * 3).round(),
          x.abs(), -x, a.reciprocal(), x.sign(), x.clamp(-0.5, 0.5), x.clamp(min=0.1),
          a.log2(), a.log10(), x ** 3, ganglion.maximum(x, x.transpose(1, 2) * 0.5),
          ganglion.where(x > 0, x, x * 0.1), x - 2 * x / a, (x * 2).clamp(max=1.0)]
    return ganglion.stack(fs, 0)


def _reduce(m, x):
    vals, idx = x.max(dim=1)
    return (x.sum(1), x.mean((1, 2), keepdim=True).flatten(), x.amax(2), x.amin((1, 2)),
            vals, idx, x.argmin(2), x.var(1), x.std(2, correction=0), x.logsumexp(2),
            x.cumsum(2), x.prod(2), x.softmax(-1), x.log_softmax(1), x.sum())


def _shape(m, x):
    n = x.shape[0]
    a, b = x.chunk(2, dim=2)
    return (x.view(n, -1), x.permute(2, 0, 1), x.transpose(1, 2).reshape(n, -1, 2),
            x.unsqueeze(1).squeeze(1), x.flatten(1), ganglion.cat([a, b * 2], 1),
            ganglion.stack([a, b], -1), x[:, :1].expand(n, 3, 4), x.repeat(1, 2, 1),
            x.flip(2), x[:, 1:3], x[..., -1], x[:, None, 0], x.narrow(2, 1, 2),
            ganglion.tril(x), ganglion.triu(x, 1), x.split([1, 3], dim=2)[1],
            F.pad(x, (1, 2)), F.pad(x, (0, 0, 2, 0), value=-1.0), x[:, 1], x.unbind(1)[2],
            x[:, ::2], x.mT)


class Positions(nn.Module):
    """A sliced buffer whose slice end is the input's (dynamic) sequence length."""

    def __init__(self):
        super().__init__()
        self.register_buffer("pe", ganglion.randn(1, 16, 4))

    def forward(self, x):
        t = x.shape[1]
        y = x + self.pe[:, :t]
        y[:, 0] = 0.0  # an in-place write
        return y.relu_() + ganglion.zeros(x.shape[0], t, 1) + ganglion.arange(t).float()[:, None]


_FLOAT_MASK = ganglion.tensor(np.random.default_rng(0).normal(size=(5, 5)).astype(np.float32))

CASES = {
    "activations": (lambda: Fn(_acts), (5, 7)),
    "math": (lambda: Fn(_math), (4, 4)),
    "reductions": (lambda: Fn(_reduce), (4, 5)),
    "shape_ops": (lambda: Fn(_shape), (4, 4)),
    "conv1d_groups_dilation": (lambda: nn.Sequential(
        nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), nn.Tanh()), (4, 11)),
    "conv2d_pool_variants": (lambda: nn.Sequential(
        nn.Conv2d(3, 4, (3, 2), padding=(1, 0), bias=False), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.AvgPool2d(2, 1, 1, count_include_pad=False), nn.PReLU(4), nn.AdaptiveAvgPool2d(1),
        nn.Flatten()), (3, 9, 10)),
    "conv_transpose_and_upsampling": (lambda: nn.Sequential(
        nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
        nn.Upsample(scale_factor=2, mode="bilinear"), nn.Upsample(size=(9, 13)),
        nn.AdaptiveAvgPool2d((4, 5))), (3, 5, 6)),
    "conv_transpose1d_groups_dilation": (lambda: nn.ConvTranspose1d(4, 2, 2, stride=3,
                                                                    groups=2, dilation=2),
                                         (4, 7)),
    "norms": (lambda: Fn(lambda m, x: (m.layers[0](x), m.layers[1](x), m.layers[2](x),
                                       m.layers[3](x.flatten(1)), m.layers[4](x)),
                         nn.GroupNorm(2, 4), nn.LayerNorm([5, 6]),
                         nn.LayerNorm(6, elementwise_affine=False), nn.BatchNorm1d(120),
                         nn.InstanceNorm2d(4, affine=True)), (4, 5, 6)),
    "attention_causal_and_masks": (lambda: Fn(lambda m, q: (
        F.scaled_dot_product_attention(q, q * 0.5, q, is_causal=True),
        F.scaled_dot_product_attention(q, q, q, attn_mask=ganglion.ones(5, 5).tril().bool()),
        F.scaled_dot_product_attention(q, q, q, attn_mask=_FLOAT_MASK))), (2, 5, 8)),
    "multihead_attention_weights": (lambda: Fn(lambda m, x: m.layers[0](x, x, x),
                                               nn.MultiheadAttention(8, 2, batch_first=True)),
                                    (5, 8)),
    "masked_fill_from_comparison": (lambda: Fn(lambda m, x: x.masked_fill(x < 0.1, -2.0)
                                               .softmax(-1)), (6,)),
    "positions_buffer_slice": (lambda: Positions(), (6, 4)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ops_match_onnxruntime_and_load_back(name):
    ganglion.manual_seed(0)
    build, shape = CASES[name]
    model = build()
    for mod in model.modules():  # non-trivial batch-norm statistics
        if isinstance(mod, nn.BatchNorm1d):
            mod.running_mean.array[...] = np.linspace(-1, 1, mod.num_features)
            mod.running_var.array[...] = np.linspace(0.5, 2, mod.num_features)
    dyn = [(1, "seq")] if name == "positions_buffer_slice" else []
    examples = [(ganglion.randn(2, *shape),), (ganglion.randn(3, *shape),)]
    if name == "positions_buffer_slice":
        examples.append((ganglion.randn(4, 9, 4),))
    data, _ = check_ort(model, examples, ["x"], batch_axes(["x"], *dyn))
    back = load(data)
    for (x,) in examples:
        for g, r in zip(outputs(back, x), outputs(model, x)):
            assert g.dtype == r.dtype
            assert rel_err(g, r) <= TOL


def test_gelu_is_one_node_from_opset_20():
    model = nn.Sequential(nn.Linear(3, 3), nn.GELU())
    from ganglion.onnx import export

    ops17 = [n.op_type for n in export(model, ganglion.randn(2, 3)).graph.node]
    ops20 = [n.op_type for n in export(model, ganglion.randn(2, 3), opset_version=20).graph.node]
    assert "Gelu" in ops20 and "Gelu" not in ops17 and "Erf" in ops17
