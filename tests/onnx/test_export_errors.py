"""What the exporter refuses, and how it says so."""
import numpy as np
import pytest

import ganglion
from ganglion import nn
from ganglion.onnx import TraceError, export

from tests.onnx.helpers import check_ort


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_op_without_converter_is_named():
    model = Fn(lambda x: ganglion.linalg.inv(x @ x.mT + ganglion.eye(3)))
    with pytest.raises(TraceError, match=r"the op Inv .*no ONNX converter"):
        export(model, ganglion.randn(2, 3, 3))


def test_custom_function_exports_its_forward_or_is_refused():
    class Twice(ganglion.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2 + 1  # ganglion ops: traced like any other

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class OnArrays(Twice):
        @staticmethod
        def forward(ctx, x):
            return ganglion.tensor(np.tanh(x.numpy()))  # NumPy: invisible to the trace

    check_ort(Fn(Twice.apply), [(ganglion.randn(2, 3),)], ["x"])
    with pytest.raises(TraceError, match="outside the traced ops"):
        export(Fn(OnArrays.apply), ganglion.randn(2, 3))


def test_value_read_out_of_the_input_is_refused():
    with pytest.raises(TraceError, match="Python number"):
        export(Fn(lambda x: x * float(x.abs().max())), ganglion.randn(2, 3))
    with pytest.raises(TraceError, match="outside the traced ops"):
        export(Fn(lambda x: x + ganglion.tensor(x.numpy() * 2)), ganglion.randn(2, 3))


def test_size_dependent_control_flow_is_refused():
    def branchy(x):
        return x.relu() if x.shape[0] < 3 else x.tanh()

    with pytest.raises(TraceError, match="control flow depends on the input"):
        export(Fn(branchy), ganglion.randn(2, 3), dynamic_axes={"x": {0: "batch"}})


def test_without_dynamic_axes_the_batch_is_fixed():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    data, _ = check_ort(model, [(ganglion.randn(2, 3, 4),)], ["input"])
    import onnxruntime as ort

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception):  # the graph declares batch 2
        sess.run(None, {"input": np.zeros((3, 3, 4), np.float32)})


def test_training_mode_and_bad_opset_are_refused():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    with pytest.raises(ValueError, match="training mode is not exported"):
        export(model, ganglion.randn(2, 3), training="train")
    with pytest.raises(ValueError, match="opset_version=11 is not supported"):
        export(model, ganglion.randn(2, 3), opset_version=11)
    model.train()
    export(model, ganglion.randn(2, 3))  # eval while tracing (default), then restored
    assert model.training and model[1].training


def test_maxpool_indices_are_refused():
    pool = nn.MaxPool2d(2, return_indices=True)
    with pytest.raises(TraceError, match="output 1 of MaxPool"):
        export(Fn(lambda x: pool(x)[1].float()), ganglion.randn(1, 1, 4, 4))


def test_bad_names_and_axes():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="2 output_names for the 1 tensors"):
        export(model, ganglion.randn(2, 3), output_names=["a", "b"])
    with pytest.raises(ValueError, match="dynamic axis 2 of input 'input' is out of range"):
        export(model, ganglion.randn(2, 3), dynamic_axes={"input": [2]})
