"""Every layer against its torch.nn twin: same constructor call on both libraries, ganglion's
weights copied into torch, then outputs, input and parameter gradients, buffers (running
statistics), state_dict keys and repr compared, in train and eval mode."""
import numpy as np
import pytest

import ganglion
from ganglion import nn

torch = pytest.importorskip("torch")

# (constructor taking the library's nn, input shapes, integer input high (None: float input))
CASES = {
    "Linear": (lambda n: n.Linear(5, 3), [(4, 5)]),
    "Linear_nobias_3d": (lambda n: n.Linear(5, 3, bias=False), [(2, 4, 5)]),
    "Bilinear": (lambda n: n.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    "Conv1d": (lambda n: n.Conv1d(3, 4, 3, stride=2, padding=1), [(2, 3, 9)]),
    "Conv1d_same_reflect": (lambda n: n.Conv1d(2, 3, 4, padding="same", padding_mode="reflect"),
                            [(2, 2, 8)]),
    "Conv2d": (lambda n: n.Conv2d(3, 4, 3, padding=1), [(2, 3, 6, 6)]),
    "Conv2d_groups_dilation": (lambda n: n.Conv2d(4, 8, 3, dilation=2, groups=2, bias=False),
                               [(2, 4, 9, 9)]),
    "Conv2d_depthwise_circular": (lambda n: n.Conv2d(3, 3, 3, padding=1, groups=3,
                                                     padding_mode="circular"), [(1, 3, 5, 5)]),
    "Conv2d_replicate_stride": (lambda n: n.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 2),
                                                   padding_mode="replicate"), [(2, 2, 7, 6)]),
    "ConvTranspose1d": (lambda n: n.ConvTranspose1d(3, 2, 3, stride=2, output_padding=1),
                        [(2, 3, 5)]),
    "ConvTranspose2d": (lambda n: n.ConvTranspose2d(4, 2, 3, stride=2, padding=1, groups=2),
                        [(2, 4, 4, 4)]),
    "MaxPool1d": (lambda n: n.MaxPool1d(3, 2, padding=1, ceil_mode=True), [(2, 3, 8)]),
    "MaxPool2d": (lambda n: n.MaxPool2d(2), [(2, 3, 6, 6)]),
    "AvgPool1d": (lambda n: n.AvgPool1d(3, 2), [(2, 3, 9)]),
    "AvgPool2d": (lambda n: n.AvgPool2d(3, 2, padding=1, count_include_pad=False),
                  [(2, 3, 7, 7)]),
    "AdaptiveAvgPool1d": (lambda n: n.AdaptiveAvgPool1d(4), [(2, 3, 10)]),
    "AdaptiveAvgPool2d": (lambda n: n.AdaptiveAvgPool2d((3, 2)), [(2, 3, 7, 5)]),
    "AdaptiveMaxPool2d": (lambda n: n.AdaptiveMaxPool2d(3), [(2, 3, 7, 8)]),
    "BatchNorm1d": (lambda n: n.BatchNorm1d(4), [(8, 4)]),
    "BatchNorm1d_3d": (lambda n: n.BatchNorm1d(4, momentum=None), [(3, 4, 5)]),
    "BatchNorm2d": (lambda n: n.BatchNorm2d(3), [(4, 3, 5, 5)]),
    "BatchNorm2d_noaffine": (lambda n: n.BatchNorm2d(3, affine=False), [(4, 3, 2, 2)]),
    "BatchNorm2d_nostats": (lambda n: n.BatchNorm2d(3, track_running_stats=False),
                            [(4, 3, 2, 2)]),
    "LayerNorm": (lambda n: n.LayerNorm(6), [(3, 4, 6)]),
    "LayerNorm_2d_nobias": (lambda n: n.LayerNorm((4, 6), bias=False), [(3, 4, 6)]),
    "GroupNorm": (lambda n: n.GroupNorm(2, 4), [(3, 4, 5, 5)]),
    "InstanceNorm1d": (lambda n: n.InstanceNorm1d(3), [(2, 3, 7)]),
    "InstanceNorm2d_affine_stats": (lambda n: n.InstanceNorm2d(3, affine=True,
                                                               track_running_stats=True),
                                    [(2, 3, 4, 4)]),
    "RMSNorm": (lambda n: n.RMSNorm(6, eps=1e-6), [(3, 6)]),
    "Embedding": (lambda n: n.Embedding(10, 4, padding_idx=2), [(3, 5)], 10),
    "EmbeddingBag": (lambda n: n.EmbeddingBag(10, 4, mode="sum"), [(3, 5)], 10),
    "Upsample_nearest": (lambda n: n.Upsample(scale_factor=2), [(1, 2, 3, 3)]),
    "Upsample_bilinear": (lambda n: n.Upsample(size=(5, 7), mode="bilinear",
                                               align_corners=False), [(1, 2, 3, 4)]),
    "PixelShuffle": (lambda n: n.PixelShuffle(2), [(1, 8, 3, 3)]),
    "PixelUnshuffle": (lambda n: n.PixelUnshuffle(2), [(1, 2, 4, 6)]),
    "Flatten": (lambda n: n.Flatten(), [(2, 3, 4)]),
    "PReLU": (lambda n: n.PReLU(3), [(2, 3, 4)]),
    "Sequential_mlp": (lambda n: n.Sequential(n.Linear(6, 8), n.GELU(), n.Dropout(0.0),
                                              n.Linear(8, 2)), [(4, 6)]),
}
ACTIVATIONS = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
               "Softplus", "Softsign", "Hardtanh", "Hardsigmoid", "Hardswish", "LogSigmoid",
               "Tanhshrink", "Sigmoid", "Tanh", "Hardshrink", "Softshrink", "GLU"]
