"""Convolutions: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d`` (torch.nn.functional semantics).

One strided window view and one batched GEMM per pass (see ``conv_kernels``). A convolution is
the trilinear form ``T(x, w, g) = <conv(x, w), g>`` and its three ops are that form's partial
maps: :class:`Conv` (dT/dg), :class:`ConvTranspose` (dT/dx, the input gradient) and
:class:`ConvWeightGrad` (dT/dw). The backward of each is built from the other two, so gradients
of every order exist (``create_graph=True``) and each pass stays one fused GEMM.

``unfold``/``fold`` (im2col/col2im) live in ``conv_fold``; ``conv_pad`` there serves the Conv
layers' non-zero ``padding_mode``.

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> F.conv2d(ganglion.ones(1, 3, 8, 8), ganglion.ones(16, 3, 3, 3), padding=1).shape
    ganglion.Size([1, 16, 8, 8])
"""
from __future__ import annotations

from ganglion.autograd.function import Op
from ganglion.ops._util import check_tensor, shape_str
from ganglion.ops.conv_fold import conv_pad, fold, unfold
from ganglion.ops.conv_kernels import (Geom, conv_forward, conv_input_grad, conv_out_size,
                                       conv_weight_grad)
from ganglion.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold"]

_ = conv_pad  # re-exported for the nn Conv layers (``from ganglion.ops.conv import conv_pad``)


def _bias_grad(g):
    return g.sum(dim=(0,) + tuple(range(2, g.ndim)))


class Conv(Op):
    """y = conv(x, w) + b, shape (N, O, *out_sp)."""

    @staticmethod
    def forward(ctx, x, w, b, geom, out_sp):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        return conv_forward(x, w, b, geom, out_sp)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = ConvTranspose.apply(g, w, None, ctx.geom, tuple(x.shape)) if need_x else None
        gw = ConvWeightGrad.apply(x, g, ctx.geom, tuple(w.shape)) if need_w else None
        return gx, gw, _bias_grad(g) if need_b else None


class ConvTranspose(Op):
    """x_like = conv_transpose(g, w) + b: the adjoint of ``Conv`` in its input, onto x_shape."""

    @staticmethod
    def forward(ctx, g, w, b, geom, x_shape):
        ctx.geom = geom
        ctx.save_for_backward(g, w)
        out = conv_input_grad(g, w, x_shape, geom)
        if b is not None:
            out += b.reshape((-1,) + (1,) * (out.ndim - 2))
        return out

    @staticmethod
    def backward(ctx, v):
        g, w = ctx.saved_tensors
        need_g, need_w, need_b = ctx.needs_input_grad[:3]
        gg = Conv.apply(v, w, None, ctx.geom, tuple(g.shape[2:])) if need_g else None
        gw = ConvWeightGrad.apply(v, g, ctx.geom, tuple(w.shape)) if need_w else None
        return gg, gw, _bias_grad(v) if need_b else None


class ConvWeightGrad(Op):
    """dw = sum_n g[n] @ im2col(x)[n].T: the adjoint of ``Conv`` in its weight."""

    @staticmethod
    def forward(ctx, x, g, geom, w_shape):
        ctx.geom = geom
        ctx.save_for_backward(x, g)
        return conv_weight_grad(x, g, w_shape, geom)

    @staticmethod
    def backward(ctx, u):
        x, g = ctx.saved_tensors
        need_x, need_g = ctx.needs_input_grad[:2]
        gx = ConvTranspose.apply(g, u, None, ctx.geom, tuple(x.shape)) if need_x else None
        gg = Conv.apply(x, u, None, ctx.geom, tuple(g.shape[2:])) if need_g else None
        return gx, gg


# -- argument handling -----------------------------------------------------------------------

def _tuple(v, nd, op, name):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * nd
        if len(v) != nd or not all(isinstance(i, int) for i in v):
            raise RuntimeError(f"{op}: expected {name} to be a single int or a tuple of {nd} "
                               f"ints, but got {name}={tuple(v)}.")
        return tuple(int(i) for i in v)
    if not isinstance(v, int):
        raise TypeError(f"{op}: {name} must be an int or a tuple of ints, got {v!r}.")
    return (int(v),) * nd


