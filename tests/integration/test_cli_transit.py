"""``hush transit encrypt-file|decrypt-file`` against a real dev server.

Commands run as subprocesses with a clean environment (see
:class:`tests.integration.test_cli.HushCLI`). The files are envelope-encrypted locally; transit
only issues and unwraps the data key, so what these tests check is what a user sees: the round
trip, a ciphertext that hides the plaintext, and failures that exit 2 leaving no output behind.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import struct
from pathlib import Path

import pytest

from hush.envelope import MAGIC
from tests.conftest import DEV_ROOT_TOKEN
from tests.integration.test_cli import HushCLI
from tests.support.server import HushProcess

KEY = "files"
TAMPERED = "file is corrupt or was tampered with"


def run(hush: HushCLI, *args: str, stdin: str | None = None) -> str:
    """Run ``hush``, assert it succeeded, and return its stdout."""
    result = hush(*args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def transit_server(
    dev_server: HushProcess, tmp_path_factory: pytest.TempPathFactory
) -> HushProcess:
    """The dev server with transit mounted at ``transit/`` and the AES key ``files``."""
    root = HushCLI(dev_server.url, tmp_path_factory.mktemp("home"), DEV_ROOT_TOKEN)
    run(root, "secrets", "enable", "transit")
    run(root, "write", "-f", f"transit/keys/{KEY}")
    return dev_server


@pytest.fixture
def root(transit_server: HushProcess, tmp_path: Path) -> HushCLI:
    home = tmp_path / "home"
    home.mkdir()
    return HushCLI(transit_server.url, home, DEV_ROOT_TOKEN)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "files"
    path.mkdir()
    return path


def encrypted_file(root: HushCLI, work: Path, plaintext: bytes) -> Path:
    source, sealed = work / "plain.bin", work / "plain.bin.hush"
    source.write_bytes(plaintext)
    run(root, "transit", "encrypt-file", f"-key={KEY}", str(source), str(sealed))
    return sealed


def test_encrypt_then_decrypt_3mib_file_round_trips(root: HushCLI, work: Path) -> None:
    plaintext = os.urandom(3 * 1024 * 1024)
    source, sealed, restored = work / "data.bin", work / "data.bin.hush", work / "restored.bin"
    source.write_bytes(plaintext)

    shown = run(
        root, "transit", "encrypt-file", "-mount=transit", f"-key={KEY}", str(source), str(sealed)
    )
    assert (
        shown
        == f"Success! Encrypted {source} to {sealed} (data key wrapped by transit/keys/{KEY})\n"
    )
    ciphertext = sealed.read_bytes()
    assert ciphertext.startswith(MAGIC)
    for offset in (0, 1024 * 1024, len(plaintext) - 64):
        assert plaintext[offset : offset + 64] not in ciphertext
    (length,) = struct.unpack(">I", ciphertext[len(MAGIC) : len(MAGIC) + 4])
    header = json.loads(ciphertext[len(MAGIC) + 4 : len(MAGIC) + 4 + length])
    assert header["key_name"] == KEY and header["wrapped_key"].startswith("vault:v1:")

    shown = run(root, "transit", "decrypt-file", "--mount", "transit", str(sealed), str(restored))
    assert shown == f"Success! Decrypted {sealed} to {restored}\n"
    assert restored.read_bytes() == plaintext
    assert stat.S_IMODE(restored.stat().st_mode) == 0o600
    assert sorted(p.name for p in work.iterdir()) == ["data.bin", "data.bin.hush", "restored.bin"]


def test_every_file_gets_its_own_data_key(root: HushCLI, work: Path) -> None:
    first = encrypted_file(root, work, b"same contents").read_bytes()
    second = encrypted_file(root, work, b"same contents").read_bytes()
    assert first != second
    assert first.split(b'"wrapped_key":')[1] != second.split(b'"wrapped_key":')[1]


def test_decrypt_without_permission_exits_2_and_writes_nothing(root: HushCLI, work: Path) -> None:
    policy = f'path "transit/datakey/plaintext/{KEY}" {{ capabilities = ["update"] }}'
    run(root, "policy", "write", "transit-encrypt-only", "-", stdin=policy)
    token = run(root, "token", "create", "-policy=transit-encrypt-only", "-field=token")
    writer = HushCLI(root.address, root.home, token)

    source, sealed = work / "secret.txt", work / "secret.txt.hush"
    source.write_bytes(b"the launch codes")
    run(writer, "transit", "encrypt-file", f"-key={KEY}", str(source), str(sealed))
    before = sorted(p.name for p in work.iterdir())

    denied = writer("transit", "decrypt-file", str(sealed), str(work / "out.txt"))
    assert denied.returncode == 2
    assert "permission denied" in denied.stderr and denied.stdout == ""
    assert sorted(p.name for p in work.iterdir()) == before  # no out.txt, no temporary file
    assert token not in denied.stderr


def test_tampered_chunk_exits_2_and_leaves_destination_alone(root: HushCLI, work: Path) -> None:
    sealed = encrypted_file(root, work, os.urandom(200_000))
    tampered = bytearray(sealed.read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    sealed.write_bytes(bytes(tampered))
    existing = work / "out.bin"
    existing.write_bytes(b"previous contents")
    before = sorted(p.name for p in work.iterdir())

    result = root("transit", "decrypt-file", str(sealed), str(existing))
    assert result.returncode == 2
    assert result.stderr == f"Error decrypting {sealed}: {TAMPERED}\n"
    assert existing.read_bytes() == b"previous contents"
    assert sorted(p.name for p in work.iterdir()) == before


def test_truncated_file_exits_2(root: HushCLI, work: Path) -> None:
    sealed = encrypted_file(root, work, os.urandom(3 * 64 * 1024))
    sealed.write_bytes(sealed.read_bytes()[: -(64 * 1024 + 16)])  # drop the final chunk
    result = root("transit", "decrypt-file", str(sealed), str(work / "out.bin"))
    assert (result.returncode, result.stderr) == (2, f"Error decrypting {sealed}: {TAMPERED}\n")
    assert not (work / "out.bin").exists()


def test_wrapped_key_transit_cannot_open_reads_as_tampering(root: HushCLI, work: Path) -> None:
    sealed = encrypted_file(root, work, b"some data")
    blob = sealed.read_bytes()
    wrapped = blob.split(b'"wrapped_key":"')[1].split(b'"')[0]
    payload = bytearray(base64.b64decode(wrapped.removeprefix(b"vault:v1:")))
    payload[-1] ^= 0x01
    forged = b"vault:v1:" + base64.b64encode(bytes(payload))
    sealed.write_bytes(blob.replace(wrapped, forged))

    result = root("transit", "decrypt-file", str(sealed), str(work / "out.bin"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[:2] == [
        f"Error decrypting {sealed}: {TAMPERED}",
        f"* transit could not unwrap the data key with transit/keys/{KEY}",
    ]
    assert not (work / "out.bin").exists()


def test_not_an_envelope_file_exits_2(root: HushCLI, work: Path) -> None:
    other = work / "notes.txt"
    other.write_text("just text\n")
    result = root("transit", "decrypt-file", str(other), str(work / "out.txt"))
    assert (result.returncode, result.stderr) == (2, f"Error decrypting {other}: {TAMPERED}\n")


def test_usage_errors_exit_1(root: HushCLI, work: Path) -> None:
    source = work / "a.txt"
    source.write_text("a")
    assert root("transit", "encrypt-file", str(source), str(work / "b")).returncode == 1  # no -key
    missing = root("transit", "encrypt-file", f"-key={KEY}", str(work / "nope"), str(work / "b"))
    assert missing.returncode == 1
    bad_name = root("transit", "encrypt-file", "-key=../sys", str(source), str(work / "b"))
    # Quoted into one path segment, a name with "/" cannot reach another endpoint.
    assert bad_name.returncode == 2 and "datakey/plaintext/..%2Fsys" in bad_name.stderr
    assert not (work / "b").exists()


def test_unknown_key_exits_2(root: HushCLI, work: Path) -> None:
    source = work / "a.txt"
    source.write_text("a")
    result = root("transit", "encrypt-file", "-key=no-such-key", str(source), str(work / "b"))
    assert result.returncode == 2 and "encryption key not found" in result.stderr
    assert not (work / "b").exists()