for _name in ACTIVATIONS:
    CASES[_name] = ((lambda name: lambda n: getattr(n, name)())(_name), [(3, 4)])
for _name in ("Softmax", "LogSoftmax", "Softmin"):
    CASES[_name] = ((lambda name: lambda n: getattr(n, name)(dim=1))(_name), [(3, 4)])


def _inputs(shapes, high, seed=0):
    rng = np.random.default_rng(seed)
    if high is not None:
        return [rng.integers(0, high, s).astype(np.int64) for s in shapes]
    return [rng.uniform(-2, 2, s).astype(np.float32) for s in shapes]


def _copy_into_torch(g_mod, t_mod):
    state = {k: torch.from_numpy(np.array(v.array)) for k, v in g_mod.state_dict().items()}
    t_mod.load_state_dict(state)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_layer_matches_torch(name, mode):
    ctor, shapes, *high = CASES[name]
    high = high[0] if high else None
    ganglion.manual_seed(0)
    g_mod, t_mod = ctor(nn), ctor(torch.nn)
    assert list(g_mod.state_dict()) == list(t_mod.state_dict()), "state_dict keys differ"
    assert repr(g_mod) == repr(t_mod), (repr(g_mod), repr(t_mod))
    _copy_into_torch(g_mod, t_mod)
    getattr(g_mod, mode)()
    getattr(t_mod, mode)()
    arrays = _inputs(shapes, high)
    float_in = high is None
    g_in = [ganglion.tensor(a, requires_grad=float_in) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=float_in) for a in arrays]
    g_out, t_out = g_mod(*g_in), t_mod(*t_in)
    np.testing.assert_allclose(g_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    cot = np.random.default_rng(1).uniform(0.5, 1.5, tuple(t_out.shape)).astype(np.float32)
    (g_out * ganglion.tensor(cot)).sum().backward()
    (t_out * torch.tensor(cot)).sum().backward()
    if float_in:
        for gi, ti in zip(g_in, t_in):
            np.testing.assert_allclose(gi.grad.numpy(), ti.grad.numpy(), rtol=1e-4, atol=1e-5)
    t_params = dict(t_mod.named_parameters())
    for pname, p in g_mod.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[pname].grad.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=pname)
    t_state = t_mod.state_dict()
    for bname, b in g_mod.named_buffers():  # running statistics after the step
        np.testing.assert_allclose(b.numpy(), t_state[bname].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=bname)


