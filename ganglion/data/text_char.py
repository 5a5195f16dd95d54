"""``CharTokenizer``: one id per character, for character-level language models.

The vocabulary is the special tokens, then the sorted distinct characters of a text.
Encoding converts the whole string to Unicode code points in one NumPy call and looks them
up with ``searchsorted``, so a megabyte corpus encodes without a Python loop over
characters; decoding goes back through the code points.

Example:
    >>> tok = CharTokenizer("hello world")
    >>> tok.vocab_size, tok.encode("hole")
    (10, [5, 7, 6, 4])
    >>> batch = tok.encode_batch(["hell", "lo"])
    >>> batch["input_ids"].tolist(), tok.decode_batch(batch["input_ids"])
    ([[5, 4, 6, 6], [6, 7, 0, 0]], ['hell', 'lo'])
"""
from __future__ import annotations

import json
import os

import numpy as np

from ganglion.data.text_common import (as_id_array, as_id_rows, check_return_tensors,
                                      convert_ids, pack_flat)

__all__ = ["CharTokenizer"]


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


class CharTokenizer:
    """A character-level tokenizer with ``Tokenizer``'s encode/decode API.

    Args:
        text: the corpus whose distinct characters form the vocabulary (or None with
            ``chars``).
        special_tokens: tokens placed first, ids 0, 1, ...; ``"<pad>"`` is the padding
            token and ``"<unk>"`` the one unseen characters map to (without it, an unseen
            character raises). Pass ``()`` for a pure character vocabulary.
        chars: the characters, instead of a text.

    Attributes:
        vocab_size, pad_id, unk_id (None when absent), chars (the sorted characters).
    """

    def __init__(self, text=None, special_tokens=("<pad>", "<unk>"), *, chars=None) -> None:
        if (text is None) == (chars is None):
            raise ValueError("CharTokenizer: pass exactly one of text or chars")
        source = text if text is not None else "".join(chars)
        if not isinstance(source, str):
            raise TypeError(f"CharTokenizer: expected the corpus as a str, got "
                            f"{type(source).__name__}")
        self.special_tokens = list(special_tokens)
        self._codes = np.unique(_code_points(source))  # sorted, for searchsorted
        self.chars = self._codes.astype("<u4").tobytes().decode("utf-32-le")
        clash = [t for t in self.special_tokens if t in set(self.chars)]
        if clash:
            raise ValueError(f"CharTokenizer: special tokens {clash} are also characters of "
                             f"the text; choose multi-character names such as '<pad>'")
        self._itos = np.array(self.special_tokens + list(self.chars), dtype=object)
        self.pad_token = "<pad>" if "<pad>" in self.special_tokens else None
        self.unk_token = "<unk>" if "<unk>" in self.special_tokens else None
        self.model_max_length = None
        self.padding_side = "right"

    # -- vocabulary ----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self._itos)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def pad_id(self):
        return self.token_to_id(self.pad_token)

    @property
    def unk_id(self):
        return self.token_to_id(self.unk_token)

    def get_vocab(self) -> dict:
        return {tok: i for i, tok in enumerate(self._itos.tolist())}

    def token_to_id(self, token):
        if token is None:
            return None
        if token in self.special_tokens:
            return self.special_tokens.index(token)
        return self.get_vocab().get(token)

    def id_to_token(self, index: int):
        return self._itos[int(index)] if 0 <= int(index) < self.vocab_size else None

    def __repr__(self) -> str:
        return (f"CharTokenizer(vocab_size={self.vocab_size}, "
                f"special_tokens={self.special_tokens})")

    # -- encoding ------------------------------------------------------------------------
    def _ids(self, text: str, op: str) -> np.ndarray:
        cps = _code_points(text)
        pos = np.minimum(np.searchsorted(self._codes, cps), max(self._codes.size - 1, 0))
        known = (self._codes[pos] == cps) if self._codes.size else np.zeros(cps.size, bool)
        ids = pos.astype(np.int64) + len(self.special_tokens)
        if not known.all():
            if self.unk_token is None:
                unseen = sorted(set(_from_codes(cps[~known])))[:10]
                raise ValueError(f"CharTokenizer.{op}: characters {unseen} are not in the "
                                 f"vocabulary and there is no '<unk>' token; build the "
                                 f"tokenizer from a text that contains them")
            ids[~known] = self.unk_id
        return ids

    def tokenize(self, text: str) -> list:
        return list(text)

    def encode(self, text: str, add_special_tokens: bool = True, return_tensors=None):
        """Ids of ``text``: a list (default), or ``'np'`` / ``'ganglion'`` for a 1-D int64
        array / tensor (handy for a whole corpus). ``add_special_tokens`` is accepted for
        ``Tokenizer``'s signature; characters get no special tokens."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, got "
                            f"{type(text).__name__}; use encode_batch for a list of texts")
        check_return_tensors(return_tensors, "CharTokenizer.encode")
        return convert_ids(self._ids(text, "encode"), return_tensors)

    def encode_batch(self, texts, padding=True, truncation: bool = True, max_length=None,
                     return_tensors="ganglion", *, pad_to_multiple_of=None) -> dict:
        """``input_ids`` and ``attention_mask`` of a batch; arguments as in
        ``Tokenizer.encode_batch`` (no sentence pairs)."""
        if isinstance(texts, str):
            raise TypeError("CharTokenizer.encode_batch: expected a list of texts, got a str; "
                            "use encode(), or pass [text]")
        texts = list(texts)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        flat = self._ids("".join(texts), "encode_batch")  # one lookup for the whole batch
        length = max_length if max_length is not None else self.model_max_length
        return pack_flat(flat, lengths, self.pad_id, padding, length, return_tensors,
                         "CharTokenizer.encode_batch", truncation=truncation,
                         padding_side=self.padding_side, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, text, **kwargs) -> dict:
        return self.encode_batch([text] if isinstance(text, str) else text, **kwargs)

    # -- decoding ------------------------------------------------------------------------
    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """The text of one id sequence (a list, 1-D array or tensor)."""
        ids = as_id_array(ids, "CharTokenizer.decode")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.vocab_size)][0]
            raise ValueError(f"CharTokenizer.decode: id {bad} is out of range for a "
                             f"vocabulary of {self.vocab_size}")
        n = len(self.special_tokens)
        if skip_special_tokens:
            return _from_codes(self._codes[ids[ids >= n] - n])
        return "".join(self._itos[ids].tolist())

    def decode_batch(self, ids, skip_special_tokens: bool = True) -> list:
        return [self.decode(row, skip_special_tokens) for row in as_id_rows(ids, "decode")]

    # -- files ---------------------------------------------------------------------------
    def save(self, path) -> str:
        """Write the vocabulary as JSON (``char_tokenizer.json`` inside a directory)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "char_tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"type": "CharTokenizer", "special_tokens": self.special_tokens,
                       "chars": self.chars}, f, ensure_ascii=False)
        return path

    @classmethod
    def load(cls, path) -> "CharTokenizer":
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "char_tokenizer.json")
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        if not isinstance(config, dict) or config.get("type") != "CharTokenizer":
            raise ValueError(f"CharTokenizer.load: {path} is not a CharTokenizer file (no "
                             f"\"type\": \"CharTokenizer\"); a subword tokenizer.json loads "
                             f"with Tokenizer.load")
        return cls(chars=config["chars"], special_tokens=config["special_tokens"])


def _from_codes(codes: np.ndarray) -> str:
    return np.asarray(codes, dtype="<u4").tobytes().decode("utf-32-le")
