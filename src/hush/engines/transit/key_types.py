"""The transit key types and what each supports (Vault's ``keysutil.KeyType``)."""

from __future__ import annotations

import enum

__all__ = ["KeyType"]


class KeyType(enum.StrEnum):
    """A transit key type, named as in Vault's API."""

    AES128_GCM96 = "aes128-gcm96"
    AES256_GCM96 = "aes256-gcm96"
    CHACHA20_POLY1305 = "chacha20-poly1305"
    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256"
    ECDSA_P384 = "ecdsa-p384"
    ECDSA_P521 = "ecdsa-p521"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"
    HMAC = "hmac"

    @property
    def is_aead(self) -> bool:
        """Symmetric AEAD keys (these also take ``associated_data`` and derivation)."""
        return self in _AEAD

    @property
    def is_rsa(self) -> bool:
        """RSA keys (encrypt with OAEP, sign with PSS or PKCS#1 v1.5)."""
        return self in _RSA

    @property
    def is_ecdsa(self) -> bool:
        """ECDSA keys on the NIST curves."""
        return self in _ECDSA

    @property
    def is_asymmetric(self) -> bool:
        """Keys with a public half (shown by a read and ``export/public-key``)."""
        return self in _RSA or self in _ECDSA or self is KeyType.ED25519

    @property
    def symmetric_size(self) -> int:
        """Key length in bytes of an AEAD key type; 0 for every other type."""
        return _AEAD.get(self, 0)

    @property
    def supports_encryption(self) -> bool:
        """Whether ``encrypt``, ``decrypt``, ``rewrap`` and ``datakey`` work with this type."""
        return self in _AEAD or self in _RSA

    @property
    def supports_signing(self) -> bool:
        """Whether ``sign`` and ``verify`` work with this type."""
        return self in _RSA or self in _ECDSA or self is KeyType.ED25519

    @property
    def supports_derivation(self) -> bool:
        """Whether a key of this type may be created with ``derived``."""
        return self in _AEAD or self is KeyType.ED25519

    @property
    def hashes_signature_input(self) -> bool:
        """Whether the input is hashed with ``hash_algorithm`` before signing (not ed25519)."""
        return self in _RSA or self in _ECDSA


_AEAD = {KeyType.AES128_GCM96: 16, KeyType.AES256_GCM96: 32, KeyType.CHACHA20_POLY1305: 32}
_RSA = frozenset({KeyType.RSA_2048, KeyType.RSA_3072, KeyType.RSA_4096})
_ECDSA = frozenset({KeyType.ECDSA_P256, KeyType.ECDSA_P384, KeyType.ECDSA_P521})
