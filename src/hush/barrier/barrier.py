"""The encryption barrier: the only code that encrypts what reaches storage.

Layout in physical storage:

* ``core/seal-config`` — seal parameters (share count, threshold); not secret, stored in clear.
* ``core/root-key`` — the root key, AES-256-GCM encrypted under the unseal key.
* ``core/keyring`` — the keyring (all terms), encrypted under the root key.
* with an auto-unseal seal: ``core/recovery-config`` (recovery share count and threshold, clear),
  ``core/hsm/barrier-unseal-keys`` (the unseal key wrapped by the seal) and ``core/recovery-key``
  (the recovery key wrapped by the seal), Vault's names.
* everything else — ``version(1) | term(4, big-endian) | nonce(12) | ciphertext | tag(16)``,
  with the storage path as AAD, so a ciphertext copied to another path fails to open.

Above the barrier everything is plaintext; below it, ciphertext only.
"""

from __future__ import annotations

import builtins
import struct
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from hush.barrier.keyring import Keyring
from hush.core.errors import Sealed
from hush.crypto import (
    KEY_SIZE,
    DecryptionError,
    SecretBytes,
    aead_decrypt,
    aead_encrypt,
    random_bytes,
)
from hush.storage.base import DueEntry, Storage, TxnOp

__all__ = [
    "KEYRING_PATH",
    "RECOVERY_CONFIG_PATH",
    "RECOVERY_KEY_PATH",
    "RESERVED_PATHS",
    "ROOT_KEY_PATH",
    "SEAL_CONFIG_PATH",
    "WRAPPED_UNSEAL_KEY_PATH",
    "Barrier",
    "BarrierKeyStatus",
]

SEAL_CONFIG_PATH = "core/seal-config"
ROOT_KEY_PATH = "core/root-key"
KEYRING_PATH = "core/keyring"
RECOVERY_CONFIG_PATH = "core/recovery-config"
WRAPPED_UNSEAL_KEY_PATH = "core/hsm/barrier-unseal-keys"
RECOVERY_KEY_PATH = "core/recovery-key"
RESERVED_PATHS = frozenset(
    {
        SEAL_CONFIG_PATH,
        ROOT_KEY_PATH,
        KEYRING_PATH,
        RECOVERY_CONFIG_PATH,
        WRAPPED_UNSEAL_KEY_PATH,
        RECOVERY_KEY_PATH,
    }
)

_VERSION = 1
_HEADER = struct.Struct(">BI")


@dataclass(frozen=True, slots=True)
class BarrierKeyStatus:
    """What ``sys/key-status`` reports: the active term, when it was installed, how many terms."""

    term: int
    install_time: float
    term_count: int


