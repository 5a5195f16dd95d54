"""Binary arithmetic, selection and comparison ops."""
from __future__ import annotations

import numpy as np

from ganglion.onnx.converters._registry import is_value, register
from ganglion.ops import arith, arith_select, indexing_mask

__all__: list = []

_BINARY = {arith.Add: "Add", arith.Sub: "Sub", arith.Mul: "Mul", arith.Div: "Div",
           arith.Pow: "Pow", arith_select.Maximum: "Max", arith_select.Minimum: "Min"}


def _binary(onnx_op):
    def convert(em, ev):
        dt = ev.outs[0].dtype
        a, b = (em.operand(ev, x, dt) for x in ev.args[:2])
        return em.g.node(onnx_op, [a, b])

    return convert


for _cls, _name in _BINARY.items():
    register(_cls)(_binary(_name))


@register(arith.FloorDivide)
def _floor_divide(em, ev):
    dt = ev.outs[0].dtype
    a, b = (em.operand(ev, x, dt) for x in ev.args[:2])
    if dt.kind != "f":
        raise ValueError(f"export: floor_divide on {dt} tensors has no exact ONNX form "
                         f"(ONNX Div truncates); divide float tensors instead.")
    return em.g.node("Floor", [em.g.node("Div", [a, b])])


@register(arith_select.Where)
def _where(em, ev):
    dt = ev.outs[0].dtype
    cond = em.operand(ev, ev.args[0], np.bool_)
    return em.g.node("Where", [cond] + [em.operand(ev, x, dt) for x in ev.args[1:3]])


@register(arith_select.Clamp)
def _clamp(em, ev):
    x, lo, hi = ev.args
    dt = ev.outs[0].dtype
    out = em.name(x, ev)
    if is_value(lo) or is_value(hi):  # tensor bounds: Max/Min broadcast, Clip does not
        if lo is not None:
            out = em.g.node("Max", [out, em.operand(ev, lo, dt)])
        if hi is not None:
            out = em.g.node("Min", [out, em.operand(ev, hi, dt)])
        return out
    return em.g.node("Clip", [out, None if lo is None else em.g.scalar(lo, dt),
                              None if hi is None else em.g.scalar(hi, dt)])


@register(indexing_mask.MaskedFill)
def _masked_fill(em, ev):
    x, value, mask = ev.args
    dt = ev.outs[0].dtype
    return em.g.node("Where", [em.operand(ev, mask, np.bool_), em.operand(ev, value, dt),
                               em.operand(ev, x, dt)])


def _operand_dtype(args):
    arrays = [a.array for a in args if is_value(a)]
    scalars = [a for a in args if not is_value(a)]
    return np.result_type(*arrays, *[np.asarray(s).dtype for s in scalars
                                     if not arrays]) if arrays else np.float32


def _compare(onnx_op):
    def convert(em, ev):
        dt = _operand_dtype(ev.args[:2])
        a, b = (em.operand(ev, x, dt) for x in ev.args[:2])
        return em.g.node(onnx_op, [a, b])

    return convert


for _name in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
    register(_name)(_compare(_name))


@register("NotEqual")
def _not_equal(em, ev):
    return em.g.node("Not", [_compare("Equal")(em, ev)])


def _logical(onnx_op, bitwise):
    def convert(em, ev):
        dt = ev.outs[0].dtype
        if dt != np.bool_:
            if bitwise is None:
                raise ValueError(f"export: {onnx_op} on {dt} tensors has no ONNX form.")
            return em.g.node(bitwise, [em.operand(ev, x, dt) for x in ev.args])
        return em.g.node(onnx_op, [em.operand(ev, x, np.bool_) for x in ev.args])

    return convert


for _name, _bit in (("Not", "BitwiseNot"), ("And", "BitwiseAnd"), ("Or", "BitwiseOr"),
                    ("Xor", "BitwiseXor")):
    register(_name)(_logical(_name, _bit))


@register("IsNaN", "IsInf")
def _predicate(em, ev):
    return em.g.node(ev.op, [em.name(ev.args[0], ev)])
