"""Downloads from a local HTTP server: checksums, atomic writes, mirrors, extraction."""
import hashlib
import io
import os
import tarfile
import urllib.error

import pytest

from ganglion.data import download as dl
from tests.data._server import serve

PAYLOAD = bytes(range(256)) * 300  # 76.8 kB: several read chunks are not needed, but real


@pytest.fixture
def served(tmp_path):
    src = tmp_path / "www"
    src.mkdir()
    (src / "blob.bin").write_bytes(PAYLOAD)
    with serve(src) as (url, requests):
        yield url, requests, tmp_path / "out"


def test_download_verifies_sha256_and_md5(served):
    url, requests, out = served
    path = dl.download_url(f"{url}/blob.bin", out, sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                           md5=hashlib.md5(PAYLOAD).hexdigest())
    assert open(path, "rb").read() == PAYLOAD
    assert os.listdir(out) == ["blob.bin"]  # no temporary file left behind
    # Already there and verified: no second request.
    dl.download_url(f"{url}/blob.bin", out, md5=hashlib.md5(PAYLOAD).hexdigest())
    assert requests == ["/blob.bin"]
    assert dl.check_integrity(path, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert not dl.check_integrity(path, md5="0" * 32)


def test_wrong_checksum_writes_nothing(served):
    url, _, out = served
    with pytest.raises(RuntimeError, match=r"sha256 checksum of .*blob.bin is [0-9a-f]{64}, "
                                           r"expected f{64}"):
        dl.download_url(f"{url}/blob.bin", out, sha256="f" * 64)
    assert os.listdir(out) == []  # neither the file nor a partial one


def test_wrong_checksum_keeps_an_existing_good_file_untouched(served):
    url, _, out = served
    out.mkdir()
    (out / "blob.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="md5 checksum"):
        dl.download_url(f"{url}/blob.bin", out, md5="0" * 32)
    assert (out / "blob.bin").read_bytes() == b"old" and os.listdir(out) == ["blob.bin"]


def test_missing_file_and_mirror_fallback(served):
    url, requests, out = served
    with pytest.raises(urllib.error.HTTPError):
        dl.download_url(f"{url}/nope.bin", out)
    path = dl.download_from_mirrors([f"{url}/missing-dir/", f"{url}/"], "blob.bin", out,
                                    md5=hashlib.md5(PAYLOAD).hexdigest())
    assert open(path, "rb").read() == PAYLOAD
    assert requests[-2:] == ["/missing-dir/blob.bin", "/blob.bin"]
    with pytest.raises(RuntimeError,
                       match=r"every mirror:\n.*missing-dir/other.bin: HTTP Error 404"):
        dl.download_from_mirrors([f"{url}/missing-dir"], "other.bin", out)


def test_download_and_extract_tar_gz(tmp_path):
    src = tmp_path / "www"
    src.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/data.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    (src / "pkg.tar.gz").write_bytes(buf.getvalue())
    with serve(src) as (url, _):
        dl.download_and_extract_archive(f"{url}/pkg.tar.gz", tmp_path / "dl",
                                        sha256=hashlib.sha256(buf.getvalue()).hexdigest())
    assert (tmp_path / "dl" / "pkg" / "data.txt").read_bytes() == b"hello"


def test_extract_refuses_paths_outside_the_target(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises((tarfile.TarError, RuntimeError)):
        dl.extract_archive(archive, tmp_path / "target")
    assert not (tmp_path / "evil.txt").exists()


def test_find_data_root_uses_env(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    monkeypatch.setenv("GANGLION_DATA", str(tmp_path))
    assert dl.find_data_root("mnist") == str(tmp_path / "mnist")
