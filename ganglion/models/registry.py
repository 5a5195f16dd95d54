"""``get_model``: build a zoo model by name and optionally load its weights from a local file.

The names are those of ``ganglion.models.MODELS`` (what the CLI's ``--model`` offers). The
weights may be a ganglion checkpoint, a plain safetensors file (e.g. from
``safetensors.torch.save_file``) or a torch ``.pt``/``.bin`` state_dict: anything
``ganglion.load`` reads. Keys and shapes are checked, and a mismatch raises one error that
lists every missing, unexpected and mismatched key.

Example:
    >>> import os, tempfile, ganglion
    >>> from ganglion.models import get_model
    >>> path = os.path.join(tempfile.mkdtemp(), "lenet.safetensors")
    >>> ganglion.save(get_model("lenet5").state_dict(), path)
    >>> model = get_model("lenet5", weights=path)
    >>> try:
    ...     get_model("lenet5", weights=path, num_classes=5)
    ... except ganglion.io.StateDictMismatchError as e:
    ...     print(e.report.mismatched_keys)
    [('fc3.weight', (10, 84), (5, 84)), ('fc3.bias', (10,), (5,))]
"""
from __future__ import annotations

from ganglion.io.state_dict_report import load_state_dict_file

__all__ = ["get_model"]


def get_model(name: str, weights=None, *, weights_key=None, strict: bool = True, **kwargs):
    """Build a zoo model by name (``small_cnn``, ``mnist_cnn``, ``mlp``, ``lenet5``,
    ``vgg_small``, ``resnet18``, ``resnet20``) and load ``weights`` into it.

    Args:
        name: a key of ``ganglion.models.MODELS``.
        weights: None (fresh initialisation), a path or binary file of a ganglion,
            safetensors or torch checkpoint, or a state_dict mapping.
        weights_key: the entry of a nested checkpoint that holds the state_dict
            (``"model"`` for ``{"model": ..., "optimizer": ...}``).
        strict: every key and shape must match (else ``StateDictMismatchError`` lists all
            mismatches). With False, the matching tensors load and the rest keep their
            initialisation (e.g. a new ``num_classes`` head). Default: True.
        **kwargs: the model's own arguments (``num_classes``, ``in_channels``, ...).

    Returns:
        the model (in training mode, as built).
    """
    from ganglion.models import MODELS  # noqa: PLC0415 - the registry lives in the package

    if name not in MODELS:
        raise ValueError(f"get_model: unknown model {name!r}; choose one of {sorted(MODELS)}")
    model = MODELS[name](**kwargs)
    if weights is not None:
        load_state_dict_file(model, weights, strict=strict, key=weights_key,
                             who=f"get_model({name!r})")
    return model
