"""``CSVDataset``: rows of a CSV file as ``(features, target)`` samples.

The file is read once with the ``csv`` module and converted column-wise with NumPy (no
per-row Python conversion). Feature columns become one ``float32`` matrix (empty cells are
NaN); the target column becomes ``int64`` class indices when it holds integers, ``float32``
when it holds other numbers, and for text labels the indices of the sorted ``classes``.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b,species\\n1.0,2.0,setosa\\n3.5,,virginica\\n")
    >>> ds = CSVDataset(path, target_column="species")
    >>> ds.classes, ds.feature_names, ds[1]
    (['setosa', 'virginica'], ['a', 'b'], (tensor([3.5000,    nan]), 1))
"""
from __future__ import annotations

import csv
import os

import numpy as np

import ganglion
from ganglion.utils.data import Dataset

__all__ = ["CSVDataset"]


def _read_rows(path: str, delimiter: str) -> list:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    if not rows:
        raise ValueError(f"CSVDataset: {path} is empty")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise ValueError(f"CSVDataset: {path} line {bad + 1} has {len(rows[bad])} fields but "
                         f"line 1 has {len(rows[0])}: the file is truncated or malformed")
    return rows


def _looks_like_header(row) -> bool:
    def is_number(s):
        try:
            float(s)
            return True
        except ValueError:
            return False
    return not any(is_number(cell) for cell in row if cell.strip())


def _column_index(spec, names, path):
    if isinstance(spec, int):
        if not -len(names) <= spec < len(names):
            raise IndexError(f"CSVDataset: column {spec} is out of range for {path} with "
                             f"{len(names)} columns")
        return spec % len(names)
    if spec not in names:
        raise KeyError(f"CSVDataset: no column named {spec!r} in {path}; the columns are "
                       f"{names}")
    return names.index(spec)


def _to_float(cells: np.ndarray, names, path) -> np.ndarray:
    cells = np.where(np.char.strip(cells) == "", "nan", cells)
    try:
        return cells.astype(np.float32)
    except ValueError:
        for j in range(cells.shape[1]):  # find the column to name in the error
            try:
                cells[:, j].astype(np.float32)
            except ValueError as e:
                raise ValueError(f"CSVDataset: column {names[j]!r} of {path} is not numeric "
                                 f"({e}); choose feature_columns, or transform it first") from None
        raise


class CSVDataset(Dataset):
    """Samples ``(features, target)`` from the rows of a CSV file.

    Args:
        root: a CSV file, or a directory holding ``train.csv``/``test.csv`` (or ``filename``).
        train: with a directory root, read ``train.csv`` (True) or ``test.csv``.
        transform: applied to the float32 feature vector (a tensor).
        target_transform: applied to the target.
        download: unused (CSV files are local); accepted for a uniform signature.
        filename: the file to read inside a directory root.
        target_column: name or index of the target column (None: no target, samples are
            feature vectors only). Default: the last column.
        feature_columns: names or indices of the feature columns (default: all others).
        delimiter: the field separator.
        header: whether the first row holds column names (``"infer"``: when it has no
            numbers).
    """

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, *, filename=None, target_column=-1,
                 feature_columns=None, delimiter: str = ",", header="infer") -> None:
        path = os.path.expanduser(os.fspath(root))
        if os.path.isdir(path):
            path = os.path.join(path, filename or ("train.csv" if train else "test.csv"))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CSVDataset: no such file {path}")
        self.root, self.path, self.train = root, path, train
        self.transform, self.target_transform = transform, target_transform
        rows = _read_rows(path, delimiter)
        has_header = _looks_like_header(rows[0]) if header == "infer" else bool(header)
        names = rows[0] if has_header else [str(i) for i in range(len(rows[0]))]
        cells = np.array(rows[1:] if has_header else rows, dtype=str).reshape(-1, len(names))
        t = None if target_column is None else _column_index(target_column, names, path)
        if feature_columns is None:
            feats = [j for j in range(len(names)) if j != t]
        else:
            feats = [_column_index(c, names, path) for c in feature_columns]
        self.feature_names = [names[j] for j in feats]
        self.features = ganglion.from_numpy(_to_float(cells[:, feats], self.feature_names, path))
        self.classes = None
        self.targets = None if t is None else self._parse_target(cells[:, t])
        self.target_name = None if t is None else names[t]

    def _parse_target(self, column: np.ndarray):
        try:
            values = column.astype(np.float64)
        except ValueError:  # text labels -> indices of the sorted class names
            self.classes, idx = np.unique(column, return_inverse=True)
            self.classes = self.classes.tolist()
            return ganglion.from_numpy(idx.astype(np.int64))
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return ganglion.from_numpy(values.astype(np.int64))
        return ganglion.from_numpy(values.astype(np.float32))

    def __getitem__(self, index):
        x = self.features[index]
        if self.transform is not None:
            x = self.transform(x)
        if self.targets is None:
            return x
        y = self.targets[index]
        y = y.item() if y.ndim == 0 and self.targets.dtype == ganglion.int64 else y
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __len__(self) -> int:
        return len(self.features)
