"""Op-table rows for the movement family (ganglion/ops/movement*.py) and padding
(ganglion/ops/pad.py, torch's ``nn.functional.pad``)."""
import ganglion
from ganglion.ops.pad import pad as _gpad
from tests.ops.op_table import OpRow


def _torch():
    import torch  # noqa: PLC0415 - test-only oracle, imported when a row runs

    return torch


def _lib(f):
    """``fn``/``torch_fn`` from one function of ``(module, *tensors)`` (for torch.* functions)."""
    return {"fn": lambda *t: f(ganglion, *t), "torch_fn": lambda *t: f(_torch(), *t)}


def _pad_row(name, cases, pad, mode="constant", value=None, **kw):
    kwargs = {"mode": mode} if value is None else {"mode": mode, "value": value}
    return OpRow(name, lambda x: _gpad(x, pad, **kwargs), cases,
                 torch_fn=lambda x: _torch().nn.functional.pad(x, pad, **kwargs), **kw)


RESHAPE = [
    OpRow("reshape", lambda x: x.reshape(2, -1, 3), [[(3, 4)], [(6, 2)]]),
    OpRow("reshape_0d", lambda x: x.reshape(1, 1), [[()]]),
    OpRow("reshape_to_0d", lambda x: x.reshape(()), [[(1, 1)]]),
    OpRow("reshape_empty", lambda x: x.reshape(2, -1, 2), [[(0, 4)], [(2, 0)]]),
    OpRow("view", lambda x: x.view(-1), [[(3, 4)], [()], [(0, 3)]], noncontig=False),
    OpRow("view_shape", lambda x: x.view(2, 2, -1), [[(4, 3)]], noncontig=False),
    OpRow("view_as", lambda x, y: x.view_as(y), [[(3, 4), (2, 6)]], noncontig=False),
    OpRow("reshape_as", lambda x, y: x.reshape_as(y), [[(3, 4), (2, 6)]]),
    OpRow("ravel", lambda x: x.ravel(), [[(3, 4)], [()]]),
    OpRow("flatten", lambda x: x.flatten(), [[(2, 3, 4)], [()], [(2, 0)]]),
    OpRow("flatten_range", lambda x: x.flatten(1, -1), [[(2, 3, 4)], [(2, 0, 3)]]),
    OpRow("flatten_mid", lambda x: x.flatten(-3, -2), [[(2, 3, 4, 2)]]),
    OpRow("unflatten", lambda x: x.unflatten(-1, (2, -1)), [[(3, 4)], [(0, 4)]]),
    OpRow("squeeze", lambda x: x.squeeze(), [[(2, 1, 3, 1)], [()], [(1, 0)]]),
    OpRow("squeeze_dim", lambda x: x.squeeze(-2), [[(2, 1, 3)], [(2, 3, 4)]]),
    OpRow("squeeze_dims", lambda x: x.squeeze((0, -1)), [[(1, 3, 1)], [(1, 3, 2)]]),
    OpRow("unsqueeze", lambda x: x.unsqueeze(-1), [[(2, 3)], [()], [(0, 3)]]),
    OpRow("unsqueeze_front", lambda x: x.unsqueeze(0), [[(2, 3)], [()]]),
]

