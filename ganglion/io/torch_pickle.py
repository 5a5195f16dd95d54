"""A restricted pickle virtual machine: reads the pickle streams inside torch checkpoints as
data, and never imports, looks up or calls anything by name.

Python's own unpickler resolves ``GLOBAL module name`` by importing ``module`` and calling
whatever the stream asks for, so opening a hostile ``.pt`` file runs its code. This VM is a
separate implementation of the binary opcodes (protocols 1-5): a ``GLOBAL`` is answered only
by ``find_global(module, name)``, which returns one of the caller's ``SafeGlobal`` objects or
raises; ``REDUCE`` calls only ``SafeGlobal`` objects (plain functions the caller wrote);
``BUILD`` only sets attributes on ``OrderedDict``s; persistent ids go to the caller's
``persistent_load``. Opcodes that create instances of arbitrary classes (``INST``, ``OBJ``,
``NEWOBJ``, ``NEWOBJ_EX``), the extension registry (``EXT1/2/4``), out-of-band buffers and
the protocol-0 text opcodes are refused. Every failure is a ``CheckpointError``.

Example:
    >>> from ganglion.io.torch_pickle import run
    >>> run(b"\\x80\\x02]q\\x00(K\\x01K\\x02e.", 0, find_global=None, persistent_load=None)
    ([1, 2], 12)
    >>> run(b"\\x80\\x02cos\\nsystem\\n.", 0, find_global=None, persistent_load=None)
    Traceback (most recent call last):
    ...
    ganglion.io.errors.CheckpointError: refused GLOBAL os.system at byte 2: ...
"""
from __future__ import annotations

import struct
from collections import Counter, OrderedDict

from ganglion.io.errors import CheckpointError

__all__ = ["run", "SafeGlobal", "PassThrough", "refuse_global"]

_U8, _U16, _I32, _U32, _U64, _F64 = (struct.Struct(f) for f in
                                     ("<B", "<H", "<i", "<I", "<Q", ">d"))
_DICTS = (dict, OrderedDict, Counter)  # what SETITEM(S) may write into
# opcodes refused with the reason shown to the user
_REFUSED = {
    b"i": "INST (creates an instance of a named class)",
    b"o": "OBJ (creates an instance of a class on the stack)",
    b"\x81": "NEWOBJ (creates an instance of a class on the stack)",
    b"\x92": "NEWOBJ_EX (creates an instance of a class on the stack)",
    b"\x82": "EXT1 (looks up a global in the copyreg extension registry)",
    b"\x83": "EXT2 (looks up a global in the copyreg extension registry)",
    b"\x84": "EXT4 (looks up a global in the copyreg extension registry)",
    b"P": "PERSID (a text persistent id; torch writes BINPERSID)",
    b"\x97": "NEXT_BUFFER (an out-of-band buffer)",
    b"\x98": "READONLY_BUFFER (an out-of-band buffer)",
    b"I": "INT (protocol-0 text)", b"L": "LONG (protocol-0 text)",
    b"F": "FLOAT (protocol-0 text)", b"S": "STRING (protocol-0 text)",
    b"V": "UNICODE (protocol-0 text)", b"g": "GET (protocol-0 text)",
    b"p": "PUT (protocol-0 text)",
}
_HOW_TO_FIX = ("only tensors, storages, dtypes, torch.Size/device and plain containers are "
               "allowed (what torch.load(weights_only=True) allows); if you trust the file, "
               "load it in torch and re-save model.state_dict() with torch.save or "
               "safetensors.torch.save_file")


