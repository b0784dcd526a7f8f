"""Transit operations per key type: encrypt, decrypt, sign, verify, HMAC and hash.

The wire formats are Vault's (``keysutil.Policy``): AEAD ciphertexts are
``vault:v<N>:base64(nonce(12) || ciphertext || tag)``; RSA ciphertexts are OAEP with SHA-256;
convergent (v3) encryption derives ``encryption key || HMAC key`` with HKDF and takes the nonce
from HMAC-SHA256 of the plaintext. Every failure is an
:class:`~hush.core.errors.InvalidRequest` whose text never contains plaintext or key bytes; a bad
tag, key or associated data all read "cipher: message authentication failed".
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from hush.core.errors import InvalidRequest, Unsupported
from hush.crypto import constant_time_equal, random_bytes
from hush.engines.transit import material
from hush.engines.transit.ciphertext import b64decode, format_versioned, parse_versioned
from hush.engines.transit.keys import KeyPolicy, KeyType

__all__ = [
    "HASH_ALGORITHMS",
    "SignOptions",
    "decrypt",
    "digest",
    "encrypt",
    "hmac_value",
    "sign",
    "verify",
    "verify_hmac",
]

NONCE_SIZE: Final = 12
HASH_ALGORITHMS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha1": hashes.SHA1,
    "sha2-224": hashes.SHA224,
    "sha2-256": hashes.SHA256,
    "sha2-384": hashes.SHA384,
    "sha2-512": hashes.SHA512,
    "sha3-224": hashes.SHA3_224,
    "sha3-256": hashes.SHA3_256,
    "sha3-384": hashes.SHA3_384,
    "sha3-512": hashes.SHA3_512,
}
_HASHLIB_NAMES: Final = {
    "sha1": "sha1",
    "sha2-224": "sha224",
    "sha2-256": "sha256",
    "sha2-384": "sha384",
    "sha2-512": "sha512",
    "sha3-224": "sha3_224",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
}
_AUTH_FAILED: Final = "cipher: message authentication failed"
_OAEP: Final = padding.OAEP(
    mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)
_CURVE_BYTES: Final = {KeyType.ECDSA_P256: 32, KeyType.ECDSA_P384: 48, KeyType.ECDSA_P521: 66}


@dataclass(frozen=True, slots=True)
class SignOptions:
    """How to sign or verify: Vault's ``hash_algorithm``, ``prehashed``, RSA and ECDSA options."""

    hash_algorithm: str = "sha2-256"
    prehashed: bool = False
    signature_algorithm: str = ""
    marshaling: str = "asn1"
    salt_length: str = "auto"

    def hash(self) -> hashes.HashAlgorithm:
        """The selected hash (``none`` is Vault's raw PKCS#1 v1.5, not offered here)."""
        if self.hash_algorithm == "none":
            raise Unsupported("hash_algorithm=none is not supported by Hush")
        algorithm = HASH_ALGORITHMS.get(self.hash_algorithm)
        if algorithm is None:
            raise InvalidRequest(f'invalid hash algorithm "{self.hash_algorithm}"')
        return algorithm()

    def check_marshaling(self) -> bool:
        """``True`` for JWS marshaling (URL-safe base64, raw ``r || s`` for ECDSA)."""
        if self.marshaling not in ("asn1", "jws"):
            raise InvalidRequest(f'invalid marshaling type "{self.marshaling}"')
        return self.marshaling == "jws"


def digest(algorithm: str, data: bytes) -> bytes:
    """The hash of ``data`` with a Vault-named algorithm (``sha2-256``, ``sha3-512``, ...)."""
    name = _HASHLIB_NAMES.get(algorithm)
    if name is None:
        raise InvalidRequest("unsupported algorithm")
    return hashlib.new(name, data).digest()


# ---- encryption -------------------------------------------------------------------------------


