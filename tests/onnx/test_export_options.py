"""torch.onnx.export's options: a path, params as inputs, initializers kept as inputs, keyword
arguments in the args tuple, unknown options refused."""
import numpy as np
import pytest

import ganglion
from ganglion import nn
from ganglion.onnx import export, load

from tests.onnx.helpers import outputs, rel_err, session


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x, scale=1.0):
        return self.fc(x) * scale


def test_path_and_keyword_arguments(tmp_path):
    model = Scaled()
    x = ganglion.randn(4, 3)
    path = tmp_path / "m.onnx"
    export(model, (x, {"scale": 3.0}), str(path), input_names=["x"], output_names=["y"])
    got = session(path.read_bytes()).run(None, {"x": x.numpy()})[0]
    assert rel_err(got, outputs(model, x, 3.0)[0]) <= 1e-6
    assert rel_err(outputs(load(path), x)[0], got) <= 1e-6


def test_params_as_inputs_and_kept_initializers():
    model = Scaled()
    x = ganglion.randn(4, 3)
    proto = export(model, x, None, export_params=False)
    assert not proto.graph.initializer
    assert [i.name for i in proto.graph.input] == ["x", "fc.weight", "fc.bias"]
    feeds = {"x": x.numpy(), "fc.weight": model.fc.weight.detach().numpy(),
             "fc.bias": model.fc.bias.detach().numpy()}
    got = session(proto.SerializeToString()).run(None, feeds)[0]
    assert rel_err(got, outputs(model, x)[0]) <= 1e-6
    kept = export(model, x, None, keep_initializers_as_inputs=True)
    assert len(kept.graph.initializer) == 2 and len(kept.graph.input) == 3
    assert rel_err(outputs(load(kept), x)[0], outputs(model, x)[0]) <= 1e-6


def test_unknown_options_are_refused_and_torch_only_ones_accepted():
    model = Scaled()
    with pytest.raises(TypeError, match="dynamic_axis"):
        export(model, ganglion.randn(2, 3), dynamic_axis={"x": [0]})
    export(model, ganglion.randn(2, 3), operator_export_type=None, dynamo=False)
    assert np.isfinite(outputs(model, ganglion.randn(2, 3))[0]).all()