class PassThrough(Exception):
    """Raised by a caller's function to leave the VM with ``.error`` unchanged: an error
    that is not the file's fault (a map_location callable's, CUDA being unavailable)."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


class SafeGlobal:
    """A name the caller allows in a ``GLOBAL``: ``fn(*args)`` runs on ``REDUCE`` (None: the
    object may be referenced, e.g. a storage type, but not called)."""

    __slots__ = ("name", "fn")

    def __init__(self, name: str, fn=None):
        self.name, self.fn = name, fn

    def __repr__(self) -> str:
        return f"<allowed global {self.name}>"


def refuse_global(module: str, name: str, pos: int, why: str = "") -> CheckpointError:
    """The error for a ``GLOBAL`` that is not allowed."""
    return CheckpointError(f"refused GLOBAL {module}.{name} at byte {pos}: "
                           f"{why or 'it is not on the allowlist'}; {_HOW_TO_FIX}.")


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data, pos):
        self.data, self.pos, self.end = data, pos, len(data)

    def take(self, n: int):
        if n < 0 or self.pos + n > self.end:
            raise CheckpointError(f"the pickle stream is truncated (needs {n} bytes at byte "
                                  f"{self.pos}, {self.end - self.pos} left)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(out)

    def unpack(self, st):
        return st.unpack(self.take(st.size))[0]

    def line(self) -> str:
        nl = self.data.find(b"\n", self.pos)
        if nl < 0:
            raise CheckpointError(f"the pickle stream is truncated inside a GLOBAL at byte "
                                  f"{self.pos}")
        text = self.take(nl - self.pos + 1)[:-1]
        return text.decode("utf-8")


def run(data, pos: int, find_global, persistent_load):
    """Execute the pickle stream in ``data`` starting at ``pos``; return ``(object, end)``.

    Args:
        data: bytes holding the stream.
        pos: where the stream starts.
        find_global: ``fn(module, name, pos) -> SafeGlobal or other constant`` (it raises for
            names it refuses); None refuses every global.
        persistent_load: ``fn(pid) -> object`` for ``BINPERSID``; None refuses them.

    Raises:
        CheckpointError: a refused global/opcode/persistent id, or a malformed stream.
    """
    vm = _VM(_Reader(data, pos), find_global, persistent_load)
    try:
        return vm.execute(), vm.r.pos
    except (CheckpointError, PassThrough):
        raise
    except RecursionError:  # a pathological structure (a container nested in itself)
        raise CheckpointError(f"the pickle stream nests containers too deeply (at byte "
                              f"{vm.r.pos})") from None
    except Exception as e:  # noqa: BLE001 - data errors only: this VM calls no foreign code
        raise CheckpointError(f"malformed pickle stream at byte {vm.r.pos}: "
                              f"{type(e).__name__}: {e}") from None


class _VM:
    __slots__ = ("r", "stack", "metastack", "memo", "find_global", "persistent_load")

    def __init__(self, reader, find_global, persistent_load):
        self.r, self.find_global, self.persistent_load = reader, find_global, persistent_load
        self.stack, self.metastack, self.memo = [], [], {}

    def execute(self):
        r, ops = self.r, _OPS
        while True:
            start = r.pos
            op = r.take(1)
            if op == b".":  # STOP
                if not self.stack:
                    raise CheckpointError("the pickle stream ends with an empty stack")
                return self.stack.pop()
            handler = ops.get(op)
            if handler is None:
                if op in _REFUSED:
                    raise CheckpointError(f"refused opcode {_REFUSED[op]} at byte {start}; "
                                          f"{_HOW_TO_FIX}.")
                raise CheckpointError(f"unknown pickle opcode {op!r} at byte {start}")
            handler(self, op, start)

    def pop_mark(self):
        """The items pushed since the last MARK (and the stack as it was before it)."""
        if not self.metastack:
            raise CheckpointError("the pickle stream pops a MARK that was never set")
        items, self.stack = self.stack, self.metastack.pop()
        return items

    def target(self, kinds, name):
        """The stack's top, which opcode ``name`` modifies: it must be one of ``kinds``."""
        if not self.stack or type(self.stack[-1]) not in kinds:
            got = type(self.stack[-1]).__name__ if self.stack else "an empty stack"
            raise CheckpointError(f"opcode {name} applied to {got}, expected "
                                  f"{'/'.join(k.__name__ for k in kinds)}")
        return self.stack[-1]


