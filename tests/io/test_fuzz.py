"""Damaged checkpoints: truncating or flipping bytes of a valid file anywhere gives either a
clean CheckpointError naming the file, or a successful load (a byte changed inside tensor data,
or a scalar's digit) -- never another exception, a hang, or a crash."""
import io
import os
from collections import OrderedDict

import numpy as np
import pytest

import ganglion
from ganglion.io import CheckpointError, load, save


def _checkpoint_bytes():
    obj = {
        "model": OrderedDict([("fc.weight", ganglion.randn(3, 2)), ("fc.bias", ganglion.zeros(3)),
                              ("mask", ganglion.tensor([True, False]))]),
        "optimizer": {"state": {0: {"step": ganglion.tensor(2.0), "exp_avg": ganglion.ones(2)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
        "rng": ganglion.get_rng_state(), "epoch": 7, "name": "run-1", "none": None,
        "nd": np.arange(4, dtype=np.int16), "big": -(2 ** 70), "nan": float("nan"),
        "b": b"\x01\x02", "s": {1, 2}, "shape": ganglion.Size([2, 3]),
    }
    buf = io.BytesIO()
    save(obj, buf)
    return buf.getvalue()


def _load_or_clean_error(data, name="<file object>"):
    try:
        load(io.BytesIO(data))
    except CheckpointError as e:
        msg = str(e)
        assert msg.startswith("load: ") and name in msg, msg
        assert "Traceback" not in msg and e.__cause__ is None, msg


def test_truncation_at_every_header_position_and_through_the_data():
    data = _checkpoint_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    cuts = list(range(0, header_end + 2)) + list(range(header_end, len(data), 7))
    for cut in cuts:
        with pytest.raises(CheckpointError):  # every proper prefix is incomplete
            load(io.BytesIO(data[:cut]))


@pytest.mark.parametrize("seed", range(4))
def test_random_byte_mutations(seed):
    rng = np.random.default_rng(seed)
    data = _checkpoint_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    # most mutations inside the header, where the structure JSON lives; some in the data
    positions = np.concatenate([rng.integers(0, header_end, 90),
                                rng.integers(header_end, len(data), 10)])
    loaded = 0
    for pos in positions:
        mutated = bytearray(data)
        if rng.random() < 0.5:
            mutated[pos] = int(rng.integers(0, 256))
        else:  # a plausible character, to get past the JSON parser more often
            mutated[pos] = ord(rng.choice(list('0123456789{}[]",:tkv-x ')))
        try:
            load(io.BytesIO(bytes(mutated)))
            loaded += 1
        except CheckpointError as e:
            assert str(e).startswith("load: <file object>"), str(e)
    assert loaded < len(positions)  # the mutations did damage something


def test_multi_byte_damage_and_extra_bytes():
    rng = np.random.default_rng(10)
    data = _checkpoint_bytes()
    for _ in range(60):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data), int(rng.integers(2, 6))):
            mutated[pos] ^= int(rng.integers(1, 256))
        _load_or_clean_error(bytes(mutated))
    _load_or_clean_error(data + b"trailing garbage")
    _load_or_clean_error(os.urandom(64))


def test_damage_through_a_path_and_mmap(tmp_path):
    rng = np.random.default_rng(11)
    data = _checkpoint_bytes()
    path = tmp_path / "damaged.safetensors"
    for _ in range(40):
        mutated = bytearray(data)
        mutated[int(rng.integers(0, 8 + int.from_bytes(data[:8], "little")))] ^= 0x20
        path.write_bytes(bytes(mutated))
        for mmap in (False, True):
            try:
                load(path, mmap=mmap)
            except CheckpointError as e:
                assert str(e).startswith(f"load: {str(path)!r}"), str(e)
