"""export -> load: the loaded module computes what the original does, keeps its state_dict
names, and its gradients equal the original's, so it can be fine-tuned."""
import numpy as np
import pytest

import ganglion
from ganglion import models, nn, optim
from ganglion.onnx import load

from tests.onnx.helpers import batch_axes, export_bytes, outputs, rel_err
from tests.onnx.test_export_models import TokenTransformer, _ids, _randomize_bn


def _rnn_head(kind):
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(4, 6, num_layers=2, batch_first=True,
                                         bidirectional=True)
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            out = self.rnn(x)[0]
            return self.fc(out[:, -1])

    return Head()


CASES = {
    "mlp": (lambda: models.MLP(64, [32], 10), lambda b: ganglion.randn(b, 1, 8, 8)),
    "small_cnn": (lambda: models.SmallCNN(10, 1, 8), lambda b: ganglion.randn(b, 1, 8, 8)),
    "lenet5": (lambda: models.LeNet5(10, 1), lambda b: ganglion.randn(b, 1, 28, 28)),
    "resnet20": (lambda: _randomize_bn(models.resnet20(10, 3)),
                 lambda b: ganglion.randn(b, 3, 8, 8)),
    "lstm": (lambda: _rnn_head("LSTM"), lambda b: ganglion.randn(b, 5, 4)),
    "gru": (lambda: _rnn_head("GRU"), lambda b: ganglion.randn(b, 5, 4)),
    "transformer": (lambda: TokenTransformer(), lambda b: _ids(b, 6, b)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_outputs_names_gradients(name):
    ganglion.manual_seed(0)
    build, make = CASES[name]
    model = build().eval()
    data = export_bytes(model, make(2), input_names=["x"], dynamic_axes=batch_axes(["x"]))
    back = load(data)
    x = make(3)
    for g, r in zip(outputs(back, x), outputs(model, x)):
        assert rel_err(g, r) <= 1e-6
    # the same names: the original's state_dict loads into the loaded module
    orig = dict(model.state_dict())
    loaded = dict(back.state_dict())
    assert set(loaded) <= set(orig)
    assert all(k.endswith("num_batches_tracked") for k in set(orig) - set(loaded))
    # buffers (batch-norm statistics) load back as buffers, not as trainable parameters
    assert {k for k, _ in back.named_buffers()} <= {k for k, _ in model.named_buffers()}
    assert {k for k, _ in back.named_parameters()} <= {k for k, _ in model.named_parameters()}
    back.load_state_dict(orig, strict=False)
    # one backward: the gradients are the original's
    target = ganglion.tensor(np.arange(3) % 3)
    for m in (model, back):
        m.zero_grad()
        ganglion.nn.functional.cross_entropy(m(x), target).backward()
    grads = dict(model.named_parameters())
    for k, p in back.named_parameters():
        assert p.grad is not None, k
        np.testing.assert_allclose(p.grad.numpy(), grads[k].grad.numpy(), rtol=1e-4,
                                   atol=1e-6, err_msg=k)
    # and an optimizer step lowers the loss on that batch
    opt = optim.SGD(back.parameters(), lr=0.05)
    before = ganglion.nn.functional.cross_entropy(back(x), target).item()
    opt.step()
    after = ganglion.nn.functional.cross_entropy(back(x), target).item()
    assert after < before
