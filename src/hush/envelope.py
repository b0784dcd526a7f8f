"""Envelope encryption of files and streams under a data key wrapped by transit.

An application asks transit for a fresh data key (``datakey/plaintext/<key>``), encrypts a stream
locally with it, and stores only the wrapped copy of the key (transit's ``vault:v1:...``
ciphertext) in the file's header. To decrypt, it reads the header, asks transit to unwrap the key
(``decrypt/<key>``) and streams the plaintext back. Transit never sees the data; the file never
holds the key in the clear.

File format, version 1 (all integers big-endian)::

    magic        8 bytes   b"HUSHENV1"   (a later format gets a new magic)
    header_len   4 bytes   length of the header, at most 64 KiB
    header       JSON object, UTF-8, exactly these fields:
                   "cipher":       "AES-256-GCM"
                   "chunk_size":   plaintext bytes per chunk (1 .. 16 MiB)
                   "key_name":     the transit key that wrapped the data key
                   "nonce_prefix": 8 random bytes, base64
                   "wrapped_key":  transit's ciphertext of the 32-byte data key
    chunks       chunk i (from 0) is AES-256-GCM of the next ``chunk_size`` plaintext bytes
                   nonce = nonce_prefix || i (4 bytes)
                   aad   = SHA-256(magic || header_len || header) || i (4 bytes) || final (1 byte)
                 every chunk but the last holds exactly ``chunk_size`` bytes (plus a 16-byte tag);
                 the last holds 0 .. chunk_size bytes and has final = 1. An empty input is one
                 empty final chunk.

This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, 2015): the counter in the
nonce and the AAD stops chunks being reordered or dropped, the final flag stops truncation at a
chunk boundary, and the header hash binds every chunk to this header, so swapping the wrapped key,
key name, nonce prefix or chunk size breaks every chunk. Every failure to open a file raises the
one :class:`EnvelopeError` with the same text, whatever the cause (Fernet's opaque errors).

Chunks reach ``dst`` only after their tag verifies, but a failure in a later chunk leaves the
earlier ones written: a caller must discard ``dst`` on :class:`EnvelopeError` (the CLI writes to a
temporary file and renames it only on success).

The data key is used for one file only. It is never written anywhere; a key that
:func:`decrypt_stream` gets from ``unwrap`` as a ``bytearray`` is zeroed when it returns, and a
caller of :func:`encrypt_stream` should pass a ``bytearray`` and zero it afterwards. Python
cannot promise more: immutable copies (a base64 string in an HTTP response) live until the
garbage collector reuses their memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAGIC",
    "MAX_CHUNK_SIZE",
    "EnvelopeError",
    "decrypt_stream",
    "encrypt_stream",
]

MAGIC: Final = b"HUSHENV1"
DEFAULT_CHUNK_SIZE: Final = 64 * 1024
MAX_CHUNK_SIZE: Final = 16 * 1024 * 1024
DATA_KEY_SIZE: Final = 32  # AES-256
CIPHER: Final = "AES-256-GCM"

_MAX_HEADER_SIZE: Final = 64 * 1024
_MAX_WRAPPED_KEY_SIZE: Final = 8 * 1024
_NONCE_PREFIX_SIZE: Final = 8
_TAG_SIZE: Final = 16
_MAX_CHUNKS: Final = 2**32  # the counter is 4 bytes; a nonce must never repeat under one key
_LENGTH: Final = struct.Struct(">I")
_HEADER_FIELDS: Final = frozenset(
    {"cipher", "chunk_size", "key_name", "nonce_prefix", "wrapped_key"}
)
# Transit's key-name pattern (hush.engines.transit.common.NAME): no "/" and no leading ".", so a
# name read from a file cannot steer the unwrap request to another path.
_KEY_NAME: Final = re.compile(r"\w[\w.@-]{0,254}")

Progress = Callable[[int], None]
Unwrap = Callable[[str, str], bytes | bytearray]


class EnvelopeError(Exception):
    """A file could not be opened; deliberately says nothing about which part was wrong."""

    def __init__(self) -> None:
        super().__init__("file is corrupt or was tampered with")


@dataclass(frozen=True, slots=True)
class _Header:
    """A parsed header and the digest every chunk's AAD starts with."""

    key_name: str
    wrapped_key: str
    chunk_size: int
    nonce_prefix: bytes
    digest: bytes


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    data_key: bytes | bytearray,
    wrapped_key: str,
    key_name: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
) -> None:
    """Encrypt ``src`` into ``dst`` under ``data_key``, recording ``wrapped_key`` in the header.

    ``data_key`` is the 32-byte plaintext of ``wrapped_key`` (transit's ``datakey/plaintext``
    answer), used for this one stream; it is not modified. ``progress``, if given, is called
    after each chunk with the number of bytes just read from ``src``. Raises :class:`ValueError`
    for arguments outside the format.
    """
    if len(data_key) != DATA_KEY_SIZE:
        raise ValueError(f"data_key must be {DATA_KEY_SIZE} bytes")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}")
    if not _KEY_NAME.fullmatch(key_name):
        raise ValueError(f"invalid transit key name: {key_name!r}")
    if not wrapped_key or len(wrapped_key) > _MAX_WRAPPED_KEY_SIZE:
        raise ValueError("wrapped_key must be a non-empty transit ciphertext")
    nonce_prefix = os.urandom(_NONCE_PREFIX_SIZE)
    fields = {
        "cipher": CIPHER,
        "chunk_size": chunk_size,
        "key_name": key_name,
        "nonce_prefix": base64.b64encode(nonce_prefix).decode("ascii"),
        "wrapped_key": wrapped_key,
    }
    header = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")
    preamble = MAGIC + _LENGTH.pack(len(header)) + header
    digest = hashlib.sha256(preamble).digest()
    dst.write(preamble)

    aead = AESGCM(data_key)
    current = _read_exact(src, chunk_size)
    for counter in range(_MAX_CHUNKS):
        following = _read_exact(src, chunk_size) if len(current) == chunk_size else b""
        final = not following
        nonce = nonce_prefix + _LENGTH.pack(counter)
        dst.write(aead.encrypt(nonce, current, _chunk_aad(digest, counter, final)))
        if progress is not None:
            progress(len(current))
        if final:
            return
        current = following
    raise ValueError("input too large for one envelope file (2**32 chunks)")


def decrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    unwrap: Unwrap,
    progress: Progress | None = None,
) -> None:
    """Decrypt a file made by :func:`encrypt_stream` from ``src`` into ``dst``.

    ``unwrap(key_name, wrapped_key)`` returns the data key (transit's ``decrypt/<key_name>``);
    if it returns a ``bytearray``, that is zeroed before this function returns. It should raise
    :class:`EnvelopeError` when the key service rejects the wrapped key; anything else it raises
    (no permission, no connection) propagates unchanged. ``progress``, if given, is called with
    the number of bytes just read from ``src``. Raises :class:`EnvelopeError` if the file is not
    exactly what :func:`encrypt_stream` wrote under that key.
    """
    header, header_size = _read_header(src)
    if progress is not None:
        progress(header_size)
    data_key = unwrap(header.key_name, header.wrapped_key)
    try:
        if len(data_key) != DATA_KEY_SIZE:
            raise EnvelopeError
        _decrypt_chunks(src, dst, AESGCM(data_key), header, progress)
    finally:
        if isinstance(data_key, bytearray):
            data_key[:] = bytes(len(data_key))


def _decrypt_chunks(
    src: BinaryIO, dst: BinaryIO, aead: AESGCM, header: _Header, progress: Progress | None
) -> None:
    sealed_size = header.chunk_size + _TAG_SIZE
    current = _read_exact(src, sealed_size)
    for counter in range(_MAX_CHUNKS):
        # A chunk is final exactly when nothing follows it; the final flag in the AAD then
        # rejects a file cut at a chunk boundary or extended past its real end.
        following = _read_exact(src, sealed_size) if len(current) == sealed_size else b""
        final = not following
        nonce = header.nonce_prefix + _LENGTH.pack(counter)
        try:
            plaintext = aead.decrypt(nonce, current, _chunk_aad(header.digest, counter, final))
        except (InvalidTag, ValueError):
            raise EnvelopeError from None
        dst.write(plaintext)
        if progress is not None:
            progress(len(current))
        if final:
            return
        current = following
    raise EnvelopeError


def _read_header(src: BinaryIO) -> tuple[_Header, int]:
    """The header at the start of ``src`` and how many bytes it took."""
    start = _read_exact(src, len(MAGIC) + _LENGTH.size)
    if len(start) != len(MAGIC) + _LENGTH.size or not start.startswith(MAGIC):
        raise EnvelopeError
    (length,) = _LENGTH.unpack(start[len(MAGIC) :])
    if length > _MAX_HEADER_SIZE:
        raise EnvelopeError
    raw = _read_exact(src, length)
    if len(raw) != length:
        raise EnvelopeError
    try:
        fields = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EnvelopeError from None
    if not isinstance(fields, dict) or set(fields) != _HEADER_FIELDS:
        raise EnvelopeError
    key_name, wrapped_key, chunk_size = (
        fields["key_name"],
        fields["wrapped_key"],
        fields["chunk_size"],
    )
    valid = (
        fields["cipher"] == CIPHER
        and type(chunk_size) is int  # not bool, not float
        and 1 <= chunk_size <= MAX_CHUNK_SIZE
        and isinstance(key_name, str)
        and _KEY_NAME.fullmatch(key_name) is not None
        and isinstance(wrapped_key, str)
        and 0 < len(wrapped_key) <= _MAX_WRAPPED_KEY_SIZE
    )
    if not valid:
        raise EnvelopeError
    header = _Header(
        key_name=key_name,
        wrapped_key=wrapped_key,
        chunk_size=chunk_size,
        nonce_prefix=_nonce_prefix(fields["nonce_prefix"]),
        digest=hashlib.sha256(start + raw).digest(),
    )
    return header, len(start) + length


def _nonce_prefix(text: Any) -> bytes:
    if not isinstance(text, str):
        raise EnvelopeError
    try:
        prefix = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError from None
    if len(prefix) != _NONCE_PREFIX_SIZE:
        raise EnvelopeError
    return prefix


def _chunk_aad(digest: bytes, counter: int, final: bool) -> bytes:
    return digest + _LENGTH.pack(counter) + (b"\x01" if final else b"\x00")


def _read_exact(src: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end of ``src`` (pipes and raw files read short)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