ORDER = [
    OpRow("permute", lambda x: x.permute(2, 0, -2), [[(2, 3, 4)], [(2, 0, 4)]]),
    OpRow("transpose", lambda x: x.transpose(0, -1), [[(2, 3, 4)], [(3,)], [(0, 2)]]),
    OpRow("swapaxes", lambda x: x.swapaxes(-1, 1), [[(2, 3, 4)]]),
    OpRow("swapdims", lambda x: x.swapdims(0, 1), [[(2, 3, 4)]]),
    OpRow("t", lambda x: x.t(), [[(3, 4)], [(3,)], [()]]),
    OpRow("T", lambda x: x.T, [[(3, 4)]]),
    OpRow("mT", lambda x: x.mT, [[(2, 3, 4)], [(3, 4)]]),
    OpRow("mH", lambda x: x.mH, [[(2, 3, 4)]]),
    OpRow("H", lambda x: x.H, [[(3, 4)]]),
    OpRow("adjoint", lambda x: x.adjoint(), [[(2, 3, 4)]]),
    OpRow("movedim", lambda x: x.movedim((0, -1), (-1, 1)), [[(2, 3, 4)], [(2, 0, 4)]]),
    OpRow("moveaxis", lambda x: x.moveaxis(0, -1), [[(2, 3, 4)]]),
    OpRow("expand", lambda x: x.expand(2, -1, 4), [[(3, 1)], [(3, 4)]]),
    OpRow("expand_0d", lambda x: x.expand(2, 3), [[()]]),
    OpRow("expand_empty", lambda x: x.expand(0, 3), [[(0, 1)], [(1, 3)]]),
    OpRow("expand_as", lambda x, y: x.expand_as(y), [[(3, 1), (2, 3, 4)]]),
    OpRow("broadcast_to", lambda x: x.broadcast_to((2, 3, 4)), [[(3, 1)], [()]]),
    OpRow("broadcast_tensors", **_lib(lambda m, a, b: m.broadcast_tensors(a, b)),
          cases=[[(3, 1), (4,)], [(), (2, 3)], [(0, 1), (3,)]]),
    OpRow("narrow", lambda x: x.narrow(-1, 1, 2), [[(3, 4)], [(0, 4)]]),
    OpRow("narrow_neg_start", lambda x: x.narrow(0, -2, 2), [[(3, 4)], [(3,)]]),
]

JOIN = [
    OpRow("cat", **_lib(lambda m, a, b: m.cat([a, b], -1)),
          cases=[[(2, 3), (2, 4)], [(2, 0), (2, 3)], [(3,), (2,)]]),
    OpRow("cat_dim0", **_lib(lambda m, a, b, c: m.cat((a, b, c))),
          cases=[[(1, 3), (2, 3), (0, 3)], [(4,), (0,), (2,)]]),
    OpRow("cat_skips_1d_empty", **_lib(lambda m, a, b: m.cat([a, b], 1)),
          cases=[[(0,), (2, 3)]]),
    OpRow("concat", **_lib(lambda m, a, b: m.concat([a, b], dim=-2)),
          cases=[[(2, 3), (1, 3)]]),
    OpRow("concatenate", **_lib(lambda m, a, b: m.concatenate([a, b], axis=1)),
          cases=[[(2, 3), (2, 1)]]),
    OpRow("stack", **_lib(lambda m, a, b: m.stack([a, b], -1)),
          cases=[[(2, 3), (2, 3)], [(), ()], [(0, 2), (0, 2)]]),
    OpRow("stack_dim0", **_lib(lambda m, a, b, c: m.stack((a, b, c))),
          cases=[[(3,), (3,), (3,)]]),
    OpRow("hstack", **_lib(lambda m, a, b: m.hstack([a, b])),
          cases=[[(2, 3), (2, 1)], [(3,), (2,)], [(), (2,)]]),
    OpRow("vstack", **_lib(lambda m, a, b: m.vstack([a, b])),
          cases=[[(2, 3), (3,)], [(), ()]]),
    OpRow("dstack", **_lib(lambda m, a, b: m.dstack([a, b])),
          cases=[[(2, 3), (2, 3, 2)], [(3,), (3,)]]),
    OpRow("column_stack", **_lib(lambda m, a, b, c: m.column_stack([a, b, c])),
          cases=[[(3,), (3, 2), (3,)], [(), (1, 2), ()]]),
    OpRow("atleast_3d", **_lib(lambda m, a, b: m.atleast_3d(a, b)),
          cases=[[(3,), (2, 3)], [(), (2, 3, 4)]]),
    OpRow("split", lambda x: x.split(2, -1), [[(2, 5)], [(3, 4)], [(2, 0)]]),
    OpRow("split_sizes", lambda x: x.split([1, 0, 2], 0), [[(3, 4)], [(3,)]]),
    OpRow("chunk", lambda x: x.chunk(3, -1), [[(2, 5)], [(2, 6)], [(3, 2)]]),
    OpRow("chunk_empty", lambda x: x.chunk(3), [[(0, 2)]]),
    OpRow("tensor_split", lambda x: x.tensor_split(3, -1), [[(2, 7)], [(2, 2)]]),
    OpRow("tensor_split_idx", lambda x: x.tensor_split([1, 4], 1), [[(2, 6)], [(2, 3)]]),
    OpRow("tensor_split_unsorted", lambda x: x.tensor_split([3, 1, -1]), [[(5,)], [(6, 2)]]),
    OpRow("hsplit", lambda x: x.hsplit(2), [[(2, 4)], [(4,)]]),
    OpRow("vsplit", lambda x: x.vsplit([1, 3]), [[(4, 2)]]),
    OpRow("dsplit", lambda x: x.dsplit(2), [[(1, 2, 4)]]),
    OpRow("unbind", lambda x: x.unbind(-1), [[(2, 3)], [(3,)], [(0, 2)]]),
    OpRow("unbind0", lambda x: x.unbind(), [[(3, 2, 2)]]),
]