# -- opcode handlers: handler(vm, opcode, position) --------------------------------------------
_OPS = {}
_CONSTS = {b"N": None, b"\x88": True, b"\x89": False, b")": (), b"]": list, b"}": dict,
           b"\x8f": set}
_NUMBERS = {b"J": _I32, b"K": _U8, b"M": _U16, b"G": _F64}
_LENGTHS = {b"X": _U32, b"\x8c": _U8, b"\x8d": _U64,  # BINUNICODE, SHORT_, 8
            b"U": _U8, b"T": _I32,  # SHORT_BINSTRING, BINSTRING (Python 2 str)
            b"C": _U8, b"B": _U32, b"\x8e": _U64, b"\x96": _U64}  # BINBYTES*, BYTEARRAY8


def _op(*codes):
    def register(fn):
        _OPS.update(dict.fromkeys(codes, fn))
        return fn
    return register


@_op(b"\x80")
def _proto(vm, op, start):
    if vm.r.unpack(_U8) > 5:
        raise CheckpointError(f"unknown pickle protocol at byte {start}")


@_op(b"\x95")
def _frame(vm, op, start):  # a length hint only
    if vm.r.unpack(_U64) > vm.r.end - vm.r.pos:
        raise CheckpointError(f"the pickle stream is truncated (a frame at byte {start} is "
                              f"longer than the data)")


@_op(*_CONSTS)
def _const(vm, op, start):
    value = _CONSTS[op]
    vm.stack.append(value() if callable(value) else value)  # a new list/dict/set each time


@_op(*_NUMBERS)
def _number(vm, op, start):
    vm.stack.append(vm.r.unpack(_NUMBERS[op]))


@_op(b"\x8a", b"\x8b")
def _long(vm, op, start):  # LONG1, LONG4: little-endian two's complement
    n = vm.r.unpack(_U8) if op == b"\x8a" else vm.r.unpack(_I32)
    vm.stack.append(int.from_bytes(vm.r.take(n), "little", signed=True))


@_op(*_LENGTHS)
def _sized(vm, op, start):
    data = vm.r.take(vm.r.unpack(_LENGTHS[op]))
    if op in (b"X", b"\x8c", b"\x8d"):
        data = data.decode("utf-8", "surrogatepass")
    elif op in (b"U", b"T"):
        data = data.decode("utf-8")
    elif op == b"\x96":
        data = bytearray(data)
    vm.stack.append(data)


@_op(b"(", b"0", b"1", b"2")
def _stack_ops(vm, op, start):  # MARK, POP, POP_MARK, DUP
    if op == b"(":
        vm.metastack.append(vm.stack)
        vm.stack = []
    elif op == b"2":
        vm.stack.append(vm.stack[-1])
    elif op == b"1" or not vm.stack:  # POP on an empty stack pops the mark, as pickle does
        vm.pop_mark()
    else:
        vm.stack.pop()


@_op(b"t", b"\x85", b"\x86", b"\x87", b"l", b"d", b"\x91")
def _collection(vm, op, start):  # TUPLE, TUPLE1..3, LIST, DICT, FROZENSET
    if op in (b"\x85", b"\x86", b"\x87"):
        n = op[0] - 0x84
        if len(vm.stack) < n:
            raise CheckpointError(f"opcode TUPLE{n} at byte {start} needs {n} items")
        vm.stack[-n:] = [tuple(vm.stack[-n:])]
        return
    items = vm.pop_mark()
    build = {b"t": tuple, b"l": list, b"\x91": frozenset}.get(op)
    vm.stack.append(build(items) if build else dict(zip(items[::2], items[1::2])))


