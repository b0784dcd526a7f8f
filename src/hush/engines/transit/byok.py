"""Bring your own key: ``wrapping_key``, ``keys/:name/import`` and ``keys/:name/import_version``.

The scheme is Vault's: the engine has one RSA-4096 wrapping key. A client picks an ephemeral
AES-256 key, wraps it with RSA-OAEP (``hash_function``, SHA-256 by default, for both OAEP and
MGF1), wraps the target key with AES key wrap with padding (RFC 5649, Vault's ``subtle.KWP``)
under the ephemeral key, and sends ``base64(rsa_part(512 bytes) || kwp_part)`` as ``ciphertext``.
Symmetric keys travel as raw bytes, asymmetric keys as PKCS#8 DER. Unwrapping happens only here.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

from hush.barrier.view import LogicalStorage
from hush.core.errors import InvalidRequest, Unsupported
from hush.core.request import Operation, Request, Response
from hush.engines.transit import material
from hush.engines.transit.common import NAME, NAME_FIELD
from hush.engines.transit.keys import KeyPolicy, KeyType, KeyVersion
from hush.engines.transit.store import KeyStore
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["WRAPPING_KEY_PATH", "ByokPaths", "unwrap_key"]

WRAPPING_KEY_PATH: Final = "import/wrapping-key"
_WRAPPED_EPHEMERAL_BYTES: Final = 512  # an RSA-4096 ciphertext
_HASH_FUNCTIONS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "SHA1": hashes.SHA1,
    "SHA224": hashes.SHA224,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


def unwrap_key(wrapping_key: rsa.RSAPrivateKey, blob: bytes, hash_function: str) -> bytes:
    """The target key inside a BYOK ``ciphertext``; any failure is one opaque 400."""
    algorithm = _HASH_FUNCTIONS.get(hash_function.upper())
    if algorithm is None:
        raise InvalidRequest(f"unknown hash function: {hash_function[:16]}")
    if len(blob) <= _WRAPPED_EPHEMERAL_BYTES:
        raise InvalidRequest("provided ciphertext is too short")
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm()), algorithm=algorithm(), label=None)
    try:
        ephemeral = wrapping_key.decrypt(blob[:_WRAPPED_EPHEMERAL_BYTES], oaep)
    except ValueError:
        raise InvalidRequest("failed to unwrap the ephemeral key with the wrapping key") from None
    if len(ephemeral) != 32:
        raise InvalidRequest("expected ephemeral AES key to be 256-bit")
    try:
        return aes_key_unwrap_with_padding(ephemeral, blob[_WRAPPED_EPHEMERAL_BYTES:])
    except (InvalidUnwrap, ValueError):
        raise InvalidRequest("failed to unwrap the imported key") from None


class ByokPaths:
    """The wrapping key and the import endpoints of one transit mount."""

    def __init__(self, store: KeyStore, storage: LogicalStorage) -> None:
        self.store = store
        self._storage = storage
        self._lock = asyncio.Lock()

    def paths(self) -> list[Path]:
        """Declared endpoints, in routing order."""
        wrapped = {
            "name": NAME_FIELD,
            "ciphertext": Field(
                FieldType.STRING,
                "Base64 of the RSA-OAEP wrapped ephemeral key followed by the KWP-wrapped key.",
                sensitive=True,
            ),
            "hash_function": Field(
                FieldType.STRING,
                "OAEP hash: SHA1, SHA224, SHA256 (default), SHA384 or SHA512.",
                default="SHA256",
            ),
            "public_key": Field(FieldType.STRING, "PEM public key (not supported by Hush)."),
        }
        import_fields = {
            **wrapped,
            "type": Field(FieldType.STRING, "Type of the imported key.", default="aes256-gcm96"),
            "derived": Field(FieldType.BOOL, "Derive a key per context."),
            "exportable": Field(FieldType.BOOL, "Allow exporting the key material."),
            "allow_plaintext_backup": Field(FieldType.BOOL, "Allow plaintext backups."),
            "auto_rotate_period": Field(FieldType.DURATION, "Automatic rotation period."),
            "allow_rotation": Field(FieldType.BOOL, "Allow Hush to rotate the imported key."),
            "convergent_encryption": Field(FieldType.BOOL, "Not allowed on import."),
            "context": Field(FieldType.STRING, "Unused; accepted for compatibility."),
        }
        return [
            Path(
                "wrapping_key",
                "The RSA-4096 public key that wraps imported keys.",
                {Operation.READ: OperationSpec(self._read_wrapping_key, "Read it.")},
            ),
            Path(
                f"keys/{NAME}/import",
                "Import an externally generated key as a new key.",
                {Operation.UPDATE: OperationSpec(self._import, "Import a key.")},
                import_fields,
            ),
            Path(
                f"keys/{NAME}/import_version",
                "Import a new version of an imported key.",
                {Operation.UPDATE: OperationSpec(self._import_version, "Import a version.")},
                {**wrapped, "version": Field(FieldType.INT, "Not supported by Hush.")},
            ),
        ]

    async def wrapping_key(self) -> rsa.RSAPrivateKey:
        """The engine's wrapping key, generated (in a thread) on first use."""
        async with self._lock:
            blob = await self._storage.get(WRAPPING_KEY_PATH)
            if blob is None:
                version = await asyncio.to_thread(KeyVersion.generate, KeyType.RSA_4096)
                policy = KeyPolicy.create("wrapping-key", KeyType.RSA_4096, version)
                await self._storage.put(WRAPPING_KEY_PATH, policy.to_bytes())
            else:
                policy = KeyPolicy.from_bytes(blob)
        key = material.load_private(KeyType.RSA_4096, policy.version(policy.latest_version).key)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    async def _read_wrapping_key(self, request: Request, fields: FieldData) -> Response:
        public = (await self.wrapping_key()).public_key()
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return Response(data={"public_key": pem.decode("ascii")})

    async def _unwrapped(self, fields: FieldData, key_type: KeyType) -> KeyVersion:
        if fields.has("public_key"):
            raise Unsupported("importing only a public key is not supported by Hush")
        if not fields.has("ciphertext"):
            raise InvalidRequest("missing ciphertext: the wrapped key to import")
        try:
            blob = base64.b64decode(fields.string("ciphertext"), validate=True)
        except ValueError:
            raise InvalidRequest("ciphertext is not valid base64") from None
        raw = unwrap_key(await self.wrapping_key(), blob, fields.string("hash_function"))
        return KeyVersion.from_import(key_type, raw)

    async def _import(self, request: Request, fields: FieldData) -> None:
        name = fields.string("name")
        if "convergent_encryption" in request.data:
            raise InvalidRequest("import cannot be used on keys with convergent encryption enabled")
        allow_rotation = fields.boolean("allow_rotation")
        period = fields.integer("auto_rotate_period")
        if period > 0 and not allow_rotation:
            raise InvalidRequest("allow_rotation must be set to true if auto-rotation is enabled")
        type_name = fields.string("type").lower()
        if type_name not in {str(t) for t in KeyType}:
            raise InvalidRequest(f"unknown key type: {type_name[:32]}")
        key_type = KeyType(type_name)
        settings = {
            "derived": fields.boolean("derived"),
            "exportable": fields.boolean("exportable"),
            "allow_plaintext_backup": fields.boolean("allow_plaintext_backup"),
            "auto_rotate_period": period,
            "imported": True,
            "allow_imported_key_rotation": allow_rotation,
        }
        KeyPolicy.validate_settings(key_type, settings)
        if await self.store.get(name) is not None:
            raise InvalidRequest(
                "the import path cannot be used with an existing key; use import-version to "
                "rotate an existing imported key"
            )
        version = await self._unwrapped(fields, key_type)
        if key_type is KeyType.HMAC:
            settings["key_size"] = len(version.key)
        async with self.store.lock(name):
            if await self.store.get(name) is not None:
                raise InvalidRequest("the import path cannot be used with an existing key")
            await self.store.put(KeyPolicy.create(name, key_type, version, **settings))

    async def _import_version(self, request: Request, fields: FieldData) -> None:
        name = fields.string("name")
        if fields.has("version"):
            raise Unsupported("updating an existing key version is not supported by Hush")
        policy = await self.store.get(name)
        if policy is None:
            raise InvalidRequest(
                f"no key found with name {name}; to import a new key, use the import/ endpoint"
            )
        if not policy.imported:
            raise InvalidRequest(
                "the import_version endpoint can only be used with an imported key"
            )
        version = await self._unwrapped(fields, policy.type)
        await self.store.update(name, lambda current: current.rotated(version))
