"""KMS cryptographic operations on a transit mount: ``kms/encrypt/<id>``, ``decrypt``,
``datakey``, ``datakeypair``, ``sign``, ``verify``, ``mac``, ``verify-mac`` and ``kms/random``.

Each path names the key by its id, so a Vault policy on ``transit/kms/decrypt/<id>`` decides who
may decrypt with one key (the AWS front end resolves aliases and ARNs to the id first). Every
operation checks the key's state and usage as AWS does before touching the material.
"""

from __future__ import annotations

from typing import Any, Final

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.crypto import random_bytes
from hush.engines.transit import kms_crypto
from hush.engines.transit.keys import KeyPolicy
from hush.engines.transit.kms_common import (
    KEY_ID,
    KEY_ID_FIELD,
    KmsSettings,
    blob_field,
    decode_blob,
    encode_blob,
)
from hush.engines.transit.kms_errors import InvalidMac, InvalidSignature
from hush.engines.transit.kms_model import (
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    SIGN_VERIFY,
    KmsKey,
)
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["KmsDataPaths"]

_CONTEXT: Final = Field(FieldType.MAP, "EncryptionContext: string pairs bound to the ciphertext.")
_ALGORITHM: Final = Field(FieldType.STRING, "EncryptionAlgorithm.", default="SYMMETRIC_DEFAULT")
_DATA_KEY_SPECS: Final = {"AES_256": 32, "AES_128": 16}
_MESSAGE_TYPE: Final = Field(FieldType.STRING, "RAW or DIGEST.", default="RAW")


def _context(fields: FieldData) -> dict[str, Any] | None:
    return fields.mapping("EncryptionContext") if fields.has("EncryptionContext") else None


