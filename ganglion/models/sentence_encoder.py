"""``SentenceEncoder``: sentence embeddings from a sentence-transformers BERT folder
(Reimers & Gurevych 2019, https://arxiv.org/abs/1908.10084), e.g. all-MiniLM-L6-v2.

The pipeline of the folder's ``modules.json`` is rebuilt from ganglion parts: the ``tokenizers``
tokenizer of ``tokenizer.json`` (truncated to ``max_seq_length`` of
``sentence_bert_config.json``), ``BertModel`` with the ``model.safetensors`` weights, the
pooling of ``1_Pooling/config.json`` (mean, CLS or max over real tokens) and, when listed,
L2 normalization. Other modules (Dense, ...) raise an error rather than being skipped.

Example:
    >>> import ganglion
    >>> from ganglion.models.bert import BertConfig, BertModel
    >>> from ganglion.data.text import Tokenizer
    >>> tok = Tokenizer.train_wordpiece(["a good film", "a dull film"], vocab_size=40)
    >>> bert = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16,
    ...                             num_hidden_layers=1, num_attention_heads=2,
    ...                             intermediate_size=32), add_pooling_layer=False)
    >>> enc = SentenceEncoder(bert, tok, max_seq_length=16)
    >>> emb = enc.encode(["a good film", "dull"])
    >>> emb.shape, bool(((emb * emb).sum(1) - 1).abs().max() < 1e-5)
    (ganglion.Size([2, 16]), True)
"""
from __future__ import annotations

import json
import os

import numpy as np

import ganglion
import ganglion.nn.functional as F
from ganglion.data.text_common import pack_ids
from ganglion.models.bert import BertModel
from ganglion.nn.module import Module
from ganglion.tensor import Tensor

__all__ = ["SentenceEncoder", "pool_tokens"]

POOLING_MODES = ("mean", "cls", "max")
_MODULE_TYPES = {"sentence_transformers.models.Transformer": "transformer",
                 "sentence_transformers.models.Pooling": "pooling",
                 "sentence_transformers.models.Normalize": "normalize"}


def pool_tokens(hidden: Tensor, attention_mask: Tensor, mode: str = "mean") -> Tensor:
    """One vector per sequence from token states, ignoring padding (differentiable).

    Args:
        hidden: (N, S, E) token states.
        attention_mask: (N, S), nonzero on real tokens.
        mode: ``'mean'`` (average of real tokens), ``'cls'`` (first token) or ``'max'``
            (elementwise max over real tokens).

    Returns:
        (N, E).

    Example:
        >>> h = ganglion.tensor([[[1.0], [3.0], [9.0]]])
        >>> pool_tokens(h, ganglion.tensor([[1, 1, 0]])).tolist()
        [[2.0]]
    """
    if mode not in POOLING_MODES:
        raise ValueError(f"pool_tokens: mode must be one of {POOLING_MODES}, got {mode!r}")
    if mode == "cls":
        return hidden[:, 0]
    mask = (attention_mask != 0).unsqueeze(-1)
    if mode == "max":
        # sentence-transformers fills padding with -1e9 before the max; the same here.
        return hidden.masked_fill(~mask, -1e9).max(dim=1).values
    m = mask.to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def _read_json(path: str, who: str):
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{who}: {path} is not valid JSON ({e})") from None


def _pipeline(folder: str) -> dict:
    """{'pooling': folder of the pooling config or None, 'normalize': bool} from
    modules.json; a module ganglion does not rebuild raises."""
    path = os.path.join(folder, "modules.json")
    if not os.path.isfile(path):  # a plain BERT folder: mean pooling, normalized
        return {"pooling": None, "normalize": True}
    out = {"pooling": None, "normalize": False}
    for module in _read_json(path, "SentenceEncoder"):
        kind = _MODULE_TYPES.get(module.get("type"))
        if kind is None:
            raise ValueError(f"SentenceEncoder: {path} lists module {module.get('type')!r}, "
                             f"which ganglion does not implement (it rebuilds "
                             f"{sorted(_MODULE_TYPES)}); use a model without it")
        if kind == "transformer" and module.get("path", "") not in ("", "."):
            raise ValueError(f"SentenceEncoder: the Transformer module lives in "
                             f"{module['path']!r}; pass that folder instead of {folder!r}")
        if kind == "pooling":
            out["pooling"] = os.path.join(folder, module.get("path", ""))
        out["normalize"] = out["normalize"] or kind == "normalize"
    return out


def _pooling_mode(folder) -> str:
    if folder is None:
        return "mean"
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SentenceEncoder: modules.json names a pooling module but "
                                f"{path} is missing")
    cfg = _read_json(path, "SentenceEncoder")
    flags = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token",
             "max": "pooling_mode_max_tokens"}
    on = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
    modes = [m for m, flag in flags.items() if flag in on]
    if len(on) != 1 or len(modes) != 1:
        raise ValueError(f"SentenceEncoder: {path} asks for pooling {on}; ganglion supports "
                         f"exactly one of {sorted(flags.values())}")
    return modes[0]


