"""Text for sequence models: a ``Tokenizer`` around Hugging Face's ``tokenizers`` library
(WordPiece or byte-level BPE training, ``tokenizer.json`` files), a ``CharTokenizer`` for
character-level language models, and the ``SST2`` and ``TranslationPairs`` datasets.

``Tokenizer`` needs the optional ``tokenizers`` package (``pip install 'ganglion[text]'``),
imported only when a tokenizer is built or loaded. Batches come back as a dict like
Hugging Face's: ``input_ids`` and ``attention_mask`` (int64, ``(batch, length)``), plus
``token_type_ids`` for sentence pairs; ``return_tensors='ganglion'`` (default) gives
tensors, ``'np'`` arrays and ``None`` lists. Padding pads with ``pad_id`` on the right
(``padding_side='left'`` for generation); the mask is 1 on real tokens.

Example:
    >>> tok = Tokenizer.train_wordpiece(["the cat sat", "the dog sat on the mat"],
    ...                                 vocab_size=60, min_frequency=1)
    >>> batch = tok.encode_batch(["the cat sat", "the dog"])
    >>> batch["input_ids"].shape, batch["attention_mask"].tolist()
    (ganglion.Size([2, 5]), [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    >>> tok.decode_batch(batch["input_ids"])
    ['the cat sat', 'the dog']
"""
from __future__ import annotations

import json
import os

import numpy as np

from ganglion.data.text_char import CharTokenizer
from ganglion.data.text_common import (as_id_array, as_id_rows, as_output,
                                      check_return_tensors, convert_ids, padding_strategy)
from ganglion.data.text_pairs import ENG_PREFIXES, TranslationPairs, normalize_string
from ganglion.data.text_sst2 import SST2

__all__ = ["Tokenizer", "CharTokenizer", "SST2", "TranslationPairs", "ENG_PREFIXES",
           "normalize_string"]

WORDPIECE_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BPE_SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", "<mask>")
# The names by which a special token's role is recognised (BERT's, RoBERTa's, GPT-2's).
_ROLES = {"pad": ("[PAD]", "<pad>", "<|pad|>"), "unk": ("[UNK]", "<unk>", "<|unk|>"),
          "cls": ("[CLS]", "<s>", "<bos>", "<|bos|>"),
          "sep": ("[SEP]", "</s>", "<eos>", "<|eos|>", "<|endoftext|>"),
          "mask": ("[MASK]", "<mask>", "<|mask|>")}


def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise ImportError("ganglion.data.text.Tokenizer needs the 'tokenizers' package: "
                          "pip install 'ganglion[text]' (or pip install tokenizers)") from None
    return tokenizers


def _train(tok, source, trainer, op: str) -> None:
    """``source``: a path, a list of paths, or any iterable of strings (see train_wordpiece)."""
    if isinstance(source, (str, os.PathLike)):
        source = [source]
        if not os.path.isfile(os.fspath(source[0])):
            raise FileNotFoundError(f"{op}: no such file {os.fspath(source[0])!r}; to train "
                                    f"on a string, pass a list of texts: [text]")
    if isinstance(source, (list, tuple)) and source:
        is_file = [isinstance(s, os.PathLike) or (isinstance(s, str) and os.path.isfile(s))
                   for s in source]
        if all(is_file):
            tok.train([os.fspath(s) for s in source], trainer)
            return
        if any(is_file):
            missing = next(s for s, f in zip(source, is_file) if not f)
            raise FileNotFoundError(f"{op}: some entries are files and some are not (e.g. "
                                    f"{str(missing)[:60]!r}); pass only paths or only texts")
    tok.train_from_iterator(source, trainer)


def _find_role(vocab: dict, role: str):
    return next((t for t in _ROLES[role] if t in vocab), None)


