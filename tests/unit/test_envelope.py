"""Envelope encryption (``hush.envelope``): round trips, the file layout, and tamper evidence.

A fake transit wraps data keys with a local AES-GCM key per key name, so these tests need no
server. Tamper tests follow the cryptography vectors' habit: flip one byte, move chunks around,
cut or extend the file, and expect the one opaque :class:`EnvelopeError` every time.
"""

from __future__ import annotations

import base64
import io
import json
import os
import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.envelope import (
    DEFAULT_CHUNK_SIZE,
    MAGIC,
    EnvelopeError,
    decrypt_stream,
    encrypt_stream,
)

TAG = 16
SMALL_CHUNK = 64


class FakeTransit:
    """Wraps and unwraps data keys like transit's datakey/decrypt, one AES key per key name."""

    def __init__(self) -> None:
        self.keys = {"files": AESGCM.generate_key(256), "other": AESGCM.generate_key(256)}
        self.handed_out: list[bytearray] = []

    def datakey(self, key_name: str = "files") -> tuple[bytearray, str]:
        data_key = bytearray(os.urandom(32))
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[key_name]).encrypt(nonce, bytes(data_key), None)
        return data_key, "vault:v1:" + base64.b64encode(nonce + sealed).decode()

    def unwrap(self, key_name: str, wrapped_key: str) -> bytearray:
        if key_name not in self.keys or not wrapped_key.startswith("vault:v1:"):
            raise EnvelopeError
        try:
            blob = base64.b64decode(wrapped_key.removeprefix("vault:v1:"), validate=True)
            data_key = bytearray(AESGCM(self.keys[key_name]).decrypt(blob[:12], blob[12:], None))
        except (InvalidTag, ValueError):
            raise EnvelopeError from None
        self.handed_out.append(data_key)
        return data_key


@pytest.fixture
def transit() -> FakeTransit:
    return FakeTransit()


def seal(
    transit: FakeTransit, plaintext: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE, key: str = "files"
) -> bytes:
    data_key, wrapped_key = transit.datakey(key)
    out = io.BytesIO()
    encrypt_stream(
        io.BytesIO(plaintext),
        out,
        data_key=data_key,
        wrapped_key=wrapped_key,
        key_name=key,
        chunk_size=chunk_size,
    )
    return out.getvalue()


def open_envelope(transit: FakeTransit, blob: bytes) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), out, unwrap=transit.unwrap)
    return out.getvalue()


def header_end(blob: bytes) -> int:
    (length,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    return len(MAGIC) + 4 + int(length)


def chunks(blob: bytes, chunk_size: int) -> tuple[bytes, list[bytes]]:
    """The preamble and the sealed chunks of ``blob``."""
    start = header_end(blob)
    body = blob[start:]
    step = chunk_size + TAG
    return blob[:start], [body[i : i + step] for i in range(0, len(body), step)]


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, DEFAULT_CHUNK_SIZE - 1, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE + 1, 5 * 1024 * 1024],
    ids=["empty", "one-byte", "chunk-minus-1", "one-chunk", "chunk-plus-1", "5MiB"],
)
def test_round_trip_at_chunk_boundaries(transit: FakeTransit, size: int) -> None:
    plaintext = os.urandom(size)
    blob = seal(transit, plaintext)
    assert open_envelope(transit, blob) == plaintext
    full, rest = divmod(size, DEFAULT_CHUNK_SIZE)
    sealed_chunks = full + (1 if rest or not full else 0)
    assert len(blob) == header_end(blob) + size + sealed_chunks * TAG


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(max_size=700), chunk_size=st.integers(min_value=1, max_value=97))
def test_round_trip_any_size_and_chunk_size(plaintext: bytes, chunk_size: int) -> None:
    transit = FakeTransit()
    assert open_envelope(transit, seal(transit, plaintext, chunk_size)) == plaintext