def test_default_init_statistics_match_torch():
    # kaiming_uniform_(a=sqrt(5)) gives U(+-1/sqrt(fan_in)) for weight and bias
    lin = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    for p in (lin.weight, lin.bias):
        a = p.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound and a.std() > bound / 2
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound
    emb = nn.Embedding(1000, 16, padding_idx=0)
    w = emb.weight.detach().numpy()
    assert np.all(w[0] == 0) and abs(w[1:].std() - 1) < 0.05


@pytest.mark.parametrize("build,x_shape,match", [
    (lambda: nn.Conv2d(3, 8, 3), (1, 4, 8, 8), "channels|3"),
    (lambda: nn.Conv2d(3, 8, 5), (1, 3, 3, 3), "kernel|size"),
    (lambda: nn.Linear(512, 10), (32, 784), "in_features=512"),
    (lambda: nn.BatchNorm2d(4), (2, 3, 5, 5), "BatchNorm2d.*4"),
    (lambda: nn.BatchNorm1d(4), (2, 4, 5, 5), "BatchNorm1d"),
])
def test_layer_errors_name_layer_and_shapes(build, x_shape, match):
    with pytest.raises((RuntimeError, ValueError), match=match):
        build()(ganglion.randn(*x_shape))


def test_constructor_validation():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 8, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 8, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)


def test_dropout_layer_train_and_eval():
    d = nn.Dropout(0.5)
    x = ganglion.ones(1000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())


def test_conv_transpose_output_size():
    g = nn.ConvTranspose2d(2, 3, 3, stride=2)
    t = torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    assert tuple(g(ganglion.tensor(x), output_size=[10, 10]).shape) == \
        tuple(t(torch.tensor(x), output_size=[10, 10]).shape)
    with pytest.raises(ValueError, match="output size"):
        g(ganglion.tensor(x), output_size=[20, 20])


def test_embedding_from_pretrained_frozen():
    w = ganglion.randn(5, 3)
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(ganglion.tensor([4])).numpy()[0], w.numpy()[4])


def test_maxpool_indices_and_unpool_match_torch():
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    outs = []
    for lib, mk in ((nn, ganglion.tensor), (torch.nn, torch.tensor)):
        pool = lib.MaxPool2d(2, return_indices=True, ceil_mode=True)
        unpool = lib.MaxUnpool2d(2)
        xi = mk(x, requires_grad=True)
        y, idx = pool(xi)
        z = unpool(y, idx)
        (z * z).sum().backward()
        outs.append((y.detach().numpy(), idx.numpy(), z.detach().numpy(), xi.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_embedding_max_norm_renormalises_like_torch():
    w = np.random.default_rng(3).standard_normal((6, 4)).astype(np.float32) * 3
    idx = np.array([[1, 2, 2], [5, 0, 1]])
    g = nn.Embedding.from_pretrained(ganglion.tensor(w), freeze=False, max_norm=1.0)
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, max_norm=1.0)
    np.testing.assert_allclose(g(ganglion.tensor(idx)).detach().numpy(),
                               t(torch.tensor(idx)).detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(g.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-5)


def test_dropout2d_zeroes_whole_channels_and_unflatten():
    d = nn.Dropout2d(0.5)
    y = d(ganglion.ones(4, 16, 3, 3)).numpy()
    per_channel = y.reshape(4, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    u_g, u_t = nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3))
    assert tuple(u_g(ganglion.ones(4, 6)).shape) == tuple(u_t(torch.ones(4, 6)).shape)
    assert repr(u_g) == repr(u_t)
