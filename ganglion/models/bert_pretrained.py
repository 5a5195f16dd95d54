"""Loading Hugging Face BERT checkpoints into ``BertModel``: ``config.json`` plus
``model.safetensors`` (never pickle: a ``pytorch_model.bin`` is refused with a hint).

Key names are transformers' own; ``convert_bert_state_dict`` also accepts the forms other
exports use: a ``bert.`` prefix (``BertForSequenceClassification``, ``BertForMaskedLM``),
the original TensorFlow port's ``LayerNorm.gamma``/``beta``, and the ``position_ids`` buffer
older transformers saved. Task heads outside the encoder (``cls.*``, ``classifier.*``) are
left out and named in a warning.

Example:
    >>> import ganglion
    >>> cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
    ...                  num_attention_heads=2, intermediate_size=32)
    >>> sd = {"bert." + k: v for k, v in BertModel(cfg).state_dict().items()}
    >>> model = BertModel(cfg)
    >>> model.load_state_dict(convert_bert_state_dict(sd, model))
    <All keys matched successfully>
"""
from __future__ import annotations

import os
import warnings

from ganglion.models.bert import BertConfig, BertModel

__all__ = ["load_bert", "convert_bert_state_dict"]

_ROOTS = ("embeddings.", "encoder.", "pooler.")


def _rename(key: str) -> str:
    if key.endswith("LayerNorm.gamma"):
        return key[:-len("gamma")] + "weight"
    if key.endswith("LayerNorm.beta"):
        return key[:-len("beta")] + "bias"
    return key


def convert_bert_state_dict(state_dict: dict, model: BertModel) -> dict:
    """Map a Hugging Face BERT state dict to ``model``'s keys (see the module docstring).

    Returns a dict for ``model.load_state_dict`` (strict): missing or misshapen weights then
    raise there with torch's message.
    """
    encoder_keys = [k for k in state_dict if k.startswith("bert.")]
    prefix = "bert." if encoder_keys else ""
    out, dropped = {}, []
    for key, value in state_dict.items():
        name = _rename(key[len(prefix):] if key.startswith(prefix) else key)
        if name == "embeddings.position_ids":
            continue  # a constant arange buffer transformers no longer saves
        if not name.startswith(_ROOTS) or (name.startswith("pooler.") and model.pooler is None):
            dropped.append(key)
            continue
        out[name] = value
    if dropped:
        warnings.warn(f"BertModel: the checkpoint's {len(dropped)} weights outside the encoder "
                      f"were not loaded: {dropped[:4]}{' ...' if len(dropped) > 4 else ''}",
                      stacklevel=3)
    return out


def _weights_file(folder: str) -> str:
    path = os.path.join(folder, "model.safetensors")
    if os.path.isfile(path):
        return path
    if os.path.isfile(os.path.join(folder, "pytorch_model.bin")):
        raise FileNotFoundError(f"BertModel.from_pretrained: {folder} has only "
                                f"pytorch_model.bin, a pickle file ganglion never loads; "
                                f"convert it to model.safetensors (safetensors.torch.save_file)")
    if os.path.isfile(os.path.join(folder, "model.safetensors.index.json")):
        raise FileNotFoundError(f"BertModel.from_pretrained: {folder} holds a sharded "
                                f"checkpoint (model.safetensors.index.json); merge the shards "
                                f"into one model.safetensors")
    raise FileNotFoundError(f"BertModel.from_pretrained: no model.safetensors in {folder}")


def load_bert(path, add_pooling_layer=None) -> BertModel:
    """``BertModel`` with the weights of a Hugging Face model folder, in eval mode.

    Args:
        path: a folder holding ``config.json`` and ``model.safetensors``.
        add_pooling_layer: build the pooler. None (default): when the checkpoint has its
            weights (sentence-transformers models may lack them).

    Raises:
        FileNotFoundError: no such folder, or a file missing (with what to do).
        ValueError: a config BertModel cannot honour (see ``BertConfig``).
        RuntimeError: weights whose names or shapes do not fit the config.
    """
    from ganglion.io import load_file
    folder = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"BertModel.from_pretrained: {folder!r} is not a folder; "
                                f"pass a Hugging Face model folder (config.json, "
                                f"model.safetensors)")
    config = BertConfig.from_json_file(os.path.join(folder, "config.json"))
    state = load_file(_weights_file(folder))
    if add_pooling_layer is None:
        add_pooling_layer = any(k.split("pooler.", 1)[0] in ("", "bert.") and "pooler." in k
                                for k in state)
    model = BertModel(config, add_pooling_layer=add_pooling_layer)
    model.load_state_dict(convert_bert_state_dict(state, model))
    return model.eval()
