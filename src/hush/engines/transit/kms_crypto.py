"""KMS cryptography on transit key rings: the ciphertext blob, encryption context, signing
algorithms, MACs and data key pairs.

A symmetric ``CiphertextBlob`` is ``b"HK\\x01" || key id (16 bytes) || transit ciphertext``
(``vault:vN:...`` in ASCII), so Decrypt finds the key without a ``KeyId``, as AWS's does, and the
transit version inside lets a rotated key still open old blobs. The encryption context is bound as
AES-GCM associated data in a canonical form (JSON, keys sorted), so a different context fails
exactly like a tampered blob. RSA ciphertexts are raw OAEP bytes, as AWS's, so data encrypted
offline with the public key decrypts here.

Values above KMS's 4096-byte limit (advanced-tier SecureStrings, which AWS also envelope-encrypts)
use an envelope blob: ``b"HK\\x02" || length (2 bytes) || wrapped data key (a symmetric blob
above) || nonce (12) || AES-256-GCM ciphertext``, the header being the GCM associated data.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import uuid
from collections.abc import Mapping
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hush.core.errors import HushError, InvalidRequest
from hush.crypto import constant_time_equal, random_bytes
from hush.engines.transit import crypto_ops, material
from hush.engines.transit.ciphertext import b64decode, parse_versioned
from hush.engines.transit.keys import KeyPolicy
from hush.engines.transit.kms_errors import IncorrectKey, InvalidCiphertext
from hush.engines.transit.kms_model import KmsKey

__all__ = [
    "blob_key_id",
    "context_aad",
    "decrypt",
    "encrypt",
    "encrypt_envelope",
    "generate_key_pair",
    "mac",
    "public_key_der",
    "sign",
    "verify",
    "verify_mac",
]

_MAGIC: Final = b"HK\x01"
_HEADER: Final = len(_MAGIC) + 16
_ENVELOPE: Final = b"HK\x02"
_NONCE: Final = 12
_SIGNING: Final = {
    "RSASSA_PSS_SHA_256": ("pss", "sha2-256"),
    "RSASSA_PSS_SHA_384": ("pss", "sha2-384"),
    "RSASSA_PSS_SHA_512": ("pss", "sha2-512"),
    "RSASSA_PKCS1_V1_5_SHA_256": ("pkcs1v15", "sha2-256"),
    "RSASSA_PKCS1_V1_5_SHA_384": ("pkcs1v15", "sha2-384"),
    "RSASSA_PKCS1_V1_5_SHA_512": ("pkcs1v15", "sha2-512"),
    "ECDSA_SHA_256": ("", "sha2-256"),
    "ECDSA_SHA_384": ("", "sha2-384"),
    "ECDSA_SHA_512": ("", "sha2-512"),
}
_MACS: Final = {"HMAC_SHA_256": "sha256", "HMAC_SHA_384": "sha384", "HMAC_SHA_512": "sha512"}
_OAEP_HASHES: Final = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}
_PAIR_SPECS: Final[dict[str, int | ec.EllipticCurve]] = {
    "RSA_2048": 2048,
    "RSA_3072": 3072,
    "RSA_4096": 4096,
    "ECC_NIST_P256": ec.SECP256R1(),
    "ECC_NIST_P384": ec.SECP384R1(),
    "ECC_NIST_P521": ec.SECP521R1(),
    "ECC_SECG_P256K1": ec.SECP256K1(),
}


def context_aad(context: Mapping[str, Any] | None) -> bytes | None:
    """The canonical associated data of an ``EncryptionContext`` (``None`` when empty)."""
    if not context:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in context.items()):
        raise InvalidRequest("EncryptionContext keys and values must be strings")
    return orjson.dumps(dict(sorted(context.items())))


def blob_key_id(blob: bytes) -> str | None:
    """The key id inside a symmetric or envelope blob, or ``None`` if it is not one of ours."""
    if blob.startswith(_ENVELOPE):
        parts = _split_envelope(blob)
        return blob_key_id(parts[1]) if parts is not None else None
    if len(blob) <= _HEADER or not blob.startswith(_MAGIC):
        return None
    return str(uuid.UUID(bytes=blob[len(_MAGIC) : _HEADER]))


def _split_envelope(blob: bytes) -> tuple[bytes, bytes, bytes, bytes] | None:
    """``(header, wrapped key, nonce, sealed)`` of an envelope blob, ``None`` if malformed."""
    start = len(_ENVELOPE) + 2
    if len(blob) < start:
        return None
    length = int.from_bytes(blob[len(_ENVELOPE) : start], "big")
    end = start + length
    if len(blob) < end + _NONCE + 16:
        return None
    return blob[:end], blob[start:end], blob[end : end + _NONCE], blob[end + _NONCE :]


def encrypt_envelope(
    key: KmsKey, policy: KeyPolicy, plaintext: bytes, context: Mapping[str, Any] | None
) -> bytes:
    """Encrypt a value of any size under a fresh data key wrapped by the KMS key."""
    data_key = random_bytes(32)
    wrapped = encrypt(key, policy, data_key, context)
    header = _ENVELOPE + len(wrapped).to_bytes(2, "big") + wrapped
    nonce = random_bytes(_NONCE)
    return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext, header)


def _decrypt_envelope(
    key: KmsKey, policy: KeyPolicy, blob: bytes, context: Mapping[str, Any] | None
) -> bytes:
    parts = _split_envelope(blob)
    if parts is None:
        raise InvalidCiphertext()
    header, wrapped, nonce, sealed = parts
    data_key = decrypt(key, policy, wrapped, context)
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, header)
    except (InvalidTag, ValueError):
        raise InvalidCiphertext() from None


def encrypt(
    key: KmsKey,
    policy: KeyPolicy,
    plaintext: bytes,
    context: Mapping[str, Any] | None,
    algorithm: str = "SYMMETRIC_DEFAULT",
) -> bytes:
    """Encrypt ``plaintext`` under the key's latest version; returns the ciphertext blob."""
    key.require_algorithm("EncryptionAlgorithms", algorithm)
    if algorithm != "SYMMETRIC_DEFAULT":
        if context:
            raise InvalidRequest("EncryptionContext is not supported with asymmetric keys")
        return _rsa_public(policy).encrypt(plaintext, _oaep(algorithm))
    text, _ = crypto_ops.encrypt(policy, plaintext, associated_data=context_aad(context))
    return _MAGIC + uuid.UUID(key.key_id).bytes + text.encode("ascii")


