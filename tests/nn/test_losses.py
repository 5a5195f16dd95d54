"""Loss modules against torch.nn's: same constructor call, same inputs, value and gradients."""
import numpy as np
import pytest

import ganglion
from ganglion import nn

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)
LOGITS = R.standard_normal((6, 4)).astype(np.float32)
CLASSES = R.integers(0, 4, 6).astype(np.int64)
PROBS = R.uniform(0.05, 0.95, (6, 4)).astype(np.float32)
TARGET01 = (R.uniform(size=(6, 4)) > 0.5).astype(np.float32)
Y = R.standard_normal((6, 4)).astype(np.float32)
SIGN = np.where(R.uniform(size=6) > 0.5, 1.0, -1.0).astype(np.float32)
W4 = R.uniform(0.5, 2, 4).astype(np.float32)

# name: (constructor on the library's nn, lambda lib -> extra constructor kwargs tensors,
#        input arrays, which inputs get gradients)
CASES = {
    "L1": (lambda n, t: n.L1Loss(), [LOGITS, Y], [0]),
    "MSE_sum": (lambda n, t: n.MSELoss(reduction="sum"), [LOGITS, Y], [0]),
    "SmoothL1_beta": (lambda n, t: n.SmoothL1Loss(beta=0.5), [LOGITS, Y], [0]),
    "Huber": (lambda n, t: n.HuberLoss(delta=0.7, reduction="none"), [LOGITS, Y], [0]),
    "BCE_weight": (lambda n, t: n.BCELoss(weight=t(W4)), [PROBS, TARGET01], [0]),
    "BCEWithLogits_pos": (lambda n, t: n.BCEWithLogitsLoss(pos_weight=t(W4)),
                          [LOGITS, TARGET01], [0]),
    "CrossEntropy": (lambda n, t: n.CrossEntropyLoss(), [LOGITS, CLASSES], [0]),
    "CrossEntropy_all": (lambda n, t: n.CrossEntropyLoss(weight=t(W4), ignore_index=1,
                                                         label_smoothing=0.1),
                         [LOGITS, CLASSES], [0]),
    "CrossEntropy_probs": (lambda n, t: n.CrossEntropyLoss(), [LOGITS, PROBS / PROBS.sum(1,
                                                                                      keepdims=True)],
                           [0]),
    "NLL": (lambda n, t: n.NLLLoss(weight=t(W4)), [LOGITS, CLASSES], [0]),
    "KLDiv_batchmean": (lambda n, t: n.KLDivLoss(reduction="batchmean"), [LOGITS, PROBS], [0]),
    "KLDiv_logtarget": (lambda n, t: n.KLDivLoss(reduction="sum", log_target=True),
                        [LOGITS, Y], [0]),
    "PoissonNLL": (lambda n, t: n.PoissonNLLLoss(), [LOGITS, PROBS], [0]),
    "GaussianNLL": (lambda n, t: n.GaussianNLLLoss(), [LOGITS, Y, PROBS], [0, 2]),
    "CosineEmbedding": (lambda n, t: n.CosineEmbeddingLoss(margin=0.2), [LOGITS, Y, SIGN],
                        [0, 1]),
    "MarginRanking": (lambda n, t: n.MarginRankingLoss(margin=0.1),
                      [LOGITS[:, 0], Y[:, 0], SIGN], [0, 1]),
    "HingeEmbedding": (lambda n, t: n.HingeEmbeddingLoss(), [LOGITS[:, 0], SIGN], [0]),
    "TripletMargin": (lambda n, t: n.TripletMarginLoss(margin=0.5), [LOGITS, Y, PROBS],
                      [0, 1, 2]),
    "MultiLabelSoftMargin": (lambda n, t: n.MultiLabelSoftMarginLoss(), [LOGITS, TARGET01],
                             [0]),
    "SoftMargin": (lambda n, t: n.SoftMarginLoss(), [LOGITS, np.sign(Y)], [0]),
    "MultiMargin": (lambda n, t: n.MultiMarginLoss(), [LOGITS, CLASSES], [0]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_module_matches_torch(name):
    ctor, arrays, diff = CASES[name]
    g_loss = ctor(nn, ganglion.tensor)
    t_loss = ctor(torch.nn, torch.tensor)
    assert repr(g_loss) == repr(t_loss)
    g_in = [ganglion.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    t_in = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    g_out, t_out = g_loss(*g_in), t_loss(*t_in)
    np.testing.assert_allclose(g_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    g_out.sum().backward()
    t_out.sum().backward()
    for i in diff:
        np.testing.assert_allclose(g_in[i].grad.numpy(), t_in[i].grad.numpy(), rtol=1e-4,
                                   atol=1e-6)


def test_weight_is_a_buffer_in_state_dict():
    g = nn.CrossEntropyLoss(weight=ganglion.ones(3))
    t = torch.nn.CrossEntropyLoss(weight=torch.ones(3))
    assert list(g.state_dict()) == list(t.state_dict()) == ["weight"]


def test_legacy_size_average_maps_to_reduction():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="average")


def test_loss_errors_name_the_loss():
    with pytest.raises(IndexError, match="cross_entropy: Target 5 is out of bounds"):
        nn.CrossEntropyLoss()(ganglion.randn(2, 3), ganglion.tensor([0, 5]))
    with pytest.raises((RuntimeError, ValueError), match="nll_loss|Long|dtype"):
        nn.NLLLoss()(ganglion.randn(2, 3), ganglion.tensor([0.0, 1.0]))