class SentenceEncoder(Module):
    """Tokenizer + ``BertModel`` + pooling (+ L2 normalization): sentence embeddings.

    Args:
        bert: the ``BertModel`` encoder.
        tokenizer: a ``ganglion.data.text.Tokenizer`` for its vocabulary.
        max_seq_length: tokens kept per sentence (special tokens included).
        pooling: ``'mean'``, ``'cls'`` or ``'max'`` (see ``pool_tokens``).
        normalize: L2-normalize the embeddings.
        do_lower_case: lowercase sentences before tokenizing (sentence-transformers' flag).

    ``forward(input_ids, attention_mask, token_type_ids=None)`` is differentiable (for
    fine-tuning); ``encode(sentences)`` is the batched inference path.
    """

    def __init__(self, bert: BertModel, tokenizer, max_seq_length: int = 256,
                 pooling: str = "mean", normalize: bool = True,
                 do_lower_case: bool = False) -> None:
        super().__init__()
        if not isinstance(bert, BertModel):
            raise TypeError(f"SentenceEncoder: bert must be a BertModel, got "
                            f"{type(bert).__name__}")
        if pooling not in POOLING_MODES:
            raise ValueError(f"SentenceEncoder: pooling must be one of {POOLING_MODES}, got "
                             f"{pooling!r}")
        limit = bert.config.max_position_embeddings
        if not isinstance(max_seq_length, int) or not 2 <= max_seq_length <= limit:
            raise ValueError(f"SentenceEncoder: max_seq_length must be an int in [2, {limit}] "
                             f"(the model's max_position_embeddings), got {max_seq_length!r}")
        if tokenizer.pad_id is None:
            raise ValueError("SentenceEncoder: the tokenizer has no padding token")
        self.bert, self.tokenizer = bert, tokenizer
        self.max_seq_length, self.pooling, self.normalize = max_seq_length, pooling, normalize
        self.do_lower_case = do_lower_case

    @classmethod
    def from_pretrained(cls, folder) -> "SentenceEncoder":
        """Load a sentence-transformers folder (``modules.json``, ``config.json``,
        ``model.safetensors``, ``tokenizer.json``, ``sentence_bert_config.json``,
        ``1_Pooling/config.json``); in eval mode.

        Raises:
            FileNotFoundError: no such folder or a required file missing.
            ValueError: a module, pooling or config ganglion cannot honour.
        """
        from ganglion.data.text import Tokenizer
        folder = os.path.expanduser(os.fspath(folder))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"SentenceEncoder.from_pretrained: {folder!r} is not a "
                                    f"folder; pass a sentence-transformers model folder")
        if not os.path.isfile(os.path.join(folder, "tokenizer.json")):
            raise FileNotFoundError(f"SentenceEncoder.from_pretrained: no tokenizer.json in "
                                    f"{folder} (the fast-tokenizer file is needed; vocab.txt "
                                    f"alone is not read)")
        pipeline = _pipeline(folder)
        st_path = os.path.join(folder, "sentence_bert_config.json")
        st = _read_json(st_path, "SentenceEncoder") if os.path.isfile(st_path) else {}
        bert = BertModel.from_pretrained(folder)
        max_len = min(int(st.get("max_seq_length") or 256), bert.config.max_position_embeddings)
        return cls(bert, Tokenizer.load(folder), max_seq_length=max_len,
                   pooling=_pooling_mode(pipeline["pooling"]), normalize=pipeline["normalize"],
                   do_lower_case=bool(st.get("do_lower_case", False))).eval()

    def extra_repr(self) -> str:
        return (f"max_seq_length={self.max_seq_length}, pooling={self.pooling!r}, "
                f"normalize={self.normalize}")

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids=None) -> Tensor:
        hidden = self.bert(input_ids, attention_mask, token_type_ids).last_hidden_state
        emb = pool_tokens(hidden, attention_mask, self.pooling)
        return F.normalize(emb, p=2.0, dim=1) if self.normalize else emb

    def tokenize(self, sentences) -> list:
        """Token id lists of ``sentences``, truncated to ``max_seq_length``."""
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise TypeError("SentenceEncoder: sentences must be a list of str (wrap a single "
                            "sentence as [sentence])")
        texts = [s.lower() for s in sentences] if self.do_lower_case else list(sentences)
        return self.tokenizer.encode_batch(texts, padding=False, truncation=True,
                                           max_length=self.max_seq_length,
                                           return_tensors=None)["input_ids"]

    def encode(self, sentences, batch_size: int = 32) -> Tensor:
        """Embeddings of ``sentences``: an (N, E) float32 tensor, in the input order.

        Runs in eval mode without gradients; batches hold sentences of similar length (sorted
        by token count) so little compute goes to padding.
        """
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be a positive int, "
                             f"got {batch_size!r}")
        ids = self.tokenize(sentences)
        order = np.argsort([-len(r) for r in ids], kind="stable")
        out = np.empty((len(ids), self.bert.config.hidden_size), dtype=np.float32)
        was_training = self.training
        self.eval()
        try:
            with ganglion.no_grad():
                for start in range(0, len(ids), batch_size):
                    rows = order[start:start + batch_size]
                    batch = pack_ids([ids[i] for i in rows], pad_id=self.tokenizer.pad_id,
                                     padding="longest", max_length=None,
                                     return_tensors="ganglion", op="SentenceEncoder.encode")
                    out[rows] = self(batch["input_ids"], batch["attention_mask"]).numpy()
        finally:
            self.train(was_training)
        return ganglion.from_numpy(out)