def _padding_pairs(padding, ksize, dilation, stride, nd, op):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             f"'valid' or 'same'.")
        if any(s != 1 for s in stride):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided "
                               f"convolutions (stride={stride}).")
        # torch: total d (k - 1), the extra element of an odd total goes after
        tot = [d * (k - 1) for d, k in zip(dilation, ksize)]
        return tuple((t // 2, t - t // 2) for t in tot)
    p = _tuple(padding, nd, op, "padding")
    if any(i < 0 for i in p):
        raise RuntimeError(f"{op}: negative padding is not supported (padding={p}).")
    return tuple((i, i) for i in p)


def _check_common(op, nd, input, weight, bias, groups):
    """Type, rank and dtype checks; returns (input as batched, was_unbatched)."""
    check_tensor(input, op, "input")
    check_tensor(weight, op, "weight")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{op}: expected a {nd + 2}-D weight (out, in/groups, *kernel), but "
                           f"got weight of shape {shape_str(weight.shape)}.")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {nd + 1}D (unbatched) or {nd + 2}D (batched) "
                           f"input, but got input of shape {shape_str(input.shape)}.")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        b = "" if bias is None else f", bias {bias.dtype}"
        raise RuntimeError(f"{op}: input ({input.dtype}), weight ({weight.dtype}){b} must have "
                           f"the same dtype; cast them with .to(dtype).")
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}.")
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"{op}: groups must be a positive integer, got groups={groups!r}.")
    unbatched = input.ndim == nd + 1
    return (input.unsqueeze(0) if unbatched else input), unbatched


def _check_bias(op, bias, n_out, weight):
    if bias is not None:
        check_tensor(bias, op, "bias")
        if tuple(bias.shape) != (n_out,):
            raise RuntimeError(f"{op}: expected bias of shape ({n_out},) for weight of shape "
                               f"{shape_str(weight.shape)}, but got bias of shape "
                               f"{shape_str(bias.shape)}.")


