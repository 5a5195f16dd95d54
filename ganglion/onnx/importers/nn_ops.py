"""Layer-like ONNX ops: Gemm, MatMul, Conv, pooling, normalizations, softmax, dropout."""
from __future__ import annotations

import math

import ganglion
import ganglion.nn.functional as F
from ganglion.onnx.importers._registry import register, unsupported

__all__: list = []


@register("Gemm")
def _gemm(ins, attrs):
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    ta, tb = attrs.get("transA", 0), attrs.get("transB", 0)
    if tb and not ta and alpha == 1.0 and (c is None or (beta == 1.0 and c.ndim == 1)):
        return F.linear(a, b, c)  # torch's nn.Linear layout: one fused op
    a = a.t() if ta else a
    b = b.t() if tb else b
    y = a @ b
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@register("MatMul")
def _matmul(ins, attrs):
    return ganglion.matmul(ins[0], ins[1])


@register("Einsum")
def _einsum(ins, attrs):
    return ganglion.einsum(attrs["equation"], *ins)


def _spatial(x, op):
    n = x.ndim - 2
    if n not in (1, 2, 3):
        unsupported(op, f"an input of rank {x.ndim} (expected 3 to 5)")
    return n


def _pads(attrs, x, kernel, strides, dilations, op):
    """(symmetric padding per dim, or None) and the full ONNX pads list."""
    n = len(kernel)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = list(attrs.get("pads", [0] * (2 * n)))
    elif auto == "VALID":
        pads = [0] * (2 * n)
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        lo, hi = [], []
        for s, k, st, d in zip(x.shape[2:], kernel, strides, dilations):
            total = max((math.ceil(s / st) - 1) * st + (k - 1) * d + 1 - s, 0)
            small, big = total // 2, total - total // 2
            lo.append(small if auto == "SAME_UPPER" else big)
            hi.append(big if auto == "SAME_UPPER" else small)
        pads = lo + hi
    else:
        unsupported(op, f"auto_pad={auto!r}")
    sym = pads[:n] == pads[n:]
    return (tuple(pads[:n]) if sym else None), pads


def _pad_input(x, pads, value=0.0):
    """F.pad for asymmetric ONNX pads [b1, b2, ..., e1, e2, ...] (F.pad lists dims last first)."""
    n = len(pads) // 2
    spec = []
    for i in reversed(range(n)):
        spec += [pads[i], pads[n + i]]
    return F.pad(x, tuple(spec), value=value)


@register("Conv")
def _conv(ins, attrs):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    n = _spatial(x, "Conv")
    kernel = tuple(w.shape[2:])
    strides = tuple(attrs.get("strides", [1] * n))
    dil = tuple(attrs.get("dilations", [1] * n))
    sym, pads = _pads(attrs, x, kernel, strides, dil, "Conv")
    if sym is None:
        x, sym = _pad_input(x, pads), (0,) * n
    fn = (F.conv1d, F.conv2d, F.conv3d)[n - 1]
    return fn(x, w, b, strides, sym, dil, attrs.get("group", 1))


@register("ConvTranspose")
def _conv_transpose(ins, attrs):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    n = _spatial(x, "ConvTranspose")
    if "output_shape" in attrs or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        unsupported("ConvTranspose", "output_shape or auto_pad")
    strides = tuple(attrs.get("strides", [1] * n))
    dil = tuple(attrs.get("dilations", [1] * n))
    pads = list(attrs.get("pads", [0] * (2 * n)))
    if pads[:n] != pads[n:]:
        unsupported("ConvTranspose", f"asymmetric pads {pads}")
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[n - 1]
    return fn(x, w, b, strides, tuple(pads[:n]), tuple(attrs.get("output_padding", [0] * n)),
              attrs.get("group", 1), dil)


@register("MaxPool")
def _maxpool(ins, attrs):
    x = ins[0]
    n = _spatial(x, "MaxPool")
    kernel = tuple(attrs["kernel_shape"])
    strides = tuple(attrs.get("strides", [1] * n))
    dil = tuple(attrs.get("dilations", [1] * n))
    sym, pads = _pads(attrs, x, kernel, strides, dil, "MaxPool")
    if sym is None:
        x, sym = _pad_input(x, pads, -math.inf), (0,) * n
    fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[n - 1]
    return fn(x, kernel, strides, sym, dil, ceil_mode=bool(attrs.get("ceil_mode", 0)))


@register("AveragePool")
def _avgpool(ins, attrs):
    x = ins[0]
    n = _spatial(x, "AveragePool")
    kernel = tuple(attrs["kernel_shape"])
    strides = tuple(attrs.get("strides", [1] * n))
    if any(d != 1 for d in attrs.get("dilations", [1] * n)):
        unsupported("AveragePool", "dilations")
    sym, pads = _pads(attrs, x, kernel, strides, (1,) * n, "AveragePool")
    include = bool(attrs.get("count_include_pad", 0))
    if sym is None:
        if not include:
            unsupported("AveragePool", "asymmetric pads and count_include_pad=0")
        x, sym = _pad_input(x, pads), (0,) * n
    fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
    return fn(x, kernel, strides, sym, ceil_mode=bool(attrs.get("ceil_mode", 0)),
              count_include_pad=include)


@register("GlobalAveragePool")
def _gap(ins, attrs):
    x = ins[0]
    return x.mean(dim=tuple(range(2, x.ndim)), keepdim=True)


@register("GlobalMaxPool")
def _gmp(ins, attrs):
    x = ins[0]
    return x.amax(dim=tuple(range(2, x.ndim)), keepdim=True)


@register("BatchNormalization")
def _batch_norm(ins, attrs):
    if attrs.get("training_mode", 0):
        unsupported("BatchNormalization", "training_mode=1")
    x, scale, bias, mean, var = ins[:5]
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, attrs.get("epsilon", 1e-5))


@register("LayerNormalization")
def _layer_norm(ins, attrs):
    x, scale = ins[0], ins[1]
    bias = ins[2] if len(ins) > 2 else None
    axis = attrs.get("axis", -1) % x.ndim
    shape = tuple(x.shape[axis:])
    if tuple(scale.shape) != shape:
        scale = scale.expand(shape)
    if bias is not None and tuple(bias.shape) != shape:
        bias = bias.expand(shape)
    return F.layer_norm(x, shape, scale, bias, attrs.get("epsilon", 1e-5))


def _softmax_like(fn, name):
    def run(ins, attrs):
        x = ins[0]
        if attrs.get("_opset", 13) >= 13:
            return fn(x, attrs.get("axis", -1))
        # before opset 13: the input is seen as 2-D, (prod(shape[:axis]), prod(shape[axis:]))
        axis = attrs.get("axis", 1) % max(x.ndim, 1)
        shape = tuple(x.shape)
        return fn(x.reshape(math.prod(shape[:axis]), -1), -1).reshape(shape)

    run.__name__ = name
    return run


register("Softmax")(_softmax_like(F.softmax, "softmax"))
register("LogSoftmax")(_softmax_like(F.log_softmax, "log_softmax"))


@register("Dropout")
def _dropout(ins, attrs):
    return ins[0]  # inference: identity (the mask output is not supported, see load)