def _aead(key_type: KeyType, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(key) if key_type is KeyType.CHACHA20_POLY1305 else AESGCM(key)


def encrypt(
    policy: KeyPolicy,
    plaintext: bytes,
    *,
    context: bytes = b"",
    version: int = 0,
    associated_data: bytes | None = None,
    nonce: bytes = b"",
) -> tuple[str, int]:
    """Encrypt under ``version`` (0 = latest); returns ``(vault:vN:... ciphertext, N)``."""
    key_type = policy.type
    if not key_type.supports_encryption:
        raise InvalidRequest(f"message encryption not supported for key type {key_type}")
    if nonce:
        # Hush never creates Vault's v1 convergent keys, the only ones that take a nonce.
        raise InvalidRequest("provided nonce not allowed for this key")
    number = policy.version_for_use(version)
    if key_type.is_rsa:
        if associated_data:
            raise InvalidRequest(f"associated_data provided for non-AEAD cipher suite {key_type}")
        public = material.load_private(key_type, policy.version(number).key).public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        try:
            blob = public.encrypt(plaintext, _OAEP)
        except ValueError:
            raise InvalidRequest("failed to RSA encrypt the plaintext: message too long") from None
        return format_versioned(number, blob), number
    size = key_type.symmetric_size
    if policy.derived:
        extra = 32 if policy.convergent_encryption else 0
        key = policy.derived_key(number, context, size + extra)
    else:
        key = policy.version(number).key.reveal()
    if policy.convergent_encryption:
        iv = std_hmac.new(key[size:], plaintext, hashlib.sha256).digest()[:NONCE_SIZE]
    else:
        iv = random_bytes(NONCE_SIZE)
    sealed = _aead(key_type, key[:size]).encrypt(iv, plaintext, associated_data or None)
    return format_versioned(number, iv + sealed), number


def decrypt(
    policy: KeyPolicy,
    ciphertext: str,
    *,
    context: bytes = b"",
    associated_data: bytes | None = None,
) -> bytes:
    """Open a ``vault:vN:...`` ciphertext; every failure is one ``InvalidRequest``."""
    key_type = policy.type
    if not key_type.supports_encryption:
        raise InvalidRequest(f"message decryption not supported for key type {key_type}")
    parsed = parse_versioned(ciphertext)
    entry = policy.check_readable(parsed.version)
    blob = b64decode(parsed.payload, "invalid ciphertext: could not decode base64")
    if key_type.is_rsa:
        if associated_data:
            raise InvalidRequest(f"associated_data provided for non-AEAD cipher suite {key_type}")
        private = material.load_private(key_type, entry.key)
        assert isinstance(private, rsa.RSAPrivateKey)
        try:
            return private.decrypt(blob, _OAEP)
        except ValueError:
            raise InvalidRequest("failed to RSA decrypt the ciphertext: decryption error") from None
    size = key_type.symmetric_size
    if policy.derived:
        key = policy.derived_key(parsed.version, context, size)
    else:
        key = entry.key.reveal()
    if len(blob) < NONCE_SIZE:
        raise InvalidRequest("invalid ciphertext length")
    try:
        return _aead(key_type, key).decrypt(
            blob[:NONCE_SIZE], blob[NONCE_SIZE:], associated_data or None
        )
    except (InvalidTag, ValueError):
        raise InvalidRequest(_AUTH_FAILED) from None


# ---- signatures -------------------------------------------------------------------------------


def _signing_key(policy: KeyPolicy, number: int, context: bytes) -> material.PrivateKey:
    entry = policy.version(number)
    if policy.type is KeyType.ED25519 and policy.derived:
        policy.require_context(context)
        return material.derived_ed25519(entry.key, context)
    return material.load_private(policy.type, entry.key)


def _prepared_input(policy: KeyPolicy, data: bytes, options: SignOptions) -> bytes:
    if policy.type is KeyType.ED25519:
        if options.prehashed:
            raise Unsupported("prehashed input (Ed25519ph) is not supported by Hush")
        return data
    algorithm = options.hash()
    if not options.prehashed:
        return digest(options.hash_algorithm, data)
    if len(data) != algorithm.digest_size:
        raise InvalidRequest(
            f"prehashed input must be {algorithm.digest_size} bytes for {options.hash_algorithm}"
        )
    return data


def _pss(
    key: rsa.RSAPrivateKey | rsa.RSAPublicKey, options: SignOptions, *, signing: bool
) -> padding.PSS:
    algorithm = options.hash()
    mgf = padding.MGF1(algorithm)
    text = options.salt_length.strip().lower()
    # Vault's values: "auto" (Go's PSSSaltLengthAuto, also "0"), "hash" (also "-1"), or a length.
    if text in ("auto", "0"):
        return padding.PSS(mgf, padding.PSS.MAX_LENGTH if signing else padding.PSS.AUTO)
    if text in ("hash", "-1"):
        return padding.PSS(mgf, padding.PSS.DIGEST_LENGTH)
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise InvalidRequest(f"salt length neither 'auto', 'hash', nor an int: {text[:16]}")
    length = int(text)
    maximum = (key.key_size - 1 + 7) // 8 - 2 - algorithm.digest_size
    if length > maximum:
        raise InvalidRequest(f"requested salt length {length} is invalid")
    return padding.PSS(mgf, length)


def _rsa_padding(
    key: rsa.RSAPrivateKey | rsa.RSAPublicKey, options: SignOptions, *, signing: bool
) -> padding.AsymmetricPadding:
    scheme = options.signature_algorithm or "pss"
    if scheme == "pss":
        return _pss(key, options, signing=signing)
    if scheme == "pkcs1v15":
        return padding.PKCS1v15()
    raise InvalidRequest(f"unsupported rsa signature algorithm {scheme[:32]}")


def sign(
    policy: KeyPolicy, data: bytes, options: SignOptions, *, context: bytes = b"", version: int = 0
) -> tuple[str, int, bytes | None]:
    """Sign ``data``; returns ``(vault:vN:signature, N, derived ed25519 public key or None)``."""
    if not policy.type.supports_signing:
        raise InvalidRequest(f"key type {policy.type} does not support signing")
    jws = options.check_marshaling()
    number = policy.version_for_use(version, "signing")
    message = _prepared_input(policy, data, options)
    key = _signing_key(policy, number, context)
    public: bytes | None = None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(message)
        if policy.derived:
            public = material.ed25519_public_bytes(key)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(message, ec.ECDSA(Prehashed(options.hash())))
        if jws:
            r, s = decode_dss_signature(der)
            width = _CURVE_BYTES[policy.type]
            signature = r.to_bytes(width, "big") + s.to_bytes(width, "big")
        else:
            signature = der
    else:
        pad = _rsa_padding(key, options, signing=True)
        signature = key.sign(message, pad, Prehashed(options.hash()))
    return format_versioned(number, signature, urlsafe=jws), number, public


def verify(
    policy: KeyPolicy, data: bytes, signature: str, options: SignOptions, *, context: bytes = b""
) -> bool:
    """Whether ``signature`` (``vault:vN:...``) is valid for ``data``; malformed input is a 400."""
    if not policy.type.supports_signing:
        raise InvalidRequest(f"key type {policy.type} does not support verification")
    jws = options.check_marshaling()
    parsed = parse_versioned(signature, "signature")
    policy.check_readable(parsed.version, "signature")
    raw = b64decode(parsed.payload, "invalid base64 signature value", urlsafe=jws)
    message = _prepared_input(policy, data, options)
    public = _signing_key(policy, parsed.version, context).public_key()
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(raw, message)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            if jws:
                half = len(raw) // 2
                raw = encode_dss_signature(
                    int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
                )
            else:
                try:
                    decode_dss_signature(raw)
                except ValueError:
                    raise InvalidRequest("supplied signature is invalid") from None
            public.verify(raw, message, ec.ECDSA(Prehashed(options.hash())))
        else:
            assert isinstance(public, rsa.RSAPublicKey)
            pad = _rsa_padding(public, options, signing=False)
            public.verify(raw, message, pad, Prehashed(options.hash()))
    except InvalidSignature:
        return False
    return True


# ---- HMAC -------------------------------------------------------------------------------------


def _hmac(policy: KeyPolicy, number: int, algorithm: str, data: bytes) -> bytes:
    name = _HASHLIB_NAMES.get(algorithm)
    if name is None:
        raise InvalidRequest(f"unsupported algorithm {algorithm[:32]}")
    key = policy.version(number).hmac_secret(policy.type).reveal()
    return std_hmac.new(key, data, name).digest()


def hmac_value(
    policy: KeyPolicy, data: bytes, *, algorithm: str = "sha2-256", version: int = 0
) -> str:
    """``vault:vN:`` + base64 HMAC of ``data`` with the version's HMAC key."""
    number = policy.version_for_use(version, "HMAC")
    return format_versioned(number, _hmac(policy, number, algorithm, data))


def verify_hmac(policy: KeyPolicy, data: bytes, value: str, *, algorithm: str = "sha2-256") -> bool:
    """Constant-time check of a ``vault:vN:`` HMAC."""
    parsed = parse_versioned(value, "HMAC")
    policy.check_readable(parsed.version, "HMAC")
    expected = b64decode(parsed.payload, "unable to decode verification HMAC as base64")
    return constant_time_equal(_hmac(policy, parsed.version, algorithm, data), expected)
