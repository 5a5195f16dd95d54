"""Saving and loading: checkpoints as safetensors files, never pickle.

``save``/``load`` take torch's arguments and store anything a training checkpoint holds
(state_dicts, optimizer states, RNG states, NumPy arrays, numbers, strings); ``save_file``/
``load_file`` read and write flat ``{name: tensor}`` files that any safetensors reader shares.
``load`` also reads PyTorch's ``torch.save`` files (``.pt``/``.pth``/``.bin``) with a restricted
unpickler (``ganglion.io.torch_checkpoint``), and ``load_state_dict_file`` loads any of these
into a model with a report of missing, unexpected and shape-mismatched keys.
Loading never runs code: a damaged or hostile file raises ``CheckpointError``.

Example:
    >>> import io, ganglion
    >>> buf = io.BytesIO()
    >>> ganglion.io.save({"epoch": 3, "w": ganglion.zeros(2)}, buf)
    >>> _ = buf.seek(0)
    >>> ganglion.io.load(buf)["epoch"]
    3
"""
from ganglion.io.errors import CheckpointError
from ganglion.io.safetensors_io import load, load_file, save, save_file
from ganglion.io.state_dict_report import (StateDictMismatchError, StateDictReport,
                                           load_state_dict_file)

__all__ = ["save", "load", "save_file", "load_file", "CheckpointError", "load_state_dict_file",
           "StateDictReport", "StateDictMismatchError"]
