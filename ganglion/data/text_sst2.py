"""``SST2``: the GLUE binary Stanford Sentiment Treebank from its TSV files.

``train.tsv`` / ``dev.tsv`` hold ``sentence<TAB>label`` with a header (label 0 = negative,
1 = positive); ``test.tsv`` holds ``index<TAB>sentence`` without labels, so its samples
carry the label ``-1`` (an int, so that batches still collate). Sentences are returned
with the files' trailing space stripped.

Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> with open(os.path.join(root, "dev.tsv"), "w") as f:
    ...     _ = f.write("sentence\\tlabel\\ngood fun \\t1\\ndull \\t0\\n")
    >>> ds = SST2(root, split="dev")
    >>> len(ds), ds[0], ds.targets.tolist()
    (2, ('good fun', 1), [1, 0])
"""
from __future__ import annotations

import os

import numpy as np

from ganglion.utils.data import Dataset

__all__ = ["SST2"]

_HEADERS = {"train": ("sentence", "label"), "dev": ("sentence", "label"),
            "test": ("index", "sentence")}


def _find_file(root, split: str) -> str:
    if root is None:
        from ganglion.data.download import find_data_root
        root = find_data_root("sst2")
        if root is None:
            raise FileNotFoundError("SST2: no root given and no shared copy found "
                                    "($GANGLION_DATA/sst2 or ../shared/data/sst2); pass the "
                                    "folder holding train.tsv, dev.tsv and test.tsv")
    root = os.path.expanduser(os.fspath(root))
    for folder in (root, os.path.join(root, "SST-2"), os.path.join(root, "sst2"),
                   os.path.join(root, "SST2")):
        path = os.path.join(folder, f"{split}.tsv")
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"SST2: no {split}.tsv in {root} (or its SST-2/ or sst2/ "
                            f"subfolder); download GLUE's SST-2 and pass its folder as root")


def _read_rows(path: str, header: tuple) -> list:
    """The ``(a, b)`` fields of every data line; errors name the file and line number."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines()
    if not lines or tuple(lines[0].split("\t")) != header:
        got = lines[0][:60] if lines else "an empty file"
        raise ValueError(f"SST2: {path} line 1: expected the header "
                         f"{chr(9).join(header)!r}, got {got!r}")
    if lines[-1] == "":
        lines.pop()
    rows = [line.split("\t") for line in lines[1:]]
    bad = next((i for i, r in enumerate(rows) if len(r) != 2), None)
    if bad is not None:
        raise ValueError(f"SST2: {path} line {bad + 2}: expected 2 tab-separated fields, got "
                         f"{len(rows[bad])}: {lines[bad + 1][:80]!r}")
    return rows


def _check_column(values: list, labeled: bool, path: str) -> None:
    """Labels must be 0/1; test indices integers. The error names the first bad line."""
    cells = np.array(values, dtype=object)
    ok = np.isin(cells, ["0", "1"]) if labeled else np.char.isdigit(cells.astype(str))
    if not ok.all():
        i = int(np.argmin(ok))
        what = "label 0 or 1" if labeled else "an integer index"
        raise ValueError(f"SST2: {path} line {i + 2}: expected {what}, got {values[i]!r}")


class SST2(Dataset):
    """Samples ``(sentence, label)`` of the binary SST (GLUE SST-2).

    Args:
        root: the folder with ``train.tsv``, ``dev.tsv``, ``test.tsv`` (or a parent with an
            ``SST-2/`` or ``sst2/`` folder). None: the shared copy found by
            ``ganglion.data.find_data_root("sst2")``.
        split: ``'train'`` (67,349 phrases), ``'dev'`` (872 sentences) or ``'test'``
            (1,821 unlabeled sentences, label -1).
        transform: applied to the sentence (e.g. a tokenizer's ``encode``).
        target_transform: applied to the label.

    Attributes:
        sentences (list of str), targets (int64 tensor; all -1 for test), classes
        (``['negative', 'positive']``), labeled (False for test), path.

    Raises:
        ValueError: naming the file and line for a wrong header, a line without exactly two
            fields, or a label other than 0/1 (or a test index that is not an integer).
    """

    classes = ["negative", "positive"]

    def __init__(self, root=None, split: str = "train", transform=None,
                 target_transform=None) -> None:
        if split not in _HEADERS:
            raise ValueError(f"SST2: split must be 'train', 'dev' or 'test', got {split!r} "
                             f"(GLUE calls the validation set 'dev')")
        self.split, self.transform, self.target_transform = split, transform, target_transform
        self.path = _find_file(root, split)
        rows = _read_rows(self.path, _HEADERS[split])
        self.labeled = split != "test"
        first = [r[0] for r in rows]
        second = [r[1] for r in rows]
        _check_column(second if self.labeled else first, self.labeled, self.path)
        import ganglion  # at call time: ganglion.data loads after the tensor package
        if self.labeled:
            self.sentences = [s.strip() for s in first]
            labels = np.array(second, dtype=np.int64)
            self.indices = None
        else:
            self.sentences = [s.strip() for s in second]
            labels = np.full(len(rows), -1, dtype=np.int64)  # GLUE hides the test labels
            self.indices = np.array(first, dtype=np.int64)
        self.targets = ganglion.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, index: int):
        sentence, label = self.sentences[index], int(self.targets.array[index])
        if self.transform is not None:
            sentence = self.transform(sentence)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return sentence, label

    def __repr__(self) -> str:
        return (f"Dataset SST2\n    Number of datapoints: {len(self)}\n    Split: "
                f"{self.split}\n    Root location: {os.path.dirname(self.path)}")