REARRANGE = [
    OpRow("flip", lambda x: x.flip(0, -1), [[(3, 4)], [(2, 3, 4)], [(0, 2)]]),
    OpRow("flip_tuple", lambda x: x.flip((1,)), [[(2, 3, 4)]]),
    OpRow("flip_0d", lambda x: x.flip(()), [[()]]),
    OpRow("fliplr", lambda x: x.fliplr(), [[(3, 4)]]),
    OpRow("flipud", lambda x: x.flipud(), [[(3, 4)], [(3,)]]),
    OpRow("roll", lambda x: x.roll(2), [[(3, 4)], [()], [(0, 3)]]),
    OpRow("roll_dims", lambda x: x.roll((1, -5), (0, -1)), [[(3, 4)], [(2, 3, 4)]]),
    OpRow("roll_dim", lambda x: x.roll(-1, 1), [[(3, 4)]]),
    OpRow("repeat", lambda x: x.repeat(2, 1, 3), [[(3, 4)], [(2,)], [(0, 2)]]),
    OpRow("repeat_0d", lambda x: x.repeat(2, 3), [[()]]),
    OpRow("repeat_zero", lambda x: x.repeat(0, 2), [[(2, 3)]]),
    OpRow("tile", lambda x: x.tile((2,)), [[(3, 4)], [()]]),
    OpRow("tile_more", lambda x: x.tile(2, 1, 2), [[(3, 4)]]),
    OpRow("repeat_interleave", lambda x: x.repeat_interleave(2, dim=-1), [[(3, 4)], [(0, 2)]]),
    OpRow("repeat_interleave_flat", lambda x: x.repeat_interleave(3), [[(2, 3)], [()]]),
    OpRow("repeat_interleave_tensor",
          **_lib(lambda m, x: x.repeat_interleave(m.tensor([1, 0, 3]), dim=0)),
          cases=[[(3, 4)], [(3,)]]),
    OpRow("repeat_interleave_tensor_dim",
          **_lib(lambda m, x: x.repeat_interleave(m.tensor([2, 1, 0, 1]), dim=1,
                                                  output_size=4)),
          cases=[[(2, 4)]]),
    OpRow("repeat_interleave_tensor1", **_lib(lambda m, x: x.repeat_interleave(m.tensor([2]))),
          cases=[[(2, 3)]]),
]