class Tokenizer:
    """A subword tokenizer: a ``tokenizers.Tokenizer`` with a batch API like Hugging Face's.

    Build one with ``Tokenizer.train_wordpiece`` / ``Tokenizer.train_bpe`` or
    ``Tokenizer.load("tokenizer.json")`` (any Hugging Face ``tokenizer.json``, e.g.
    sentence-transformers' all-MiniLM-L6-v2's). Special-token roles (pad, unk, cls/bos,
    sep/eos, mask) are found by their usual names, or taken from the file's padding config.

    Args:
        backend: a ``tokenizers.Tokenizer``.
        model_max_length: the length ``truncation=True`` cuts to when no ``max_length`` is
            given (None: no limit).
        pad_token: the padding token (default: found by name).
        padding_side: ``'right'`` or ``'left'``.

    Attributes:
        vocab_size: the number of ids, added tokens included (an embedding's size).
        pad_id, unk_id, cls_id, sep_id, mask_id: special ids, or None when absent.
    """

    def __init__(self, backend, *, model_max_length=None, pad_token=None,
                 padding_side: str = "right") -> None:
        if padding_side not in ("right", "left"):
            raise ValueError(f"Tokenizer: padding_side must be 'right' or 'left', got "
                             f"{padding_side!r}")
        self.backend = backend
        self.model_max_length = model_max_length
        self.padding_side = padding_side
        vocab = backend.get_vocab(with_added_tokens=True)
        self.pad_token = pad_token if pad_token is not None else _find_role(vocab, "pad")
        if self.pad_token is not None and self.pad_token not in vocab:
            raise ValueError(f"Tokenizer: pad_token {self.pad_token!r} is not in the "
                             f"vocabulary")
        self.unk_token, self.cls_token = _find_role(vocab, "unk"), _find_role(vocab, "cls")
        self.sep_token, self.mask_token = _find_role(vocab, "sep"), _find_role(vocab, "mask")

    # -- building ------------------------------------------------------------------------
    @classmethod
    def train_wordpiece(cls, source, vocab_size: int = 30000, min_frequency: int = 2,
                        special_tokens=WORDPIECE_SPECIAL_TOKENS, lowercase: bool = True, *,
                        show_progress: bool = False) -> "Tokenizer":
        """Train a BERT-style WordPiece tokenizer (BERT normalizer and pre-tokenizer,
        ``##`` continuation pieces, ``[CLS] a [SEP] b [SEP]`` templates).

        Args:
            source: a text file path, a list of paths, or any iterable of strings (a list of
                strings that are not all existing files is read as texts).
            vocab_size: the vocabulary size to reach, special tokens included.
            min_frequency: how often a pair must occur to be merged.
            special_tokens: added first, with ids 0, 1, ...; must contain an unknown token
                (``[UNK]``).
            lowercase: lowercase and strip accents first (uncased BERT).

        Example:
            >>> tok = Tokenizer.train_wordpiece(["hello world"] * 3, vocab_size=40)
            >>> tok.encode("hello world"), tok.pad_id, tok.decode(tok.encode("hello world"))
            ([2, ..., 3], 0, 'hello world')
        """
        tk = _tokenizers()
        unk = next((t for t in special_tokens if t in _ROLES["unk"]), None)
        if unk is None:
            raise ValueError(f"train_wordpiece: special_tokens {list(special_tokens)} has no "
                             f"unknown token; add '[UNK]'")
        tok = tk.Tokenizer(tk.models.WordPiece(unk_token=unk))
        tok.normalizer = tk.normalizers.BertNormalizer(lowercase=lowercase)
        tok.pre_tokenizer = tk.pre_tokenizers.BertPreTokenizer()
        tok.decoder = tk.decoders.WordPiece()
        trainer = tk.trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency,
            special_tokens=list(special_tokens), show_progress=show_progress)
        _train(tok, source, trainer, "train_wordpiece")
        _set_template(tok, special_tokens, roberta=False)
        return cls(tok)

    @classmethod
    def train_bpe(cls, source, vocab_size: int = 30000, min_frequency: int = 2,
                  special_tokens=BPE_SPECIAL_TOKENS, lowercase: bool = False, *,
                  show_progress: bool = False) -> "Tokenizer":
        """Train a byte-level BPE tokenizer (GPT-2's pre-tokenizer and decoder: every string
        encodes without unknown tokens and decodes back exactly).

        Args: as ``train_wordpiece``; ``<s> a </s>`` (RoBERTa's templates) are added when
        ``<s>`` and ``</s>`` are special tokens.

        Example:
            >>> tok = Tokenizer.train_bpe(["low lower lowest"] * 4, vocab_size=300)
            >>> tok.decode(tok.encode("Lowest, lower!"))
            'Lowest, lower!'
        """
        tk = _tokenizers()
        tok = tk.Tokenizer(tk.models.BPE())
        if lowercase:
            tok.normalizer = tk.normalizers.Lowercase()
        tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency,
            special_tokens=list(special_tokens), show_progress=show_progress,
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet())
        _train(tok, source, trainer, "train_bpe")
        _set_template(tok, special_tokens, roberta=True)
        return cls(tok)

    @classmethod
    def load(cls, path, **kwargs) -> "Tokenizer":
        """Load a ``tokenizer.json`` (a file, or a directory holding one, such as a Hugging
        Face model folder whose ``tokenizer_config.json`` may give ``model_max_length``)."""
        tk = _tokenizers()
        path = os.fspath(path)
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Tokenizer.load: no such file {path!r}")
        backend = tk.Tokenizer.from_file(path)
        # Padding and truncation are chosen per call, so the file's are read, then switched off.
        pad = backend.padding or {}
        trunc = backend.truncation or {}
        backend.no_padding()
        backend.no_truncation()
        max_len = trunc.get("max_length")
        config = os.path.join(folder, "tokenizer_config.json")
        if max_len is None and os.path.isfile(config):
            with open(config, encoding="utf-8") as f:
                max_len = json.load(f).get("model_max_length")
            max_len = max_len if isinstance(max_len, int) and max_len < 10**9 else None
        kwargs.setdefault("model_max_length", max_len)
        kwargs.setdefault("pad_token", pad.get("pad_token"))
        if str(pad.get("direction", "")).lower() == "left":
            kwargs.setdefault("padding_side", "left")
        return cls(backend, **kwargs)

    def save(self, path) -> str:
        """Write ``tokenizer.json`` (into ``path`` when it is a directory); returns the file.
        The pad token and ``model_max_length`` are stored in the file's padding/truncation
        config, which Hugging Face's loaders read too."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        if self.pad_token is not None:
            self.backend.enable_padding(pad_id=self.pad_id, pad_token=self.pad_token,
                                        direction=self.padding_side)
        if self.model_max_length is not None:
            self.backend.enable_truncation(self.model_max_length)
        try:
            self.backend.save(path)
        finally:
            self.backend.no_padding()
            self.backend.no_truncation()
        return path

    # -- vocabulary ----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size

    def get_vocab(self) -> dict:
        return self.backend.get_vocab(with_added_tokens=True)

    def token_to_id(self, token: str):
        return self.backend.token_to_id(token)

    def id_to_token(self, index: int):
        return self.backend.id_to_token(int(index))

    pad_id = property(lambda self: self._id(self.pad_token))
    unk_id = property(lambda self: self._id(self.unk_token))
    cls_id = property(lambda self: self._id(self.cls_token))
    sep_id = property(lambda self: self._id(self.sep_token))
    mask_id = property(lambda self: self._id(self.mask_token))

    def _id(self, token):
        return None if token is None else self.backend.token_to_id(token)

    def __repr__(self) -> str:
        model = type(self.backend.model).__name__
        return (f"Tokenizer({model}, vocab_size={self.vocab_size}, pad_token="
                f"{self.pad_token!r}, model_max_length={self.model_max_length})")

    # -- encoding ------------------------------------------------------------------------
    def tokenize(self, text: str) -> list:
        """The token strings of ``text`` (no special tokens)."""
        return self.backend.encode(text, add_special_tokens=False).tokens

    def encode(self, text: str, text_pair=None, add_special_tokens: bool = True,
               return_tensors=None):
        """Token ids of one text (or pair): a list of ints, or with ``return_tensors``
        (``'np'`` / ``'ganglion'``) a 1-D int64 array / tensor."""
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer.encode: expected a str, got {type(text).__name__}; "
                            f"use encode_batch for a list of texts")
        check_return_tensors(return_tensors, "Tokenizer.encode")
        ids = self.backend.encode(text, text_pair, add_special_tokens=add_special_tokens).ids
        return ids if return_tensors is None else convert_ids(np.array(ids, np.int64),
                                                              return_tensors)

    def encode_batch(self, texts, text_pairs=None, padding=True, truncation: bool = True,
                     max_length=None, return_tensors="ganglion", *,
                     add_special_tokens: bool = True, return_token_type_ids=None,
                     pad_to_multiple_of=None) -> dict:
        """Encode a batch into ``input_ids`` and ``attention_mask`` (and ``token_type_ids``
        for pairs or when asked).

        Args:
            texts: a list of strings, or of ``(text, text_pair)`` tuples.
            text_pairs: the second texts of sentence pairs (same length as ``texts``).
            padding: ``True``/``'longest'`` (to the batch's longest), ``'max_length'``, or
                ``False`` (then sequences must have equal lengths unless
                ``return_tensors=None``).
            truncation: cut to ``max_length`` (or ``model_max_length``), longest text of a
                pair first, special tokens kept.
            max_length: the length to truncate / pad to.
            return_tensors: ``'ganglion'`` (int64 tensors), ``'np'`` or None (lists).
        """
        op = "encode_batch"
        if isinstance(texts, str):
            raise TypeError(f"{op}: expected a list of texts, got a str; use encode(), or "
                            f"pass [text]")
        texts = list(texts)
        if text_pairs is not None:
            text_pairs = list(text_pairs)
            if len(text_pairs) != len(texts):
                raise ValueError(f"{op}: {len(texts)} texts but {len(text_pairs)} text_pairs")
            texts = list(zip(texts, text_pairs))
        pairs = bool(texts) and isinstance(texts[0], tuple)
        length = max_length if max_length is not None else self.model_max_length
        encs = self._run_backend(texts, padding, truncation, length, add_special_tokens,
                                 pad_to_multiple_of, op)
        columns = {"input_ids": [e.ids for e in encs],
                   "attention_mask": [e.attention_mask for e in encs]}
        if return_token_type_ids or (return_token_type_ids is None and pairs):
            columns["token_type_ids"] = [e.type_ids for e in encs]
        return as_output(columns, return_tensors, op)

    def __call__(self, text, text_pair=None, **kwargs) -> dict:
        """``tokenizer(texts, ...)`` is ``encode_batch``; a single str is a batch of one."""
        if isinstance(text, str):
            text = [text]
            text_pair = None if text_pair is None else [text_pair]
        return self.encode_batch(text, text_pair, **kwargs)

    def _run_backend(self, texts, padding, truncation, length, add_special, multiple, op):
        # Hugging Face's fast tokenizers also set the backend's padding/truncation per call:
        # the Rust side then truncates pairs longest-first and keeps the special tokens.
        strategy = padding_strategy(padding, length, op)
        b = self.backend
        if truncation and length is not None:
            b.enable_truncation(int(length))
        if strategy is not None:
            if self.pad_token is None:
                raise ValueError(f"{op}: padding needs a pad token, but this tokenizer has "
                                 f"none; pass padding=False, or build it with "
                                 f"Tokenizer(backend, pad_token=...)")
            b.enable_padding(pad_id=self.pad_id, pad_token=self.pad_token,
                             direction=self.padding_side, pad_to_multiple_of=multiple,
                             length=int(length) if strategy == "max_length" else None)
        try:
            return b.encode_batch(texts, add_special_tokens=add_special)
        finally:
            b.no_padding()
            b.no_truncation()

    # -- decoding ------------------------------------------------------------------------
    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """The text of one id sequence (a list, 1-D array or tensor); pads are skipped."""
        return self.backend.decode(as_id_array(ids, "Tokenizer.decode").tolist(),
                                   skip_special_tokens=skip_special_tokens)

    def decode_batch(self, ids, skip_special_tokens: bool = True) -> list:
        """The texts of a batch of id sequences (a 2-D tensor/array or list of lists)."""
        return self.backend.decode_batch(as_id_rows(ids, "decode_batch"),
                                         skip_special_tokens=skip_special_tokens)


def _set_template(tok, special_tokens, roberta: bool) -> None:
    vocab = tok.get_vocab(with_added_tokens=True)
    cls_tok, sep_tok = _find_role(vocab, "cls"), _find_role(vocab, "sep")
    if cls_tok not in special_tokens or sep_tok not in special_tokens:
        return
    tk = _tokenizers()
    single = f"{cls_tok} $A {sep_tok}"
    pair = (f"{single} {sep_tok} $B:1 {sep_tok}:1" if roberta
            else f"{single} $B:1 {sep_tok}:1")
    tok.post_processor = tk.processors.TemplateProcessing(
        single=single, pair=pair,
        special_tokens=[(cls_tok, vocab[cls_tok]), (sep_tok, vocab[sep_tok])])
