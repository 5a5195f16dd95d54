"""ganglion.onnx.load on graphs built here with onnx.helper: outputs against onnxruntime,
gradients against torch on the same weights, names, and the errors for what it cannot run."""
import numpy as np
import pytest

import ganglion
from ganglion import optim
from ganglion.onnx import UnsupportedONNXError, load

from tests.onnx.helpers import TOL, outputs, rel_err, session

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F32 = TensorProto.FLOAT


def _model(nodes, inputs, outputs_, inits, opset=17):
    g = helper.make_graph(nodes, "test", inputs, outputs_,
                          [numpy_helper.from_array(a, n) for n, a in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def _vi(name, shape, t=F32):
    return helper.make_tensor_value_info(name, t, shape)


def _compare_ort(m, feeds):
    data = m.SerializeToString()
    want = session(data).run(None, feeds)
    module = load(data)
    got = outputs(module, *[ganglion.tensor(v) for v in feeds.values()])
    for g, w in zip(got, want):
        assert rel_err(g, w) <= TOL
    return module


def _rng(seed=0):
    return np.random.default_rng(seed)


def _mlp_graph():
    r = _rng()
    inits = {"fc1.weight": r.normal(0, 0.5, (8, 4)).astype(np.float32),
             "fc1.bias": r.normal(0, 0.1, 8).astype(np.float32),
             "fc2.weight": r.normal(0, 0.5, (3, 8)).astype(np.float32),
             "fc2.bias": r.normal(0, 0.1, 3).astype(np.float32)}
    nodes = [helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["a"]),
             helper.make_node("Gemm", ["a", "fc2.weight", "fc2.bias"], ["z"], transB=1),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1)]
    return _model(nodes, [_vi("x", ["N", 4])], [_vi("y", ["N", 3])], inits), inits


def test_mlp_graph_outputs_names_and_gradients_match():
    m, inits = _mlp_graph()
    x = _rng(1).normal(size=(5, 4)).astype(np.float32)
    module = _compare_ort(m, {"x": x})
    assert sorted(n for n, _ in module.named_parameters()) == sorted(inits)
    torch = pytest.importorskip("torch")
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in inits.items()}
    tz = torch.relu(torch.tensor(x) @ tp["fc1.weight"].T + tp["fc1.bias"])
    ty = torch.softmax(tz @ tp["fc2.weight"].T + tp["fc2.bias"], -1)
    (ty[:, 0] * 3 - ty[:, 2]).sum().backward()
    y = module(ganglion.tensor(x))
    (y[:, 0] * 3 - y[:, 2]).sum().backward()
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-5, atol=1e-6)


def test_loaded_graph_fine_tunes():
    m, _ = _mlp_graph()
    module = load(m)
    r = _rng(2)
    x = ganglion.tensor(r.normal(size=(32, 4)).astype(np.float32))
    t = ganglion.tensor(r.integers(0, 3, 32))
    opt = optim.SGD(module.parameters(), lr=0.5)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = ganglion.nn.functional.nll_loss(module(x).log(), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_cnn_graph_with_shapes_computed_in_graph():
    r = _rng(3)
    inits = {"conv.weight": r.normal(0, 0.3, (4, 2, 3, 3)).astype(np.float32),
             "conv.bias": r.normal(0, 0.1, 4).astype(np.float32),
             "fc.weight": r.normal(0, 0.2, (8, 5)).astype(np.float32),
             "fc.bias": r.normal(0, 0.1, 5).astype(np.float32),
             "minus_one": np.array([-1], np.int64), "zero": np.array([0], np.int64)}
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], pads=[1, 0, 1, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["p"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Concat", ["n", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["p", "target"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc.weight"], ["mm"]),
        helper.make_node("Add", ["mm", "fc.bias"], ["z"]),
        helper.make_node("LogSoftmax", ["z"], ["y"], axis=1)]
    m = _model(nodes, [_vi("x", ["N", 2, 4, 3])], [_vi("y", ["N", 5])], inits)
    _compare_ort(m, {"x": r.normal(size=(3, 2, 4, 3)).astype(np.float32)})


