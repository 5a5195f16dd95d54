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

__all__ = ["run", "SafeGlobal", "refuse_global"]

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
    r = _Reader(data, pos)
    try:
        return _execute(r, find_global, persistent_load), r.pos
    except CheckpointError:
        raise
    except RecursionError:  # a pathological structure (a container nested in itself)
        raise CheckpointError(f"the pickle stream nests containers too deeply (at byte "
                              f"{r.pos})") from None
    except Exception as e:  # noqa: BLE001 - data errors only: this VM calls no foreign code
        raise CheckpointError(f"malformed pickle stream at byte {r.pos}: "
                              f"{type(e).__name__}: {e}") from None


def _pop_mark(stack, metastack):
    items = stack[:]
    if not metastack:
        raise CheckpointError("the pickle stream pops a MARK that was never set")
    stack[:] = metastack.pop()
    return items


def _target(stack, kinds, op):
    if not stack or type(stack[-1]) not in kinds:
        got = type(stack[-1]).__name__ if stack else "an empty stack"
        raise CheckpointError(f"opcode {op} applied to {got}, expected "
                              f"{'/'.join(k.__name__ for k in kinds)}")
    return stack[-1]


def _execute(r, find_global, persistent_load):  # noqa: C901, PLR0912, PLR0915 - one dispatch
    stack, metastack, memo = [], [], {}
    push = stack.append
    while True:
        start = r.pos
        op = r.take(1)
        if op in _REFUSED:
            raise CheckpointError(f"refused opcode {_REFUSED[op]} at byte {start}; "
                                  f"{_HOW_TO_FIX}.")
        if op == b"\x80":  # PROTO
            proto = r.unpack(_U8)
            if proto > 5:
                raise CheckpointError(f"unknown pickle protocol {proto}")
        elif op == b"\x95":  # FRAME: a length hint only
            if r.unpack(_U64) > r.end - r.pos:
                raise CheckpointError(f"the pickle stream is truncated (a frame at byte "
                                      f"{start} is longer than the data)")
        elif op == b".":  # STOP
            if not stack:
                raise CheckpointError("the pickle stream ends with an empty stack")
            return stack.pop()
        elif op == b"(":  # MARK
            metastack.append(stack[:])
            stack.clear()
        elif op == b"0":  # POP
            stack.pop() if stack else _pop_mark(stack, metastack)
        elif op == b"1":  # POP_MARK
            _pop_mark(stack, metastack)
        elif op == b"2":  # DUP
            push(stack[-1])
        elif op == b"N":
            push(None)
        elif op == b"\x88":
            push(True)
        elif op == b"\x89":
            push(False)
        elif op == b"J":
            push(r.unpack(_I32))
        elif op == b"K":
            push(r.unpack(_U8))
        elif op == b"M":
            push(r.unpack(_U16))
        elif op in (b"\x8a", b"\x8b"):  # LONG1, LONG4: little-endian two's complement
            n = r.unpack(_U8) if op == b"\x8a" else r.unpack(_I32)
            push(int.from_bytes(r.take(n), "little", signed=True))
        elif op == b"G":
            push(r.unpack(_F64))
        elif op in (b"X", b"\x8c", b"\x8d"):  # BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
            n = r.unpack({b"X": _U32, b"\x8c": _U8, b"\x8d": _U64}[op])
            push(r.take(n).decode("utf-8", "surrogatepass"))
        elif op in (b"U", b"T"):  # SHORT_BINSTRING, BINSTRING: Python 2 str, read as utf-8
            n = r.unpack(_U8) if op == b"U" else r.unpack(_I32)
            push(r.take(n).decode("utf-8"))
        elif op in (b"C", b"B", b"\x8e"):  # SHORT_BINBYTES, BINBYTES, BINBYTES8
            push(r.take(r.unpack({b"C": _U8, b"B": _U32, b"\x8e": _U64}[op])))
        elif op == b"\x96":  # BYTEARRAY8
            push(bytearray(r.take(r.unpack(_U64))))
        elif op == b")":
            push(())
        elif op == b"t":
            push(tuple(_pop_mark(stack, metastack)))
        elif op in (b"\x85", b"\x86", b"\x87"):  # TUPLE1..3
            n = op[0] - 0x84
            if len(stack) < n:
                raise CheckpointError(f"opcode TUPLE{n} at byte {start} needs {n} items")
            stack[-n:] = [tuple(stack[-n:])]
        elif op == b"]":
            push([])
        elif op == b"l":  # LIST
            push(_pop_mark(stack, metastack))
        elif op == b"a":  # APPEND
            item = stack.pop()
            _target(stack, (list,), "APPEND").append(item)
        elif op == b"e":  # APPENDS
            items = _pop_mark(stack, metastack)
            _target(stack, (list,), "APPENDS").extend(items)
        elif op == b"}":
            push({})
        elif op == b"d":  # DICT
            items = _pop_mark(stack, metastack)
            push(dict(zip(items[::2], items[1::2])))
        elif op == b"s":  # SETITEM
            value, key = stack.pop(), stack.pop()
            _target(stack, _DICTS, "SETITEM")[key] = value
        elif op == b"u":  # SETITEMS
            items = _pop_mark(stack, metastack)
            if len(items) % 2:
                raise CheckpointError(f"opcode SETITEMS at byte {start} has an odd number "
                                      f"of items")
            d = _target(stack, _DICTS, "SETITEMS")
            for i in range(0, len(items), 2):
                d[items[i]] = items[i + 1]
        elif op == b"\x8f":
            push(set())
        elif op == b"\x90":  # ADDITEMS
            items = _pop_mark(stack, metastack)
            _target(stack, (set,), "ADDITEMS").update(items)
        elif op == b"\x91":  # FROZENSET
            push(frozenset(_pop_mark(stack, metastack)))
        elif op in (b"h", b"j"):  # BINGET, LONG_BINGET
            idx = r.unpack(_U8 if op == b"h" else _U32)
            if idx not in memo:
                raise CheckpointError(f"the pickle stream reads memo entry {idx} at byte "
                                      f"{start}, which was never stored")
            push(memo[idx])
        elif op in (b"q", b"r"):  # BINPUT, LONG_BINPUT
            memo[r.unpack(_U8 if op == b"q" else _U32)] = stack[-1]
        elif op == b"\x94":  # MEMOIZE
            memo[len(memo)] = stack[-1]
        elif op in (b"c", b"\x93"):  # GLOBAL, STACK_GLOBAL
            if op == b"c":
                module, name = r.line(), r.line()
            else:
                name, module = stack.pop(), stack.pop()
                if type(module) is not str or type(name) is not str:
                    raise CheckpointError(f"STACK_GLOBAL at byte {start} needs two strings")
            if find_global is None:
                raise refuse_global(module, name, start)
            push(find_global(module, name, start))
        elif op == b"R":  # REDUCE
            args, fn = stack.pop(), stack.pop()
            if type(fn) is not SafeGlobal or fn.fn is None:
                what = fn.name if type(fn) is SafeGlobal else f"a {type(fn).__name__}"
                raise CheckpointError(f"opcode REDUCE at byte {start} calls {what}, which is "
                                      f"not an allowed function; {_HOW_TO_FIX}.")
            if type(args) is not tuple:
                raise CheckpointError(f"opcode REDUCE at byte {start}: {fn.name} needs a "
                                      f"tuple of arguments, got {type(args).__name__}")
            push(fn.fn(*args))
        elif op == b"b":  # BUILD: only attributes of an OrderedDict (a state_dict's _metadata)
            state, inst = stack.pop(), stack[-1]
            if type(inst) is not OrderedDict or type(state) is not dict or \
                    not all(type(k) is str and not k.startswith("__") for k in state):
                raise CheckpointError(f"opcode BUILD at byte {start} sets the state of a "
                                      f"{type(inst).__name__} from a {type(state).__name__}; "
                                      f"only plain attributes of an OrderedDict are allowed")
            inst.__dict__.update(state)
        elif op == b"Q":  # BINPERSID
            pid = stack.pop()
            if persistent_load is None:
                raise CheckpointError(f"persistent id at byte {start} refused: this stream "
                                      f"may not reference storages")
            push(persistent_load(pid))
        else:
            raise CheckpointError(f"unknown pickle opcode {op!r} at byte {start}")