class KmsDataPaths:
    """The cryptographic endpoints of the KMS layer."""

    def __init__(self, settings: KmsSettings) -> None:
        self.settings = settings
        self.store = settings.store

    def paths(self) -> list[Path]:
        """The declared paths."""
        key = {"KeyId": KEY_ID_FIELD}

        def update(pattern: str, synopsis: str, handler: Any, fields: dict[str, Field]) -> Path:
            return Path(
                pattern,
                synopsis,
                {Operation.UPDATE: OperationSpec(handler, synopsis)},
                fields={**key, **fields},
            )

        message = blob_field("Message (up to 4096 bytes).", sensitive=True)
        return [
            update(
                rf"kms/encrypt/{KEY_ID}",
                "Encrypt up to 4096 bytes (Encrypt).",
                self.encrypt,
                {
                    "Plaintext": blob_field("Plaintext.", sensitive=True),
                    "EncryptionContext": _CONTEXT,
                    "EncryptionAlgorithm": _ALGORITHM,
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                    "Envelope": Field(
                        FieldType.BOOL,
                        "Hush: envelope-encrypt up to 64 KiB (SecureStrings above 4096 bytes).",
                        False,
                    ),
                },
            ),
            update(
                rf"kms/decrypt/{KEY_ID}",
                "Decrypt a ciphertext blob (Decrypt).",
                self.decrypt,
                {
                    "CiphertextBlob": blob_field("CiphertextBlob."),
                    "EncryptionContext": _CONTEXT,
                    "EncryptionAlgorithm": _ALGORITHM,
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                },
            ),
            update(
                rf"kms/datakey/{KEY_ID}",
                "A data key, plain and encrypted (GenerateDataKey[WithoutPlaintext]).",
                self.data_key,
                {
                    "KeySpec": Field(FieldType.STRING, "AES_256 or AES_128."),
                    "NumberOfBytes": Field(FieldType.INT, "1-1024 bytes."),
                    "EncryptionContext": _CONTEXT,
                    "WithoutPlaintext": Field(FieldType.BOOL, "Omit Plaintext.", False),
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                },
            ),
            update(
                rf"kms/datakeypair/{KEY_ID}",
                "A key pair whose private key is encrypted (GenerateDataKeyPair[...]).",
                self.data_key_pair,
                {
                    "KeyPairSpec": Field(FieldType.STRING, "RSA_2048 .. ECC_NIST_P521."),
                    "EncryptionContext": _CONTEXT,
                    "WithoutPlaintext": Field(FieldType.BOOL, "Omit the plain private key.", False),
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                },
            ),
            update(
                rf"kms/sign/{KEY_ID}",
                "Sign a message or digest (Sign).",
                self.sign,
                {
                    "Message": message,
                    "MessageType": _MESSAGE_TYPE,
                    "SigningAlgorithm": Field(FieldType.STRING, "Signing algorithm."),
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                },
            ),
            update(
                rf"kms/verify/{KEY_ID}",
                "Verify a signature (Verify).",
                self.verify,
                {
                    "Message": message,
                    "MessageType": _MESSAGE_TYPE,
                    "Signature": blob_field("Signature."),
                    "SigningAlgorithm": Field(FieldType.STRING, "Signing algorithm."),
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                },
            ),
            update(
                rf"kms/mac/{KEY_ID}",
                "HMAC of a message (GenerateMac).",
                self.mac,
                {
                    "Message": message,
                    "MacAlgorithm": Field(FieldType.STRING, "HMAC_SHA_256/384/512."),
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                },
            ),
            update(
                rf"kms/verify-mac/{KEY_ID}",
                "Check an HMAC (VerifyMac).",
                self.verify_mac,
                {
                    "Message": message,
                    "Mac": blob_field("Mac."),
                    "MacAlgorithm": Field(FieldType.STRING, "HMAC_SHA_256/384/512."),
                    "GrantTokens": Field(FieldType.RAW, "Ignored."),
                },
            ),
            Path(
                r"kms/random",
                "Random bytes (GenerateRandom).",
                {Operation.UPDATE: OperationSpec(self.random, "Random bytes.")},
                fields={
                    "NumberOfBytes": Field(FieldType.INT, "1-1024 bytes."),
                    "CustomKeyStoreId": Field(FieldType.STRING, "Not supported."),
                },
            ),
        ]

    async def _usable(self, fields: FieldData, usage: str) -> tuple[KmsKey, KeyPolicy]:
        key = await self.store.require(fields.string("KeyId"))
        key.require_usable()
        key.require_usage(usage)
        return key, await self.store.material(key)

    def _arn(self, key: KmsKey) -> str:
        return self.settings.arn(key)

    async def encrypt(self, request: Request, fields: FieldData) -> Response:
        """Encrypt."""
        key, policy = await self._usable(fields, ENCRYPT_DECRYPT)
        envelope = fields.boolean("Envelope")
        plaintext = decode_blob(
            fields.raw("Plaintext"), "Plaintext", minimum=1, maximum=65536 if envelope else 4096
        )
        algorithm = fields.string("EncryptionAlgorithm")
        if envelope:
            key.require_algorithm("EncryptionAlgorithms", algorithm)
            if algorithm != "SYMMETRIC_DEFAULT":
                raise InvalidRequest("Envelope encryption needs a SYMMETRIC_DEFAULT key")
            blob = kms_crypto.encrypt_envelope(key, policy, plaintext, _context(fields))
        else:
            blob = kms_crypto.encrypt(key, policy, plaintext, _context(fields), algorithm)
        return Response(
            data={
                "CiphertextBlob": encode_blob(blob),
                "KeyId": self._arn(key),
                "EncryptionAlgorithm": algorithm,
            }
        )

    async def decrypt(self, request: Request, fields: FieldData) -> Response:
        """Decrypt."""
        key, policy = await self._usable(fields, ENCRYPT_DECRYPT)
        blob = decode_blob(fields.raw("CiphertextBlob"), "CiphertextBlob", minimum=1, maximum=70000)
        algorithm = fields.string("EncryptionAlgorithm")
        plaintext = kms_crypto.decrypt(key, policy, blob, _context(fields), algorithm)
        return Response(
            data={
                "Plaintext": encode_blob(plaintext),
                "KeyId": self._arn(key),
                "EncryptionAlgorithm": algorithm,
            }
        )

    async def data_key(self, request: Request, fields: FieldData) -> Response:
        """GenerateDataKey and GenerateDataKeyWithoutPlaintext."""
        key, policy = await self._usable(fields, ENCRYPT_DECRYPT)
        if key.spec != "SYMMETRIC_DEFAULT":
            raise InvalidRequest(f"{key.arn_suffix} key spec must be SYMMETRIC_DEFAULT")
        spec, count = fields.string("KeySpec"), fields.integer("NumberOfBytes")
        if bool(spec) == fields.has("NumberOfBytes"):
            raise InvalidRequest("Please specify either number of bytes or key spec.")
        if spec:
            if spec not in _DATA_KEY_SPECS:
                raise InvalidRequest(
                    "1 validation error detected: Value at 'keySpec' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                )
            count = _DATA_KEY_SPECS[spec]
        _check_count(count)
        plain = random_bytes(count)
        blob = kms_crypto.encrypt(key, policy, plain, _context(fields))
        data = {"CiphertextBlob": encode_blob(blob), "KeyId": self._arn(key)}
        if not fields.boolean("WithoutPlaintext"):
            data["Plaintext"] = encode_blob(plain)
        return Response(data=data)

    async def data_key_pair(self, request: Request, fields: FieldData) -> Response:
        """GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext."""
        key, policy = await self._usable(fields, ENCRYPT_DECRYPT)
        if key.spec != "SYMMETRIC_DEFAULT":
            raise InvalidRequest(f"{key.arn_suffix} key spec must be SYMMETRIC_DEFAULT")
        spec = fields.string("KeyPairSpec")
        private, public = kms_crypto.generate_key_pair(spec)
        blob = kms_crypto.encrypt(key, policy, private, _context(fields))
        data = {
            "PrivateKeyCiphertextBlob": encode_blob(blob),
            "PublicKey": encode_blob(public),
            "KeyId": self._arn(key),
            "KeyPairSpec": spec,
        }
        if not fields.boolean("WithoutPlaintext"):
            data["PrivateKeyPlaintext"] = encode_blob(private)
        return Response(data=data)

    async def sign(self, request: Request, fields: FieldData) -> Response:
        """Sign."""
        key, policy = await self._usable(fields, SIGN_VERIFY)
        message = decode_blob(fields.raw("Message"), "Message", minimum=1, maximum=4096)
        algorithm = fields.string("SigningAlgorithm")
        signature = kms_crypto.sign(key, policy, message, fields.string("MessageType"), algorithm)
        return Response(
            data={
                "KeyId": self._arn(key),
                "Signature": encode_blob(signature),
                "SigningAlgorithm": algorithm,
            }
        )

    async def verify(self, request: Request, fields: FieldData) -> Response:
        """Verify (an invalid signature is ``KMSInvalidSignatureException``, as AWS)."""
        key, policy = await self._usable(fields, SIGN_VERIFY)
        message = decode_blob(fields.raw("Message"), "Message", minimum=1, maximum=4096)
        signature = decode_blob(fields.raw("Signature"), "Signature", minimum=1, maximum=6144)
        algorithm = fields.string("SigningAlgorithm")
        valid = kms_crypto.verify(
            key, policy, message, signature, fields.string("MessageType"), algorithm
        )
        if not valid:
            raise InvalidSignature("")
        return Response(
            data={"KeyId": self._arn(key), "SignatureValid": True, "SigningAlgorithm": algorithm}
        )

    async def mac(self, request: Request, fields: FieldData) -> Response:
        """GenerateMac."""
        key, policy = await self._usable(fields, GENERATE_VERIFY_MAC)
        message = decode_blob(fields.raw("Message"), "Message", minimum=1, maximum=4096)
        algorithm = fields.string("MacAlgorithm")
        tag = kms_crypto.mac(key, policy, message, algorithm)
        return Response(
            data={"Mac": encode_blob(tag), "MacAlgorithm": algorithm, "KeyId": self._arn(key)}
        )

    async def verify_mac(self, request: Request, fields: FieldData) -> Response:
        """VerifyMac (a wrong MAC is ``KMSInvalidMacException``, as AWS)."""
        key, policy = await self._usable(fields, GENERATE_VERIFY_MAC)
        message = decode_blob(fields.raw("Message"), "Message", minimum=1, maximum=4096)
        tag = decode_blob(fields.raw("Mac"), "Mac", minimum=1, maximum=6144)
        algorithm = fields.string("MacAlgorithm")
        if not kms_crypto.verify_mac(key, policy, message, tag, algorithm):
            raise InvalidMac("")
        return Response(data={"KeyId": self._arn(key), "MacValid": True, "MacAlgorithm": algorithm})

    async def random(self, request: Request, fields: FieldData) -> Response:
        """GenerateRandom."""
        if fields.string("CustomKeyStoreId"):
            raise InvalidRequest("Custom key stores are not supported by Hush")
        count = fields.integer("NumberOfBytes") if fields.has("NumberOfBytes") else 0
        _check_count(count)
        return Response(data={"Plaintext": encode_blob(random_bytes(count))})


def _check_count(count: int) -> None:
    if not 1 <= count <= 1024:
        raise InvalidRequest(
            "1 validation error detected: Value at 'numberOfBytes' failed to satisfy "
            "constraint: Member must have value between 1 and 1024"
        )
