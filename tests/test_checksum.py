import hashlib

from hybridlib.checksum import sha256_of


def test_sha256_of_is_the_known_digest_of_a_small_file(tmp_path):
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    assert sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_of_streams_the_whole_file(tmp_path):
    path = tmp_path / "big.bin"
    content = bytes(range(256)) * 5000  # over one 1 MiB block
    path.write_bytes(content)
    assert sha256_of(path) == hashlib.sha256(content).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_of(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
