"""Key material of transit keys: generation, import checks, derivation and export encodings.

This and :mod:`hush.engines.transit.crypto_ops` are the transit engine's hazmat: the only modules
that hold raw key bytes in the clear or call ``cryptography`` primitives. Stored forms follow
Vault's ``keysutil.KeyEntry`` where a client can see them (export, read): AES/ChaCha/HMAC keys are
raw bytes, ed25519 keys are Go's 64-byte ``seed || public key``; ECDSA and RSA private keys are
kept as PKCS#8 DER and exported as Vault does (SEC1 ``EC PRIVATE KEY``, PKCS#1 ``RSA PRIVATE KEY``).
"""

from __future__ import annotations

import base64
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hush.core.errors import InvalidRequest
from hush.crypto import SecretBytes, random_bytes
from hush.engines.transit.key_types import KeyType

__all__ = [
    "HMAC_KEY_SIZE",
    "PrivateKey",
    "check_stored",
    "derive",
    "derived_ed25519",
    "derived_ed25519_public",
    "ed25519_public_bytes",
    "export_encryption_key",
    "export_public_key",
    "export_signing_key",
    "generate",
    "import_material",
    "load_private",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

HMAC_KEY_SIZE: Final = 32
_CURVES: Final[dict[KeyType, ec.EllipticCurve]] = {
    KeyType.ECDSA_P256: ec.SECP256R1(),
    KeyType.ECDSA_P384: ec.SECP384R1(),
    KeyType.ECDSA_P521: ec.SECP521R1(),
}
_RSA_BITS: Final = {KeyType.RSA_2048: 2048, KeyType.RSA_3072: 3072, KeyType.RSA_4096: 4096}
_PKCS8: Final = serialization.PrivateFormat.PKCS8
_DER: Final = serialization.Encoding.DER
_PEM: Final = serialization.Encoding.PEM
_NO_ENCRYPTION: Final = serialization.NoEncryption()


def _public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _ed25519_go_form(key: ed25519.Ed25519PrivateKey) -> tuple[SecretBytes, str]:
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, _NO_ENCRYPTION
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SecretBytes(seed + public), base64.b64encode(public).decode("ascii")


def _asymmetric(key: PrivateKey) -> tuple[SecretBytes, str]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _ed25519_go_form(key)
    return SecretBytes(key.private_bytes(_DER, _PKCS8, _NO_ENCRYPTION)), _public_pem(key)


def generate(key_type: KeyType, key_size: int = 0) -> tuple[SecretBytes, str]:
    """Fresh material for one key version: ``(secret, formatted public key or "")``."""
    if key_type.symmetric_size:
        return SecretBytes(random_bytes(key_type.symmetric_size)), ""
    if key_type is KeyType.HMAC:
        return SecretBytes(random_bytes(key_size or HMAC_KEY_SIZE)), ""
    if key_type is KeyType.ED25519:
        return _ed25519_go_form(ed25519.Ed25519PrivateKey.generate())
    if key_type in _CURVES:
        return _asymmetric(ec.generate_private_key(_CURVES[key_type]))
    return _asymmetric(
        rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[key_type])
    )


def import_material(key_type: KeyType, raw: bytes) -> tuple[SecretBytes, str]:
    """Check imported key bytes (raw symmetric key or PKCS#8 DER) against ``key_type``."""
    if key_type.symmetric_size or key_type is KeyType.HMAC:
        size_ok = (
            len(raw) == key_type.symmetric_size
            if key_type.symmetric_size
            else 32 <= len(raw) <= 512  # Vault's HmacMinKeySize..HmacMaxKeySize
        )
        if not size_ok:
            raise InvalidRequest(f"invalid key size {len(raw)} bytes for key type {key_type}")
        return SecretBytes(raw), ""
    try:
        parsed = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidRequest("error parsing asymmetric key: not a PKCS#8 private key") from None
    if key_type is KeyType.ED25519 and isinstance(parsed, ed25519.Ed25519PrivateKey):
        return _ed25519_go_form(parsed)
    if key_type in _CURVES and isinstance(parsed, ec.EllipticCurvePrivateKey):
        if parsed.curve.name != _CURVES[key_type].name:
            raise InvalidRequest(f"invalid curve: expected {_CURVES[key_type].name}")
        return _asymmetric(parsed)
    if key_type in _RSA_BITS and isinstance(parsed, rsa.RSAPrivateKey):
        if parsed.key_size != _RSA_BITS[key_type]:
            raise InvalidRequest(
                f"invalid key size: expected {_RSA_BITS[key_type] // 8} bytes, "
                f"got {(parsed.key_size + 7) // 8} bytes"
            )
        return _asymmetric(parsed)
    raise InvalidRequest(f"invalid key type: expected {key_type}")


