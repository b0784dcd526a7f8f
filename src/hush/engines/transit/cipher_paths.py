"""Endpoints that encrypt: ``encrypt/``, ``decrypt/``, ``rewrap/`` and ``datakey/``.

Shapes and messages are Vault's (``path_encrypt.go`` and friends). One item and a batch share one
code path: a single request is a batch of one whose error becomes the whole answer's 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.crypto import random_bytes
from hush.engines.transit import crypto_ops
from hush.engines.transit.batch import (
    BATCH_FIELD,
    PARTIAL_FAILURE_FIELD,
    batch_items,
    batch_response,
    item_int,
    item_string,
)
from hush.engines.transit.ciphertext import b64decode_input, b64encode
from hush.engines.transit.common import (
    CONTEXT_FIELD,
    KEY_VERSION_FIELD,
    NAME,
    NAME_FIELD,
    decode_context,
)
from hush.engines.transit.keys import KeyPolicy, KeyType
from hush.engines.transit.store import KeyStore, generate_version
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["CipherPaths"]

_UPSERT_TYPES = frozenset(
    {KeyType.AES128_GCM96, KeyType.AES256_GCM96, KeyType.CHACHA20_POLY1305}
) | {KeyType.RSA_2048, KeyType.RSA_3072, KeyType.RSA_4096}
_NONCE_FIELD = Field(FieldType.STRING, "Base64 nonce; only Vault's v1 convergent keys take one.")
_AAD_FIELD = Field(FieldType.STRING, "Base64 associated data authenticated by AEAD ciphers.")
_MIXED_CONTEXT = "context should be set either in all the request blocks or in none"


@dataclass(frozen=True, slots=True)
class _Item:
    """One unit of work of an encrypt-family request (single or batch)."""

    text: str  # plaintext for encrypt, ciphertext for decrypt and rewrap
    context: str = ""
    nonce: str = ""
    key_version: int = 0
    associated_data: str = ""
    reference: str = ""


def _items(
    fields: FieldData, text_field: str, missing: str, *, aad: bool = True
) -> tuple[list[_Item], bool]:
    raw = batch_items(fields.raw("batch_input"))
    if raw is None:
        # Vault encrypts an empty plaintext, but an empty ciphertext is "missing".
        if not fields.has(text_field) or (
            text_field == "ciphertext" and not fields.string(text_field)
        ):
            raise InvalidRequest(missing)
        single = _Item(
            fields.string(text_field),
            fields.string("context"),
            fields.string("nonce"),
            fields.integer("key_version"),
            fields.string("associated_data") if aad else "",
        )
        return [single], False
    absent = [i for i, item in enumerate(raw) if item.get(text_field) is None]
    if absent:
        raise InvalidRequest(f"failed to parse batch input: '[{absent[0]}].{text_field}' {missing}")
    items = [_parse_item(item, i, text_field) for i, item in enumerate(raw)]
    context_set = bool(items[0].context)
    if any(bool(item.context) != context_set for item in items):
        raise InvalidRequest(_MIXED_CONTEXT)
    return items, True


def _parse_item(item: Mapping[str, Any], index: int, text_field: str) -> _Item:
    return _Item(
        item_string(item, index, text_field),
        item_string(item, index, "context"),
        item_string(item, index, "nonce"),
        item_int(item, index, "key_version"),
        item_string(item, index, "associated_data"),
        item_string(item, index, "reference"),
    )


def _answer(
    results: list[dict[str, Any]], batched: bool, fields: FieldData, warnings: Sequence[str] = ()
) -> Response:
    if batched:
        code = fields.integer("partial_failure_response_code")
        response = batch_response(
            results,
            partial_failure_code=code if fields.has("partial_failure_response_code") else None,
        )
    else:
        if results[0].get("error"):
            raise InvalidRequest(results[0]["error"])
        single = {k: v for k, v in results[0].items() if k not in ("error", "reference")}
        response = Response(data=single)
    response.warnings.extend(warnings)
    return response


class CipherPaths:
    """The encrypt-family endpoints of one transit mount."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        """Declared endpoints, in routing order."""
        common = {
            "name": NAME_FIELD,
            "context": CONTEXT_FIELD,
            "nonce": _NONCE_FIELD,
            "key_version": KEY_VERSION_FIELD,
            "batch_input": BATCH_FIELD,
            "partial_failure_response_code": PARTIAL_FAILURE_FIELD,
        }
        encrypt_fields = {
            **common,
            "associated_data": _AAD_FIELD,
            "plaintext": Field(FieldType.STRING, "Base64 plaintext to encrypt.", sensitive=True),
            "type": Field(
                FieldType.STRING,
                "Type of key to create if it does not exist.",
                default="aes256-gcm96",
            ),
            "convergent_encryption": Field(
                FieldType.BOOL, "Create the key with convergent encryption (needs a context)."
            ),
            "padding_scheme": Field(FieldType.STRING, "RSA padding; only 'oaep' is supported."),
        }
        ciphertext = Field(FieldType.STRING, "The vault:v<N>: ciphertext.")
        return [
            Path(
                f"encrypt/{NAME}",
                "Encrypt a plaintext or a batch with a named key.",
                {
                    Operation.CREATE: OperationSpec(
                        self._encrypt_upsert, "Encrypt, creating the key."
                    ),
                    Operation.UPDATE: OperationSpec(self._encrypt, "Encrypt with an existing key."),
                },
                encrypt_fields,
                exists=self._exists,
            ),
            Path(
                f"decrypt/{NAME}",
                "Decrypt a ciphertext or a batch with a named key.",
                {Operation.UPDATE: OperationSpec(self._decrypt, "Decrypt.")},
                {
                    **common,
                    "ciphertext": ciphertext,
                    "associated_data": _AAD_FIELD,
                    "padding_scheme": Field(FieldType.STRING, "RSA padding; only 'oaep'."),
                },
            ),
            Path(
                f"rewrap/{NAME}",
                "Re-encrypt ciphertexts with the latest (or a given) key version.",
                {Operation.UPDATE: OperationSpec(self._rewrap, "Rewrap.")},
                {**common, "ciphertext": ciphertext},
            ),
            Path(
                rf"datakey/(?P<plaintext>\w[\w.@-]*)/{NAME}",
                "Generate a data key, returned wrapped (and in plaintext for 'plaintext').",
                {Operation.UPDATE: OperationSpec(self._datakey, "Generate a data key.")},
                {
                    "name": NAME_FIELD,
                    "context": CONTEXT_FIELD,
                    "nonce": _NONCE_FIELD,
                    "key_version": KEY_VERSION_FIELD,
                    "plaintext": Field(FieldType.STRING, "'plaintext' or 'wrapped'."),
                    "bits": Field(FieldType.INT, "Data key length: 128, 256 or 512.", default=256),
                },
            ),
        ]

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        return await self.store.get(fields.string("name")) is not None

    async def _encrypt_upsert(self, request: Request, fields: FieldData) -> Response:
        return await self._encrypt(request, fields, upsert=True)

    async def _encrypt(
        self, request: Request, fields: FieldData, *, upsert: bool = False
    ) -> Response:
        items, batched = _items(fields, "plaintext", "missing plaintext to encrypt")
        warnings: list[str] = []
        policy = await self.store.get(fields.string("name"))
        if policy is None and upsert:
            policy, created = await self._upsert(fields, bool(items[0].context))
            if not created:
                warnings.append(
                    "Attempted creation of the key during the encrypt operation, "
                    "but it was created beforehand"
                )
        if policy is None:
            raise InvalidRequest("encryption key not found")
        results = [_encrypt_item(policy, item) for item in items]
        return _answer(results, batched, fields, warnings)

    async def _upsert(self, fields: FieldData, context_set: bool) -> tuple[KeyPolicy, bool]:
        name = fields.string("name")
        convergent = fields.boolean("convergent_encryption")
        if convergent and not context_set:
            raise InvalidRequest(
                "convergent encryption requires derivation to be enabled, so context is required"
            )
        if (await self.store.config("keys")).get("disable_upsert"):
            raise InvalidRequest("encryption key not found")
        type_name = fields.string("type")
        if type_name in ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521"):
            raise InvalidRequest(f"key type {type_name} not supported for this operation")
        if type_name not in _UPSERT_TYPES:
            raise InvalidRequest(f"unknown key type {type_name[:64]}")
        key_type = KeyType(type_name)
        first = await generate_version(key_type)
        async with self.store.lock(name):
            existing = await self.store.get(name)
            if existing is not None:
                return existing, False
            policy = KeyPolicy.create(
                name, key_type, first, derived=context_set, convergent_encryption=convergent
            )
            await self.store.put(policy)
            return policy, True

    async def _decrypt(self, request: Request, fields: FieldData) -> Response:
        items, batched = _items(fields, "ciphertext", "missing ciphertext to decrypt")
        policy = await self.store.require(fields.string("name"))
        return _answer([_decrypt_item(policy, item) for item in items], batched, fields)

    async def _rewrap(self, request: Request, fields: FieldData) -> Response:
        items, batched = _items(fields, "ciphertext", "missing ciphertext to decrypt", aad=False)
        policy = await self.store.require(fields.string("name"))
        return _answer([_rewrap_item(policy, item) for item in items], batched, fields)

    async def _datakey(self, request: Request, fields: FieldData) -> Response:
        kind = fields.string("plaintext")
        if kind not in ("plaintext", "wrapped"):
            raise InvalidRequest("Invalid path, must be 'plaintext' or 'wrapped'")
        bits = fields.integer("bits")
        if bits not in (128, 256, 512):
            raise InvalidRequest("invalid bit length")
        policy = await self.store.require(fields.string("name"))
        context = decode_context(fields.string("context"))
        policy.require_context(context)
        data_key = random_bytes(bits // 8)
        ciphertext, version = crypto_ops.encrypt(
            policy,
            data_key,
            context=context,
            version=fields.integer("key_version"),
            nonce=b64decode_input(fields.string("nonce")),
        )
        data: dict[str, Any] = {"ciphertext": ciphertext, "key_version": version}
        if kind == "plaintext":
            data["plaintext"] = b64encode(data_key)
        return Response(data=data)


def _encrypt_item(policy: KeyPolicy, item: _Item) -> dict[str, Any]:
    try:
        plaintext = b64decode_input(item.text)
        context = decode_context(item.context)
        policy.require_context(context)
        ciphertext, version = crypto_ops.encrypt(
            policy,
            plaintext,
            context=context,
            version=item.key_version,
            associated_data=b64decode_input(item.associated_data) if item.associated_data else None,
            nonce=b64decode_input(item.nonce),
        )
    except InvalidRequest as exc:
        return {"error": exc.message, "reference": item.reference}
    return {"ciphertext": ciphertext, "key_version": version, "reference": item.reference}


def _decrypt_item(policy: KeyPolicy, item: _Item) -> dict[str, Any]:
    try:
        if not item.text:
            raise InvalidRequest("missing ciphertext to decrypt")
        context = decode_context(item.context)
        policy.require_context(context)
        plaintext = crypto_ops.decrypt(
            policy,
            item.text,
            context=context,
            associated_data=b64decode_input(item.associated_data) if item.associated_data else None,
        )
    except InvalidRequest as exc:
        return {"plaintext": "", "error": exc.message, "reference": item.reference}
    return {"plaintext": b64encode(plaintext), "reference": item.reference}


def _rewrap_item(policy: KeyPolicy, item: _Item) -> dict[str, Any]:
    try:
        if not item.text:
            raise InvalidRequest("missing ciphertext to decrypt")
        context = decode_context(item.context)
        policy.require_context(context)
        plaintext = crypto_ops.decrypt(policy, item.text, context=context)
        ciphertext, version = crypto_ops.encrypt(
            policy, plaintext, context=context, version=item.key_version
        )
    except InvalidRequest as exc:
        return {"error": exc.message, "reference": item.reference}
    return {"ciphertext": ciphertext, "key_version": version, "reference": item.reference}