class Trickle(io.RawIOBase):
    """A stream that returns at most 7 bytes per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(min(7, len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_short_reads_from_pipes_are_handled(transit: FakeTransit) -> None:
    plaintext = os.urandom(3 * SMALL_CHUNK + 5)
    data_key, wrapped_key = transit.datakey()
    out = io.BytesIO()
    encrypt_stream(
        Trickle(plaintext),  # type: ignore[arg-type]
        out,
        data_key=data_key,
        wrapped_key=wrapped_key,
        key_name="files",
        chunk_size=SMALL_CHUNK,
    )
    assert out.getvalue().startswith(MAGIC)
    result = io.BytesIO()
    decrypt_stream(Trickle(out.getvalue()), result, unwrap=transit.unwrap)  # type: ignore[arg-type]
    assert result.getvalue() == plaintext


def test_progress_counts_every_byte_read(transit: FakeTransit) -> None:
    plaintext = os.urandom(5 * SMALL_CHUNK + 3)
    data_key, wrapped_key = transit.datakey()
    out, seen = io.BytesIO(), list[int]()
    encrypt_stream(
        io.BytesIO(plaintext),
        out,
        data_key=data_key,
        wrapped_key=wrapped_key,
        key_name="files",
        chunk_size=SMALL_CHUNK,
        progress=seen.append,
    )
    assert sum(seen) == len(plaintext) and len(seen) == 6
    back: list[int] = []
    decrypt_stream(
        io.BytesIO(out.getvalue()), io.BytesIO(), unwrap=transit.unwrap, progress=back.append
    )
    assert sum(back) == len(out.getvalue())


# --- the file layout and the key --------------------------------------------------------------


def test_header_records_wrapped_key_and_never_the_data_key(transit: FakeTransit) -> None:
    data_key, wrapped_key = transit.datakey()
    key_copy = bytes(data_key)
    out = io.BytesIO()
    plaintext = b"attack at dawn " * 100
    encrypt_stream(
        io.BytesIO(plaintext), out, data_key=data_key, wrapped_key=wrapped_key, key_name="files"
    )
    blob = out.getvalue()
    header = json.loads(blob[len(MAGIC) + 4 : header_end(blob)])
    assert blob.startswith(b"HUSHENV1")
    assert header["wrapped_key"] == wrapped_key and header["key_name"] == "files"
    assert header["cipher"] == "AES-256-GCM" and header["chunk_size"] == DEFAULT_CHUNK_SIZE
    assert len(base64.b64decode(header["nonce_prefix"])) == 8
    assert key_copy not in blob and base64.b64encode(key_copy) not in blob
    assert b"attack at dawn" not in blob
    assert data_key == key_copy  # the caller's key is the caller's to wipe


def test_same_input_twice_gives_different_files(transit: FakeTransit) -> None:
    assert seal(transit, b"same") != seal(transit, b"same")


def test_unwrapped_key_is_zeroed_after_success_and_failure(transit: FakeTransit) -> None:
    blob = seal(transit, os.urandom(300), SMALL_CHUNK)
    open_envelope(transit, blob)
    with pytest.raises(EnvelopeError):
        open_envelope(transit, blob[:-1])
    assert len(transit.handed_out) == 2
    assert all(key == bytearray(32) for key in transit.handed_out)


def test_unwrap_errors_other_than_envelope_error_propagate(transit: FakeTransit) -> None:
    def denied(key_name: str, wrapped_key: str) -> bytes:
        raise PermissionError("permission denied")

    with pytest.raises(PermissionError):
        decrypt_stream(io.BytesIO(seal(transit, b"x")), io.BytesIO(), unwrap=denied)


def test_wrong_length_key_from_unwrap_is_rejected(transit: FakeTransit) -> None:
    with pytest.raises(EnvelopeError):
        decrypt_stream(io.BytesIO(seal(transit, b"x")), io.BytesIO(), unwrap=lambda n, w: b"k" * 16)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_key": b"short"}, "data_key must be 32 bytes"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"key_name": "../sys/policy"}, "invalid transit key name"),
        ({"key_name": "a/b"}, "invalid transit key name"),
        ({"wrapped_key": ""}, "wrapped_key"),
    ],
)
def test_arguments_outside_the_format_are_rejected(
    transit: FakeTransit, overrides: dict[str, object], message: str
) -> None:
    data_key, wrapped_key = transit.datakey()
    arguments: dict[str, object] = {
        "data_key": data_key,
        "wrapped_key": wrapped_key,
        "key_name": "files",
        **overrides,
    }
    with pytest.raises(ValueError, match=message):
        encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), **arguments)  # type: ignore[arg-type]


# --- tampering ------------------------------------------------------------------------------


@pytest.fixture
def sealed(transit: FakeTransit) -> bytes:
    """Three full chunks and a short final one."""
    return seal(transit, os.urandom(3 * SMALL_CHUNK + 10), SMALL_CHUNK)


def assert_rejected(transit: FakeTransit, blob: bytes) -> None:
    with pytest.raises(EnvelopeError, match=r"^file is corrupt or was tampered with$"):
        open_envelope(transit, blob)


def test_every_flipped_byte_in_the_header_is_detected(transit: FakeTransit, sealed: bytes) -> None:
    for index in range(header_end(sealed)):
        for mask in (0x01, 0x80):
            tampered = bytearray(sealed)
            tampered[index] ^= mask
            assert_rejected(transit, bytes(tampered))


def test_flipped_byte_in_a_chunk_is_detected(transit: FakeTransit, sealed: bytes) -> None:
    start = header_end(sealed)
    for index in (start, start + SMALL_CHUNK // 2, start + SMALL_CHUNK + TAG - 1, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        assert_rejected(transit, bytes(tampered))


def test_swapped_chunks_are_detected(transit: FakeTransit, sealed: bytes) -> None:
    preamble, parts = chunks(sealed, SMALL_CHUNK)
    assert len(parts) == 4
    assert_rejected(transit, preamble + parts[1] + parts[0] + parts[2] + parts[3])


def test_dropped_chunks_and_truncation_are_detected(transit: FakeTransit, sealed: bytes) -> None:
    preamble, parts = chunks(sealed, SMALL_CHUNK)
    assert_rejected(transit, preamble + parts[0] + parts[2] + parts[3])  # a middle chunk gone
    assert_rejected(transit, preamble + b"".join(parts[:3]))  # cut at a chunk boundary
    assert_rejected(transit, sealed[:-1])  # the final chunk cut short
    assert_rejected(transit, preamble)  # no chunks at all
    assert_rejected(transit, sealed[: header_end(sealed) - 1])  # the header cut short
    assert_rejected(transit, b"")


def test_exact_multiple_of_chunk_size_cut_at_boundary_is_detected(transit: FakeTransit) -> None:
    blob = seal(transit, os.urandom(3 * SMALL_CHUNK), SMALL_CHUNK)
    preamble, parts = chunks(blob, SMALL_CHUNK)
    assert len(parts) == 3
    assert_rejected(transit, preamble + parts[0] + parts[1])


def test_appended_garbage_is_detected(transit: FakeTransit, sealed: bytes) -> None:
    assert_rejected(transit, sealed + b"\x00")
    assert_rejected(transit, sealed + os.urandom(SMALL_CHUNK + TAG))
    even = seal(transit, os.urandom(2 * SMALL_CHUNK), SMALL_CHUNK)
    assert_rejected(transit, even + os.urandom(TAG))


def test_chunks_from_another_file_under_the_same_key_are_rejected(transit: FakeTransit) -> None:
    data_key, wrapped_key = transit.datakey()
    files = []
    for _ in range(2):
        out = io.BytesIO()
        encrypt_stream(
            io.BytesIO(bytes(2 * SMALL_CHUNK)),
            out,
            data_key=data_key,
            wrapped_key=wrapped_key,
            key_name="files",
            chunk_size=SMALL_CHUNK,
        )
        files.append(out.getvalue())
    first_preamble, _ = chunks(files[0], SMALL_CHUNK)
    _, second_parts = chunks(files[1], SMALL_CHUNK)
    assert_rejected(transit, first_preamble + b"".join(second_parts))


def test_header_moved_to_another_key_is_rejected(transit: FakeTransit, sealed: bytes) -> None:
    moved = sealed.replace(b'"key_name":"files"', b'"key_name":"other"')
    assert moved != sealed
    assert_rejected(transit, moved)


def test_not_an_envelope_file_is_rejected(transit: FakeTransit) -> None:
    assert_rejected(transit, b"PK\x03\x04" + os.urandom(100))
    header = json.dumps({"cipher": "AES-256-GCM"}).encode()
    assert_rejected(transit, MAGIC + struct.pack(">I", len(header)) + header)
    assert_rejected(transit, MAGIC + struct.pack(">I", 2**31) + b"{}")
