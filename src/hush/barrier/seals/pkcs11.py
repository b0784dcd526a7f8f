"""The ``pkcs11`` seal: an AES key inside an HSM (tested with SoftHSM2) wraps the unseal key.

Options are Vault's: ``lib`` (the PKCS#11 module), ``slot`` or ``token_label``, ``pin``,
``key_label``, ``mechanism`` (only ``CKM_AES_GCM``/``0x1087``) and ``generate_key`` (create the
AES-256 key if it is missing). The key never leaves the HSM; each call opens its own session in a
worker thread (the binding is synchronous) so a restarted HSM is picked up without a restart.
Uses python-pkcs11; errors name the PKCS#11 failure class, never the PIN.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from hush.barrier.seals.base import Seal, SealUnavailable, WrappedKey
from hush.crypto import NONCE_SIZE, DecryptionError, SecretBytes

__all__ = ["Pkcs11Seal"]

_GCM_MECHANISMS = frozenset({"ckm_aes_gcm", "0x1087", "0x00001087", "4231"})
_TRUE = frozenset({"1", "t", "true", "True", "TRUE"})
_TAG_BITS = 128


class Pkcs11Seal(Seal):
    """AES-256-GCM with a key that lives in a PKCS#11 token."""

    type = "pkcs11"

    async def open(self) -> None:
        """Load the module, log in, and find (or create) the key."""
        if self.option("mechanism", "CKM_AES_GCM").lower() not in _GCM_MECHANISMS:
            raise SealUnavailable('pkcs11 seal: only mechanism "CKM_AES_GCM" (0x1087) is supported')
        self.require("lib")
        self.require("pin")
        self.require("key_label")
        if not (self.option("slot") or self.option("token_label")):
            raise SealUnavailable('pkcs11 seal: "slot" or "token_label" is required')
        await asyncio.to_thread(self._check_key)

    async def wrap(self, plaintext: SecretBytes, aad: bytes) -> WrappedKey:
        """Encrypt inside the HSM under a fresh 96-bit IV."""
        iv = os.urandom(NONCE_SIZE)

        def encrypt(key: Any) -> bytes:
            from pkcs11.mechanisms import GCMParams, Mechanism

            result: bytes = key.encrypt(
                plaintext.reveal(),
                mechanism=Mechanism.AES_GCM,
                mechanism_param=GCMParams(iv, aad, _TAG_BITS),
            )
            return result

        ciphertext = await asyncio.to_thread(self._with_key, encrypt)
        return WrappedKey(self.type, self.option("key_label"), ciphertext, iv)

    async def unwrap(self, wrapped: WrappedKey, aad: bytes) -> SecretBytes:
        """Decrypt inside the HSM; a tampered blob or wrong key is a :class:`DecryptionError`."""
        if wrapped.key_id != self.option("key_label"):
            raise DecryptionError

        def decrypt(key: Any) -> bytes:
            import pkcs11.exceptions as errors
            from pkcs11.mechanisms import GCMParams, Mechanism

            try:
                result: bytes = key.decrypt(
                    wrapped.ciphertext,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(wrapped.iv, aad, _TAG_BITS),
                )
            except (
                errors.GeneralError,
                errors.EncryptedDataInvalid,
                errors.EncryptedDataLenRange,
                errors.ArgumentsBad,
            ):
                raise DecryptionError from None
            return result

        return SecretBytes(await asyncio.to_thread(self._with_key, decrypt))

    def describe(self) -> str:
        """Module, token and key label (no PIN)."""
        token = self.option("token_label") or f"slot {self.option('slot')}"
        return f"pkcs11 ({self.option('lib')}, {token}, key {self.option('key_label')})"

    # -- synchronous helpers, run in a worker thread -------------------------------------------

    def _token(self) -> Any:
        import pkcs11

        try:
            library = pkcs11.lib(self.option("lib"))
        except (OSError, RuntimeError) as exc:
            raise SealUnavailable(
                f"pkcs11 seal: cannot load module {self.option('lib')} ({type(exc).__name__})"
            ) from None
        try:
            if self.option("token_label"):
                return library.get_token(token_label=self.option("token_label"))
            slot_id = int(self.option("slot"), 0)
            for slot in library.get_slots(token_present=True):
                if slot.slot_id == slot_id:
                    return slot.get_token()
        except ValueError:
            raise SealUnavailable('pkcs11 seal: "slot" must be a number') from None
        except pkcs11.PKCS11Error as exc:
            raise SealUnavailable(f"pkcs11 seal: token not found ({type(exc).__name__})") from None
        raise SealUnavailable(f"pkcs11 seal: no token in slot {self.option('slot')}")

    def _with_key(self, work: Any) -> bytes:
        import pkcs11
        from pkcs11 import KeyType, ObjectClass

        token = self._token()
        try:
            with token.open(user_pin=self.option("pin"), rw=True) as session:
                key = session.get_key(
                    label=self.option("key_label"),
                    key_type=KeyType.AES,
                    object_class=ObjectClass.SECRET_KEY,
                )
                result: bytes = work(key)
                return result
        except pkcs11.NoSuchKey:
            raise SealUnavailable(
                f"pkcs11 seal: no AES key labelled {self.option('key_label')!r}"
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise SealUnavailable(f"pkcs11 seal: {type(exc).__name__}") from None

    def _check_key(self) -> None:
        import pkcs11
        from pkcs11 import KeyType, MechanismFlag, ObjectClass

        token = self._token()
        try:
            with token.open(user_pin=self.option("pin"), rw=True) as session:
                try:
                    session.get_key(
                        label=self.option("key_label"),
                        key_type=KeyType.AES,
                        object_class=ObjectClass.SECRET_KEY,
                    )
                except pkcs11.NoSuchKey:
                    if self.option("generate_key") not in _TRUE:
                        raise
                    session.generate_key(
                        KeyType.AES,
                        256,
                        label=self.option("key_label"),
                        store=True,
                        capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                    )
        except pkcs11.NoSuchKey:
            raise SealUnavailable(
                f"pkcs11 seal: no AES key labelled {self.option('key_label')!r} "
                '(set generate_key = "true" to create it)'
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise SealUnavailable(f"pkcs11 seal: {type(exc).__name__}") from None