class Barrier:
    """Encrypts values with the active keyring term and binds each one to its storage path."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._keyring: Keyring | None = None
        self._root_key: SecretBytes | None = None

    @property
    def storage(self) -> Storage:
        """The physical backend below (ciphertext only)."""
        return self._storage

    @property
    def sealed(self) -> bool:
        """True until :meth:`unseal` succeeds, and again after :meth:`seal`."""
        return self._keyring is None

    async def initialized(self) -> bool:
        """Whether a keyring has been written to storage."""
        return await self._storage.get(KEYRING_PATH) is not None

    async def initialize(self, unseal_key: SecretBytes, extra: Sequence[TxnOp] = ()) -> None:
        """Create a root key and a keyring protected by ``unseal_key``, atomically with ``extra``.

        The barrier stays sealed afterwards, as Vault's does after ``sys/init``.
        """
        root_key = SecretBytes(random_bytes(KEY_SIZE))
        keyring = Keyring.new()
        ops = [
            *extra,
            TxnOp("put", ROOT_KEY_PATH, _wrap(unseal_key, root_key.reveal(), ROOT_KEY_PATH)),
            TxnOp("put", KEYRING_PATH, _wrap(root_key, keyring.serialise(), KEYRING_PATH)),
        ]
        await self._storage.transaction(ops)

    async def verify_unseal_key(self, unseal_key: SecretBytes) -> bool:
        """Whether ``unseal_key`` opens the stored root key."""
        try:
            await self._open_root_key(unseal_key)
        except DecryptionError:
            return False
        return True

    async def unseal(self, unseal_key: SecretBytes) -> None:
        """Open the root key and keyring; raises :class:`DecryptionError` for a wrong key."""
        root_key = await self._open_root_key(unseal_key)
        blob = await self._storage.get(KEYRING_PATH)
        if blob is None:
            raise DecryptionError
        self._keyring = Keyring.deserialise(
            aead_decrypt(root_key.reveal(), blob, _aad(KEYRING_PATH))
        )
        self._root_key = root_key

    def seal(self) -> None:
        """Forget every key held in memory."""
        self._keyring = None
        self._root_key = None

    async def rotate(self, extra: Sequence[TxnOp] = ()) -> BarrierKeyStatus:
        """Install a new term for new writes; older terms keep decrypting.

        Runs under a storage-wide lock on the keyring and starts from the stored keyring, so two
        nodes rotating at once add two terms instead of one overwriting the other's (which would
        make everything written under the lost term unreadable). ``extra`` operations (already
        encrypted by the caller's barrier methods, or plain) are committed with the new keyring.
        """
        _, root_key = self._require_keys()
        async with self._storage.exclusive(KEYRING_PATH):
            await self.reload_keyring()
            keyring, _ = self._require_keys()
            updated = Keyring.deserialise(keyring.serialise())
            updated.add_term()
            await self._storage.transaction(
                [
                    TxnOp("put", KEYRING_PATH, _wrap(root_key, updated.serialise(), KEYRING_PATH)),
                    *extra,
                ]
            )
            self._keyring = updated
        return self.key_status()

    async def reload_keyring(self) -> None:
        """Read the keyring again (another node may have rotated); a no-op while sealed."""
        if self._root_key is None:
            return
        blob = await self._storage.get(KEYRING_PATH)
        if blob is None:
            raise DecryptionError
        self._keyring = Keyring.deserialise(
            aead_decrypt(self._root_key.reveal(), blob, _aad(KEYRING_PATH))
        )

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """A critical section shared by every process and node on this storage."""
        return self._storage.exclusive(name)

    def seal_value(self, path: str, value: bytes) -> bytes:
        """The ciphertext :meth:`put` would store at ``path`` (for mixed raw transactions)."""
        keyring, _ = self._require_keys()
        return _seal(keyring, _checked(path), value)

    def key_status(self) -> BarrierKeyStatus:
        """The active term and its install time."""
        keyring, _ = self._require_keys()
        active = keyring.active()
        return BarrierKeyStatus(active.term, active.install_time, len(keyring.terms))

    def rekey_ops(self, new_unseal_key: SecretBytes) -> list[TxnOp]:
        """Operations that re-protect the root key under a new unseal key (for a transaction)."""
        _, root_key = self._require_keys()
        return [
            TxnOp("put", ROOT_KEY_PATH, _wrap(new_unseal_key, root_key.reveal(), ROOT_KEY_PATH))
        ]

    async def rewrap_ops(
        self, current_unseal_key: SecretBytes, new_unseal_key: SecretBytes
    ) -> list[TxnOp]:
        """Like :meth:`rekey_ops` while sealed: proves ``current_unseal_key`` opens the root key.

        Raises :class:`DecryptionError` for a wrong key. Nothing is unsealed (seal migration
        uses it so no request can see a half-unsealed node).
        """
        root_key = await self._open_root_key(current_unseal_key)
        return [
            TxnOp("put", ROOT_KEY_PATH, _wrap(new_unseal_key, root_key.reveal(), ROOT_KEY_PATH))
        ]

    # -- logical storage -------------------------------------------------------------------

    async def get(self, path: str) -> bytes | None:
        """Read and decrypt ``path``; ``None`` if absent."""
        self._require_keys()
        blob = await self._storage.get(_checked(path))
        if blob is None:
            return None
        return await self._decrypt(path, blob)

    async def _decrypt(self, path: str, blob: bytes) -> bytes:
        keyring, _ = self._require_keys()
        term = _term(blob)
        if term is not None and keyring.key_for(term) is None:
            # Written under a term another node added with sys/rotate: pick the keyring up.
            await self.reload_keyring()
            keyring, _ = self._require_keys()
        return _open(keyring, path, blob)

    async def get_many(self, paths: Sequence[str]) -> builtins.list[bytes | None]:
        """Read and decrypt several paths in one storage round trip (where the backend can)."""
        self._require_keys()
        blobs = await self._storage.get_many([_checked(path) for path in paths])
        return [
            None if blob is None else await self._decrypt(path, blob)
            for path, blob in zip(paths, blobs, strict=True)
        ]

    async def put(self, path: str, value: bytes) -> None:
        """Encrypt ``value`` under the active term, bound to ``path``, and store it."""
        keyring, _ = self._require_keys()
        await self._storage.put(_checked(path), _seal(keyring, path, value))

    async def delete(self, path: str) -> None:
        """Remove ``path``."""
        self._require_keys()
        await self._storage.delete(_checked(path))

    async def list(self, prefix: str) -> list[str]:
        """Immediate children of ``prefix`` (names are not encrypted; values are)."""
        self._require_keys()
        return await self._storage.list(prefix)

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        """Encrypt every put and apply all operations atomically."""
        keyring, _ = self._require_keys()
        sealed_ops = [
            TxnOp("put", _checked(op.key), _seal(keyring, op.key, op.value or b""))
            if op.op == "put"
            else TxnOp("delete", _checked(op.key))
            for op in ops
        ]
        await self._storage.transaction(sealed_ops)

    async def schedule(self, key: str, due_at: float) -> None:
        """Pass-through to the due-time index (keys there name work, never secrets)."""
        self._require_keys()
        await self._storage.schedule(key, due_at)

    async def unschedule(self, key: str) -> None:
        """Pass-through to the due-time index."""
        self._require_keys()
        await self._storage.unschedule(key)

    async def unschedule_many(self, keys: Sequence[str]) -> None:
        """Pass-through to the due-time index."""
        self._require_keys()
        await self._storage.unschedule_many(keys)

    async def claim_due(
        self, now: float, limit: int, hold: float = 30.0, *, prefix: str = ""
    ) -> builtins.list[DueEntry]:
        """Pass-through to the due-time index."""
        self._require_keys()
        return await self._storage.claim_due(now, limit, hold, prefix=prefix)

    # -- internals ------------------------------------------------------------------------

    def _require_keys(self) -> tuple[Keyring, SecretBytes]:
        if self._keyring is None or self._root_key is None:
            raise Sealed
        return self._keyring, self._root_key

    async def _open_root_key(self, unseal_key: SecretBytes) -> SecretBytes:
        blob = await self._storage.get(ROOT_KEY_PATH)
        if blob is None:
            raise DecryptionError
        return SecretBytes(aead_decrypt(unseal_key.reveal(), blob, _aad(ROOT_KEY_PATH)))


def _aad(path: str) -> bytes:
    return path.encode("utf-8")


def _checked(path: str) -> str:
    # Barrier-internal records may only be written through the methods above.
    if path in RESERVED_PATHS:
        raise ValueError("reserved storage path")
    return path


def _wrap(key: SecretBytes, plaintext: bytes, path: str) -> bytes:
    return aead_encrypt(key.reveal(), plaintext, _aad(path))


def _seal(keyring: Keyring, path: str, value: bytes) -> bytes:
    active = keyring.active()
    header = _HEADER.pack(_VERSION, active.term)
    return header + aead_encrypt(active.cipher, value, header + _aad(path))


def _term(blob: bytes) -> int | None:
    if len(blob) < _HEADER.size:
        return None
    return int(_HEADER.unpack_from(blob)[1])


def _open(keyring: Keyring, path: str, blob: bytes) -> bytes:
    if len(blob) < _HEADER.size:
        raise DecryptionError
    version, term = _HEADER.unpack_from(blob)
    key = keyring.key_for(term)
    if version != _VERSION or key is None:
        raise DecryptionError
    header = blob[: _HEADER.size]
    return aead_decrypt(key.cipher, blob[_HEADER.size :], header + _aad(path))