def _convnd(op, nd, input, weight, bias, stride, padding, dilation, groups):
    x, unbatched = _check_common(op, nd, input, weight, bias, groups)
    ksize = tuple(weight.shape[2:])
    stride = _tuple(stride, nd, op, "stride")
    dilation = _tuple(dilation, nd, op, "dilation")
    if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: stride and dilation must be positive, got stride={stride}, "
                           f"dilation={dilation}.")
    pads = _padding_pairs(padding, ksize, dilation, stride, nd, op)
    out_c, cin_g = weight.shape[:2]
    if out_c % groups:
        raise RuntimeError(f"{op}: out_channels ({out_c}, weight shape "
                           f"{shape_str(weight.shape)}) must be divisible by groups={groups}.")
    if x.shape[1] != cin_g * groups:
        g = "" if groups == 1 else f" with groups={groups}"
        raise RuntimeError(f"{op}: expected input with {cin_g * groups} channels (weight shape "
                           f"{shape_str(weight.shape)}{g}), but got input of shape "
                           f"{shape_str(input.shape)}.")
    _check_bias(op, bias, out_c, weight)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    ext = tuple(d * (k - 1) + 1 for d, k in zip(dilation, ksize))
    if any(p < e for p, e in zip(padded, ext)):
        raise RuntimeError(f"{op}: calculated padded input size per channel {padded} is smaller "
                           f"than the (dilated) kernel size {ext}; the kernel can't be greater "
                           f"than the padded input (input shape {shape_str(input.shape)}).")
    geom = Geom(stride, pads, dilation, groups)
    out = Conv.apply(x, weight, bias, geom, conv_out_size(x.shape[2:], ksize, geom))
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation) over (N, C_in, L), as ``torch.nn.functional.conv1d``.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_out, C_in / groups, k).
        bias: (C_out,), optional.
        stride, padding, dilation: int or 1-tuple; padding also 'same' (stride 1) or 'valid'.
        groups: split the channels into this many independent groups.

    Returns:
        (N, C_out, L_out), L_out = floor((L + 2 padding - dilation (k - 1) - 1) / stride) + 1.

    Raises:
        RuntimeError: channel counts that don't match the weight, a kernel larger than the
            padded input, groups not dividing the channels, wrong ranks or mixed dtypes.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.conv1d(ganglion.ones(1, 1, 5), ganglion.ones(1, 1, 3))
        tensor([[[3., 3., 3.]]])
    """
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution over (N, C_in, H, W), as ``torch.nn.functional.conv2d``.

    One strided window view (im2col) and one batched GEMM; the gradients are a transposed
    convolution (input) and one GEMM (weight).

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,), optional.
        stride, padding, dilation: int or pair; padding also 'same' (stride 1) or 'valid'.
        groups: channel groups (groups == C_in is a depthwise convolution).

    Returns:
        (N, C_out, H_out, W_out).

    Raises:
        RuntimeError: see :func:`conv1d`.

    Example:
        >>> import ganglion
        >>> x, w = ganglion.ones(2, 4, 8, 8), ganglion.ones(6, 2, 3, 3)
        >>> ganglion.nn.functional.conv2d(x, w, stride=2, padding=1, groups=2).shape
        ganglion.Size([2, 6, 4, 4])
    """
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution over (N, C_in, D, H, W), as ``torch.nn.functional.conv3d``.

    Args:
        input: (N, C_in, D, H, W) or unbatched (C_in, D, H, W).
        weight: (C_out, C_in / groups, kD, kH, kW).
        bias, stride, padding, dilation, groups: as :func:`conv2d`, with triples.

    Returns:
        (N, C_out, D_out, H_out, W_out).

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.conv3d(ganglion.ones(1, 2, 4, 4, 4),
        ...                               ganglion.ones(3, 2, 2, 2, 2)).shape
        ganglion.Size([1, 3, 3, 3, 3])
    """
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    x, unbatched = _check_common(op, nd, input, weight, bias, groups)
    ksize = tuple(weight.shape[2:])
    stride = _tuple(stride, nd, op, "stride")
    dilation = _tuple(dilation, nd, op, "dilation")
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a tuple of ints; string padding "
                        f"({padding!r}) is only supported by convolutions, not transposed ones.")
    pad = _tuple(padding, nd, op, "padding")
    opad = _tuple(output_padding, nd, op, "output_padding")
    if any(s <= 0 for s in stride) or any(d <= 0 for d in dilation) or min(pad) < 0:
        raise RuntimeError(f"{op}: stride and dilation must be positive and padding "
                           f"non-negative, got stride={stride}, dilation={dilation}, "
                           f"padding={pad}.")
    if any(not 0 <= o < max(s, d) for o, s, d in zip(opad, stride, dilation)):
        raise RuntimeError(f"{op}: output padding must be non-negative and smaller than either "
                           f"stride or dilation, but got output_padding={opad}, "
                           f"stride={stride}, dilation={dilation}.")
    if x.shape[1] != weight.shape[0]:
        raise RuntimeError(f"{op}: expected input with {weight.shape[0]} channels (weight shape "
                           f"{shape_str(weight.shape)}), but got input of shape "
                           f"{shape_str(input.shape)}.")
    if weight.shape[0] % groups:
        raise RuntimeError(f"{op}: in_channels ({weight.shape[0]}, weight shape "
                           f"{shape_str(weight.shape)}) must be divisible by groups={groups}.")
    out_c = weight.shape[1] * groups
    _check_bias(op, bias, out_c, weight)
    out_sp = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1 for i, s, p, d, k, o in
                   zip(x.shape[2:], stride, pad, dilation, ksize, opad))
    if any(o <= 0 for o in out_sp):
        raise RuntimeError(f"{op}: calculated output size per channel {out_sp} is too small "
                           f"(input shape {shape_str(input.shape)}, weight shape "
                           f"{shape_str(weight.shape)}, stride={stride}, padding={pad}).")
    geom = Geom(stride, tuple((p, p) for p in pad), dilation, groups)
    out = ConvTranspose.apply(x, weight, bias, geom, (x.shape[0], out_c) + out_sp)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose1d``.

    The adjoint of :func:`conv1d` in its input: one GEMM ``weight.T @ input`` and col2im.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_in, C_out / groups, k).
        bias: (C_out,), optional.
        stride, padding, output_padding, dilation: int or 1-tuple.
        groups: channel groups.

    Returns:
        (N, C_out, L_out), L_out = (L - 1) stride - 2 padding + dilation (k - 1)
        + output_padding + 1.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.conv_transpose1d(ganglion.ones(1, 1, 2),
        ...                                         ganglion.ones(1, 1, 3), stride=2)
        tensor([[[1., 1., 2., 1., 1.]]])
    """
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW).
        bias: (C_out,), optional.
        stride, padding, output_padding, dilation: int or pair.
        groups: channel groups.

    Returns:
        (N, C_out, H_out, W_out), each (in - 1) stride - 2 padding + dilation (k - 1)
        + output_padding + 1.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.conv_transpose2d(ganglion.ones(1, 4, 5, 5),
        ...     ganglion.ones(4, 2, 3, 3), stride=2, padding=1, output_padding=1).shape
        ganglion.Size([1, 2, 10, 10])
    """
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    Args:
        input: (N, C_in, D, H, W) or unbatched.
        weight: (C_in, C_out / groups, kD, kH, kW).
        bias, stride, padding, output_padding, groups, dilation: as :func:`conv_transpose2d`.

    Returns:
        (N, C_out, D_out, H_out, W_out).

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.conv_transpose3d(ganglion.ones(1, 2, 2, 2, 2),
        ...                                         ganglion.ones(2, 3, 2, 2, 2)).shape
        ganglion.Size([1, 3, 3, 3, 3])
    """
    return _conv_transposend("conv_transpose3d", 3, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)