def decrypt(
    key: KmsKey,
    policy: KeyPolicy,
    blob: bytes,
    context: Mapping[str, Any] | None,
    algorithm: str = "SYMMETRIC_DEFAULT",
) -> bytes:
    """Open a ciphertext blob made by :func:`encrypt`; every failure is one error."""
    key.require_algorithm("EncryptionAlgorithms", algorithm)
    if algorithm != "SYMMETRIC_DEFAULT":
        private = _latest_private(policy)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise InvalidCiphertext()
        try:
            return private.decrypt(blob, _oaep(algorithm))
        except ValueError:
            raise InvalidCiphertext() from None
    owner = blob_key_id(blob)
    if owner is None:
        raise InvalidCiphertext()
    if owner != key.key_id:
        raise IncorrectKey(
            "The key ID in the request does not identify a CMK that can perform this operation."
        )
    if blob.startswith(_ENVELOPE):
        return _decrypt_envelope(key, policy, blob, context)
    aad = context_aad(context)
    try:
        text = blob[_HEADER:].decode("ascii")
        return crypto_ops.decrypt(policy, text, associated_data=aad)
    except (HushError, UnicodeDecodeError):
        raise InvalidCiphertext() from None


def _oaep(algorithm: str) -> padding.OAEP:
    algo = _OAEP_HASHES[algorithm]()
    return padding.OAEP(mgf=padding.MGF1(algo), algorithm=algo, label=None)


def _latest_private(policy: KeyPolicy) -> material.PrivateKey:
    # Asymmetric KMS keys never rotate (as AWS), so the latest version is the key.
    return material.load_private(policy.type, policy.version(policy.latest_version).key)


def _rsa_public(policy: KeyPolicy) -> rsa.RSAPublicKey:
    private = _latest_private(policy)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private.public_key()


def public_key_der(policy: KeyPolicy) -> bytes:
    """The latest version's public key as DER SubjectPublicKeyInfo (GetPublicKey)."""
    return (
        _latest_private(policy)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _sign_options(algorithm: str, message_type: str) -> crypto_ops.SignOptions:
    scheme, digest = _SIGNING[algorithm]
    if message_type not in ("RAW", "DIGEST"):
        raise InvalidRequest("MessageType must be RAW or DIGEST")
    # KMS's RSASSA-PSS uses a salt as long as the digest.
    return crypto_ops.SignOptions(
        hash_algorithm=digest,
        prehashed=message_type == "DIGEST",
        signature_algorithm=scheme,
        salt_length="hash",
    )


def sign(
    key: KmsKey, policy: KeyPolicy, message: bytes, message_type: str, algorithm: str
) -> bytes:
    """A raw signature (DER for ECDSA) of ``message`` with the key's latest version."""
    key.require_algorithm("SigningAlgorithms", algorithm)
    signed, _, _ = crypto_ops.sign(policy, message, _sign_options(algorithm, message_type))
    return b64decode(parse_versioned(signed).payload, "invalid signature")


def verify(
    key: KmsKey,
    policy: KeyPolicy,
    message: bytes,
    signature: bytes,
    message_type: str,
    algorithm: str,
) -> bool:
    """Whether ``signature`` is valid for ``message`` under any available version."""
    key.require_algorithm("SigningAlgorithms", algorithm)
    options = _sign_options(algorithm, message_type)
    for number in sorted(policy.versions, reverse=True):
        text = f"vault:v{number}:" + _b64(signature)
        try:
            if crypto_ops.verify(policy, message, text, options):
                return True
        except InvalidRequest:
            return False
    return False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def mac(key: KmsKey, policy: KeyPolicy, message: bytes, algorithm: str) -> bytes:
    """HMAC of ``message`` with the key's latest version."""
    key.require_algorithm("MacAlgorithms", algorithm)
    secret = policy.version(policy.latest_version).hmac_secret(policy.type).reveal()
    return std_hmac.new(secret, message, _MACS[algorithm]).digest()


def verify_mac(key: KmsKey, policy: KeyPolicy, message: bytes, tag: bytes, algorithm: str) -> bool:
    """Constant-time check of ``tag`` against every available version of the key."""
    key.require_algorithm("MacAlgorithms", algorithm)
    name = _MACS[algorithm]
    matched = False
    for entry in policy.versions.values():
        expected = std_hmac.new(entry.hmac_secret(policy.type).reveal(), message, name).digest()
        matched |= constant_time_equal(expected, tag)
    return matched


def generate_key_pair(spec: str) -> tuple[bytes, bytes]:
    """A new key pair for GenerateDataKeyPair: ``(PKCS#8 DER private, SPKI DER public)``."""
    choice = _PAIR_SPECS.get(spec)
    if choice is None:
        raise InvalidRequest(f"KeyPairSpec must be one of {sorted(_PAIR_SPECS)}")
    if isinstance(choice, int):
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(
            65537, choice
        )
    else:
        private = ec.generate_private_key(choice)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der, public