def test_movement_reduction_and_selection_ops():
    r = _rng(4)
    inits = {"scale": r.uniform(0.5, 1.5, 6).astype(np.float32),
             "w": r.normal(size=(6, 6)).astype(np.float32),
             "c": r.normal(size=(6,)).astype(np.float32),
             "starts": np.array([-1], np.int64), "ends": np.array([-100], np.int64),
             "axes": np.array([1], np.int64), "steps": np.array([-2], np.int64),
             "ax0": np.array([0], np.int64), "shape": np.array([2, 1, 6], np.int64)}
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["x", "mean"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("ReduceMean", ["d2"], ["var"], axes=[1], keepdims=1),
        helper.make_node("Sqrt", ["var"], ["std"]),
        helper.make_node("Div", ["d", "std"], ["norm"]),
        helper.make_node("Mul", ["norm", "scale"], ["ln"]),
        helper.make_node("Gemm", ["ln", "w", "c"], ["g"], alpha=0.5, beta=2.0, transA=0),
        helper.make_node("Transpose", ["g"], ["gt"], perm=[1, 0]),
        helper.make_node("Slice", ["gt", "starts", "ends", "axes", "steps"], ["sl"]),
        helper.make_node("Greater", ["ln", "g"], ["mask"]),
        helper.make_node("Where", ["mask", "ln", "g"], ["sel"]),
        helper.make_node("Unsqueeze", ["sel", "ax0"], ["u"]),
        helper.make_node("Expand", ["u", "shape"], ["e"]),
        helper.make_node("ReduceMax", ["e"], ["mx"], axes=[0], keepdims=0),
        helper.make_node("Tanh", ["mx"], ["y1"]),
        helper.make_node("Sigmoid", ["sl"], ["y2"]),
        helper.make_node("ArgMax", ["g"], ["y3"], axis=1, keepdims=0),
    ]
    m = _model(nodes, [_vi("x", [3, 6])], [_vi("y1", [3, 6]), _vi("y2", [6, 2]),
                                            _vi("y3", [3], TensorProto.INT64)], inits)
    _compare_ort(m, {"x": r.normal(size=(3, 6)).astype(np.float32)})


@pytest.mark.parametrize("op,direction", [("LSTM", "bidirectional"), ("GRU", "reverse"),
                                          ("RNN", "forward")])
def test_recurrent_nodes_match_onnxruntime(op, direction):
    r = _rng(5)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    D, H, I, T, B = (2 if direction == "bidirectional" else 1), 3, 4, 5, 2
    inits = {"W": r.normal(0, 0.5, (D, gates * H, I)).astype(np.float32),
             "R": r.normal(0, 0.5, (D, gates * H, H)).astype(np.float32),
             "B": r.normal(0, 0.2, (D, 2 * gates * H)).astype(np.float32)}
    # the default activations spelled out, once per direction (torch's exporter omits them)
    acts = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
    attrs = {"hidden_size": H, "direction": direction, "activations": acts[op] * D}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, ["x", "W", "R", "B", "", "h0"], outs, **attrs)
    m = _model([node], [_vi("x", [T, B, I]), _vi("h0", [D, B, H])],
               [_vi(o, [T, D, B, H] if o == "Y" else [D, B, H]) for o in outs], inits)
    feeds = {"x": r.normal(size=(T, B, I)).astype(np.float32),
             "h0": r.normal(size=(D, B, H)).astype(np.float32)}
    module = _compare_ort(m, feeds)
    y = module(*(ganglion.tensor(v) for v in feeds.values()))[0]
    y.sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0
               for p in module.parameters())


def test_unsupported_ops_are_listed():
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("NonZero", ["a"], ["b"]),
             helper.make_node("Hardmax", ["x"], ["c"]),
             helper.make_node("Hardmax", ["x"], ["d"])]
    g = helper.make_graph(nodes, "t", [_vi("x", [2, 2])],
                          [_vi("b", None, TensorProto.INT64), _vi("c", None), _vi("d", None)])
    with pytest.raises(UnsupportedONNXError, match=r"Hardmax \(x2\), NonZero \(x1\)"):
        load(helper.make_model(g))


def test_unsupported_attribute_is_named():
    r = _rng(6)
    inits = {"W": r.normal(size=(1, 6, 2)).astype(np.float32),
             "R": r.normal(size=(1, 6, 2)).astype(np.float32)}
    node = helper.make_node("GRU", ["x", "W", "R"], ["Y"], hidden_size=2)
    m = load(_model([node], [_vi("x", [3, 1, 2])], [_vi("Y", [3, 1, 1, 2])], inits))
    with pytest.raises(UnsupportedONNXError, match="linear_before_reset=0"):
        m(ganglion.randn(3, 1, 2))


def test_integer_and_bool_ops():
    nodes = [helper.make_node("BitwiseAnd", ["a", "b"], ["and"]),
             helper.make_node("BitwiseNot", ["a"], ["not"]),
             helper.make_node("Equal", ["a", "b"], ["eq"]),
             helper.make_node("Not", ["eq"], ["ne"]),
             helper.make_node("Cast", ["ne"], ["y"], to=TensorProto.FLOAT)]
    i64 = TensorProto.INT64
    m = _model(nodes, [_vi("a", [4], i64), _vi("b", [4], i64)],
               [_vi("and", [4], i64), _vi("not", [4], i64), _vi("y", [4])], {}, opset=18)
    feeds = {"a": np.array([1, 6, 3, -2]), "b": np.array([3, 6, 0, 7])}
    want = session(m.SerializeToString()).run(None, feeds)
    got = outputs(load(m), *[ganglion.tensor(v) for v in feeds.values()])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