DIAG = [
    OpRow("diagonal", lambda x: x.diagonal(), [[(3, 4)], [(4, 3)], [(0, 3)]]),
    OpRow("diagonal_offset", lambda x: x.diagonal(1, -1, 0), [[(3, 4, 5)], [(3, 2, 4)]]),
    OpRow("diagonal_far", lambda x: x.diagonal(-5), [[(3, 4)]], fd=False),
    OpRow("diag_vec", lambda x: x.diag(1), [[(3,)], [(0,)]]),
    OpRow("diag_mat", lambda x: x.diag(-1), [[(3, 4)], [(4, 3)]]),
    OpRow("diag_embed", lambda x: x.diag_embed(), [[(2, 3)], [(3,)], [(2, 0)]]),
    OpRow("diag_embed_dims", lambda x: x.diag_embed(1, 0, -1), [[(2, 3)]]),
    OpRow("diag_embed_neg", lambda x: x.diag_embed(-2, 2, 0), [[(2, 3)]]),
    OpRow("tril", lambda x: x.tril(), [[(3, 4)], [(2, 3, 4)], [(0, 3)]]),
    OpRow("tril_k", lambda x: x.tril(-1), [[(4, 3)]]),
    OpRow("triu", lambda x: x.triu(), [[(3, 4)], [(2, 3, 4)], [(3, 0)]]),
    OpRow("triu_k", lambda x: x.triu(2), [[(3, 4)]]),
]

PAD = [
    _pad_row("pad_constant", [[(2, 3)], [(2, 3, 4)], [(0, 3)]], (1, 2)),
    _pad_row("pad_constant_2d", [[(2, 3)], [(1, 2, 3)], [(2, 0)]], (1, 2, 0, 1), value=1.5),
    _pad_row("pad_constant_crop", [[(2, 3)], [(3, 4)]], (-1, 2, 1, -1)),
    _pad_row("pad_constant_3d", [[(1, 2, 3, 2, 2)], [(2, 3, 2)]], (1, 0, 0, 1, 2, 1)),
    _pad_row("pad_reflect_1d", [[(2, 4)], [(2, 3, 4)], [(0, 2, 3)]], (2, 1), "reflect"),
    _pad_row("pad_reflect_2d", [[(2, 3, 4)], [(1, 2, 3, 4)]], (1, 3, 2, 1), "reflect"),
    _pad_row("pad_reflect_3d", [[(1, 2, 3, 3, 4)], [(2, 3, 3, 4)]], (1, 2, 1, 1, 2, 0),
             "reflect"),
    _pad_row("pad_reflect_crop", [[(2, 4)], [(1, 2, 5)]], (-1, 3), "reflect"),
    _pad_row("pad_replicate_1d", [[(2, 4)], [(2, 3, 4)], [(0, 2, 3)]], (2, 5), "replicate"),
    _pad_row("pad_replicate_2d", [[(2, 3, 4)], [(1, 2, 3, 4)]], (3, 1, 0, 4), "replicate"),
    _pad_row("pad_replicate_3d", [[(1, 2, 3, 3, 4)], [(2, 3, 3, 4)]], (1, 2, 1, 3, 2, 0),
             "replicate"),
    _pad_row("pad_replicate_crop", [[(2, 4)], [(1, 2, 5)]], (2, -2), "replicate"),
    _pad_row("pad_circular_1d", [[(2, 4)], [(2, 3, 4)], [(0, 2, 4)]], (2, 4), "circular"),
    _pad_row("pad_circular_2d", [[(2, 3, 4)], [(1, 2, 3, 4)]], (1, 3, 3, 1), "circular"),
    _pad_row("pad_circular_3d", [[(1, 2, 3, 3, 4)], [(2, 3, 3, 4)]], (1, 2, 1, 1, 2, 0),
             "circular"),
    _pad_row("pad_circular_crop", [[(2, 4)], [(1, 2, 5)]], (-1, 2), "circular"),
]

ROWS = RESHAPE + ORDER + JOIN + REARRANGE + DIAG + PAD