def check_stored(key_type: KeyType, secret: SecretBytes, public: str) -> None:
    """Raise ``ValueError`` unless ``secret`` and ``public`` are a version of ``key_type`` as
    Hush stores it. A restore takes the stored form from a client; this keeps a crafted backup
    from planting material that would fail deep inside a later operation.
    """
    raw = secret.reveal()
    try:
        if key_type is KeyType.ED25519:
            if len(raw) != 64:
                raise ValueError("malformed ed25519 key")
            expected = _ed25519_go_form(ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32]))
        else:
            expected = import_material(key_type, raw)
    except InvalidRequest as exc:
        raise ValueError(exc.message) from None
    if expected[0] != secret or expected[1] != public:
        raise ValueError("malformed key material")


def load_private(key_type: KeyType, secret: SecretBytes) -> PrivateKey:
    """The ``cryptography`` private key of an asymmetric version's stored material."""
    raw = secret.reveal()
    if key_type is KeyType.ED25519:
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
    # Stored material was validated when generated or imported, and the barrier authenticates it.
    key = serialization.load_der_private_key(
        raw, password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError("stored key material has an unexpected type")
    return key


def derive(secret: SecretBytes, context: bytes, length: int) -> bytes:
    """Vault's ``Kdf_hkdf_sha256``: HKDF-SHA256 of the version's key, no salt, context as info."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=context)
    return hkdf.derive(secret.reveal())


def derived_ed25519(secret: SecretBytes, context: bytes) -> ed25519.Ed25519PrivateKey:
    """The ed25519 key Vault derives for ``context`` (HKDF output used as the 32-byte seed)."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(derive(secret, context, 32))


def ed25519_public_bytes(key: ed25519.Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of an ed25519 key."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def derived_ed25519_public(secret: SecretBytes, context: bytes) -> str:
    """Base64 public key of the ed25519 key derived for ``context``."""
    return _ed25519_go_form(derived_ed25519(secret, context))[1]


def export_encryption_key(key_type: KeyType, secret: SecretBytes) -> str:
    """``export/encryption-key``: base64 of a symmetric key, PKCS#1 PEM of an RSA key."""
    if key_type.symmetric_size:
        return base64.b64encode(secret.reveal()).decode("ascii")
    key = load_private(key_type, secret)
    return key.private_bytes(
        _PEM, serialization.PrivateFormat.TraditionalOpenSSL, _NO_ENCRYPTION
    ).decode("ascii")


def export_signing_key(key_type: KeyType, secret: SecretBytes) -> str:
    """``export/signing-key``: Go's 64-byte ed25519 key in base64, SEC1 or PKCS#1 PEM otherwise."""
    if key_type is KeyType.ED25519:
        return base64.b64encode(secret.reveal()).decode("ascii")
    key = load_private(key_type, secret)
    pem = key.private_bytes(_PEM, serialization.PrivateFormat.TraditionalOpenSSL, _NO_ENCRYPTION)
    text = pem.decode("ascii")
    return text.strip() if key_type in _CURVES else text


def export_public_key(key_type: KeyType, formatted: str, secret: SecretBytes) -> str:
    """``export/public-key``: base64 for ed25519, SubjectPublicKeyInfo PEM for ECDSA and RSA."""
    if key_type is KeyType.ED25519:
        return formatted.strip()
    if key_type in _CURVES:
        return formatted.strip()
    return _public_pem(load_private(key_type, secret))