@_op(b"a", b"e", b"s", b"u", b"\x90")
def _add(vm, op, start):  # APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS
    if op == b"a":
        item = vm.stack.pop()
        vm.target((list,), "APPEND").append(item)
    elif op == b"s":
        value, key = vm.stack.pop(), vm.stack.pop()
        vm.target(_DICTS, "SETITEM")[key] = value
    elif op == b"e":
        items = vm.pop_mark()
        vm.target((list,), "APPENDS").extend(items)
    elif op == b"\x90":
        items = vm.pop_mark()
        vm.target((set,), "ADDITEMS").update(items)
    else:
        items = vm.pop_mark()
        if len(items) % 2:
            raise CheckpointError(f"opcode SETITEMS at byte {start} has an odd number of "
                                  f"items")
        d = vm.target(_DICTS, "SETITEMS")
        for i in range(0, len(items), 2):
            d[items[i]] = items[i + 1]


@_op(b"h", b"j", b"q", b"r", b"\x94")
def _memo(vm, op, start):  # BINGET, LONG_BINGET, BINPUT, LONG_BINPUT, MEMOIZE
    if op == b"\x94":
        vm.memo[len(vm.memo)] = vm.stack[-1]
        return
    idx = vm.r.unpack(_U8 if op in (b"h", b"q") else _U32)
    if op in (b"q", b"r"):
        vm.memo[idx] = vm.stack[-1]
    elif idx in vm.memo:
        vm.stack.append(vm.memo[idx])
    else:
        raise CheckpointError(f"the pickle stream reads memo entry {idx} at byte {start}, "
                              f"which was never stored")


@_op(b"c", b"\x93")
def _global(vm, op, start):  # GLOBAL, STACK_GLOBAL: answered by the caller's allowlist only
    if op == b"c":
        module, name = vm.r.line(), vm.r.line()
    else:
        name, module = vm.stack.pop(), vm.stack.pop()
        if type(module) is not str or type(name) is not str:
            raise CheckpointError(f"STACK_GLOBAL at byte {start} needs two strings")
    if vm.find_global is None:
        raise refuse_global(module, name, start)
    vm.stack.append(vm.find_global(module, name, start))


@_op(b"R")
def _reduce(vm, op, start):  # calls only the caller's SafeGlobal functions
    args, fn = vm.stack.pop(), vm.stack.pop()
    if type(fn) is not SafeGlobal or fn.fn is None:
        what = fn.name if type(fn) is SafeGlobal else f"a {type(fn).__name__}"
        raise CheckpointError(f"opcode REDUCE at byte {start} calls {what}, which is not an "
                              f"allowed function; {_HOW_TO_FIX}.")
    if type(args) is not tuple:
        raise CheckpointError(f"opcode REDUCE at byte {start}: {fn.name} needs a tuple of "
                              f"arguments, got {type(args).__name__}")
    vm.stack.append(fn.fn(*args))


@_op(b"b")
def _build(vm, op, start):  # only plain attributes of an OrderedDict (a state_dict's _metadata)
    state, inst = vm.stack.pop(), vm.stack[-1]
    # names OrderedDict has (keys, items, __class__...) are refused: a file must not be able
    # to shadow a method of the dict it returns
    if type(inst) is not OrderedDict or type(state) is not dict or \
            not all(type(k) is str and not hasattr(OrderedDict, k) for k in state):
        raise CheckpointError(f"opcode BUILD at byte {start} sets the state of a "
                              f"{type(inst).__name__} from a {type(state).__name__}; only "
                              f"new plain attributes of an OrderedDict are allowed")
    inst.__dict__.update(state)


@_op(b"Q")
def _persistent(vm, op, start):  # BINPERSID: the caller resolves storages
    pid = vm.stack.pop()
    if vm.persistent_load is None:
        raise CheckpointError(f"persistent id at byte {start} refused: this stream may not "
                              f"reference storages")
    vm.stack.append(vm.persistent_load(pid))
