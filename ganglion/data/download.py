"""Downloading dataset files: streamed with ``urllib``, verified against an MD5 or SHA-256
checksum, and written atomically (a temporary file in the target directory, then
``os.replace``), so an interrupted or corrupted download never leaves a file that looks
complete. Archives are extracted with ``tarfile``'s ``data`` filter (no absolute paths, no
links out of the target directory) or ``zipfile``.

Example:
    >>> import hashlib, os, tempfile
    >>> from ganglion.data.download import check_integrity
    >>> path = os.path.join(tempfile.mkdtemp(), "f.bin")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"abc")
    >>> check_integrity(path, sha256=hashlib.sha256(b"abc").hexdigest())
    True
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile

__all__ = ["find_data_root", "calculate_md5", "calculate_sha256", "check_integrity", "download_url",
           "download_from_mirrors", "extract_archive", "download_and_extract_archive"]

USER_AGENT = "ganglion"
_CHUNK = 1024 * 1024


def find_data_root(name: str = "") -> str | None:
    """Where a shared copy of dataset ``name`` lies, or None: ``$GANGLION_DATA/name`` first,
    then ``../shared/data/name`` beside the source checkout (where these machines keep real
    datasets).

    Example:
        >>> find_data_root("no-such-dataset") is None
        True
    """
    candidates = []
    if os.environ.get("GANGLION_DATA"):
        candidates.append(os.environ["GANGLION_DATA"])
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates.append(os.path.join(os.path.dirname(package_dir), "..", "shared", "data"))
    for base in candidates:
        path = os.path.normpath(os.path.join(base, name))
        if os.path.isdir(path):
            return path
    return None


def _hash_file(fpath, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def calculate_md5(fpath) -> str:
    """The hex MD5 digest of a file."""
    return _hash_file(fpath, "md5")


def calculate_sha256(fpath) -> str:
    """The hex SHA-256 digest of a file."""
    return _hash_file(fpath, "sha256")


def check_integrity(fpath, md5: str | None = None, sha256: str | None = None) -> bool:
    """True when ``fpath`` exists and matches every checksum given (just exists: none given)."""
    if not os.path.isfile(fpath):
        return False
    if md5 is not None and calculate_md5(fpath) != md5.lower():
        return False
    return sha256 is None or calculate_sha256(fpath) == sha256.lower()


def _stream_to(response, fileobj, hashers) -> int:
    size = 0
    for chunk in iter(lambda: response.read(_CHUNK), b""):
        fileobj.write(chunk)
        for h in hashers.values():
            h.update(chunk)
        size += len(chunk)
    return size


def download_url(url: str, root, filename: str | None = None, md5: str | None = None,
                 sha256: str | None = None, timeout: float = 60.0) -> str:
    """Download ``url`` into ``root/filename`` and return the path.

    A file that is already there and matches the checksums (or simply exists, when none is
    given) is kept as is. The data goes to a
    temporary file next to the target while the checksums are computed; only a verified file
    is moved into place (``os.replace``).

    Args:
        url: the address (http, https or file).
        root: the directory to write into (created if missing).
        filename: the name to save as (default: the last part of the URL).
        md5: expected MD5 hex digest, or None.
        sha256: expected SHA-256 hex digest, or None.
        timeout: socket timeout in seconds.

    Raises:
        RuntimeError: the downloaded data does not match a checksum (nothing is written).
        urllib.error.URLError: the server could not be reached or answered with an error.
    """
    root = os.path.expanduser(os.fspath(root))
    filename = filename or os.path.basename(url.split("?")[0]) or "download"
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5, sha256):
        return fpath
    os.makedirs(root, exist_ok=True)
    hashers = {name: hashlib.new(name) for name, want in (("md5", md5), ("sha256", sha256))
               if want is not None}
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=root)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(request, timeout=timeout) as r:
            _stream_to(r, f, hashers)
        for name, want in (("md5", md5), ("sha256", sha256)):
            if want is not None and hashers[name].hexdigest() != want.lower():
                raise RuntimeError(f"download_url: the {name} checksum of {url} is "
                                   f"{hashers[name].hexdigest()}, expected {want.lower()}; the "
                                   f"file is corrupted or the server sent something else, so "
                                   f"{fpath} was not written. Retry, or fetch it by hand.")
        os.replace(tmp, fpath)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return fpath


def download_from_mirrors(mirrors, filename: str, root, md5: str | None = None,
                          sha256: str | None = None) -> str:
    """Try ``mirror + filename`` for each mirror in turn; raise with every failure listed."""
    errors = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{filename}"
        try:
            return download_url(url, root, filename, md5=md5, sha256=sha256)
        except (urllib.error.URLError, OSError, RuntimeError) as e:
            errors.append(f"{url}: {e}")
    raise RuntimeError(f"Error downloading {filename} from every mirror:\n" + "\n".join(errors))


def _safe_tar_extract(tar: tarfile.TarFile, to_path: str) -> None:
    if hasattr(tarfile, "data_filter"):
        tar.extractall(to_path, filter="data")
        return
    root = os.path.realpath(to_path)  # older Pythons: refuse members that leave to_path
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(to_path, member.name))
        if os.path.commonpath([root, target]) != root or member.issym() or member.islnk():
            raise RuntimeError(f"extract_archive: unsafe member {member.name!r} in archive")
    tar.extractall(to_path)


def extract_archive(from_path, to_path=None, remove_finished: bool = False) -> str:
    """Extract a .tar(.gz/.bz2/.xz), .tgz, .zip or single-file .gz archive; return
    ``to_path``."""
    from_path = os.fspath(from_path)
    to_path = os.fspath(to_path) if to_path is not None else os.path.dirname(from_path)
    name = from_path.lower()
    if tarfile.is_tarfile(from_path):
        with tarfile.open(from_path) as tar:
            _safe_tar_extract(tar, to_path)
    elif name.endswith(".zip"):
        with zipfile.ZipFile(from_path) as z:
            z.extractall(to_path)
    elif name.endswith(".gz"):
        out = os.path.join(to_path, os.path.basename(from_path)[:-3])
        with gzip.open(from_path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        raise RuntimeError(f"extract_archive: don't know how to extract {from_path}; supported "
                           f"are .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz, .zip and .gz")
    if remove_finished:
        os.remove(from_path)
    return to_path


def download_and_extract_archive(url: str, download_root, extract_root=None,
                                 filename: str | None = None, md5: str | None = None,
                                 sha256: str | None = None,
                                 remove_finished: bool = False) -> str:
    """``download_url`` then ``extract_archive`` into ``extract_root`` (default: the download
    directory)."""
    path = download_url(url, download_root, filename, md5=md5, sha256=sha256)
    return extract_archive(path, extract_root or download_root, remove_finished)
