"""Key management endpoints: ``keys/``, ``keys/:name/{config,rotate,trim}``, ``export/``,
``backup/`` and ``restore/``, with Vault's shapes, rules and messages (``path_keys.go`` and
neighbours).
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import orjson

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response, list_response
from hush.engines.transit import material
from hush.engines.transit.common import CONTEXT_FIELD, NAME, NAME_FIELD, decode_context
from hush.engines.transit.keys import KeyPolicy, KeyType, check_rotate_period, rfc3339
from hush.engines.transit.store import KeyStore, generate_version
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["BACKUP_FORMAT", "KeyPaths"]

BACKUP_FORMAT = "hush-transit-backup-v1"
_EXPORT_TYPES = ("encryption-key", "signing-key", "hmac-key", "public-key")
_ROTATE_FIELD = Field(FieldType.DURATION, "Rotate automatically this often (0 disables; >= 1h).")


def _key_response(policy: KeyPolicy, context: bytes = b"", warning: str = "") -> Response:
    response = Response(data=policy.read_data(context))
    if warning:
        response.warnings.append(warning)
    return response


def _export_one(policy: KeyPolicy, number: int, export_type: str) -> str:
    entry = policy.versions[number]
    if export_type == "hmac-key":
        return base64.b64encode(entry.hmac_secret(policy.type).reveal()).decode("ascii")
    if export_type == "encryption-key":
        return material.export_encryption_key(policy.type, entry.key)
    if export_type == "signing-key":
        return material.export_signing_key(policy.type, entry.key)
    if not policy.type.is_asymmetric:
        raise InvalidRequest(f"unknown key type {policy.type} for export type {export_type}")
    return material.export_public_key(policy.type, entry.public_key, entry.key)


class KeyPaths:
    """Creating, reading, configuring, rotating, exporting and backing up named keys."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        """Declared endpoints, in routing order."""
        create_fields = {
            "name": NAME_FIELD,
            "context": CONTEXT_FIELD,
            "type": Field(
                FieldType.STRING,
                "Key type.",
                default="aes256-gcm96",
                allowed=tuple(str(t) for t in KeyType),
            ),
            "derived": Field(FieldType.BOOL, "Derive a key per context (HKDF-SHA256)."),
            "convergent_encryption": Field(FieldType.BOOL, "Deterministic encryption per context."),
            "exportable": Field(FieldType.BOOL, "Allow exporting the key material."),
            "allow_plaintext_backup": Field(FieldType.BOOL, "Allow plaintext backups (permanent)."),
            "auto_rotate_period": _ROTATE_FIELD,
            "key_size": Field(FieldType.INT, "HMAC key size in bytes (32 to 512).", default=0),
        }
        config_fields = {
            "name": NAME_FIELD,
            "min_decryption_version": Field(FieldType.INT, "Oldest version that may decrypt."),
            "min_encryption_version": Field(FieldType.INT, "Oldest version that may encrypt."),
            "deletion_allowed": Field(FieldType.BOOL, "Allow deleting the key."),
            "exportable": Field(FieldType.BOOL, "Allow export (cannot be unset)."),
            "allow_plaintext_backup": Field(FieldType.BOOL, "Allow backup (cannot be unset)."),
            "auto_rotate_period": _ROTATE_FIELD,
        }
        export_fields = {
            "name": NAME_FIELD,
            "type": Field(FieldType.STRING, "encryption-key, signing-key, hmac-key or public-key."),
            "version": Field(FieldType.STRING, "Version to export: a number or 'latest'."),
        }
        export = {Operation.READ: OperationSpec(self._export, "Export key material.")}
        restore_fields = {
            "name": NAME_FIELD,
            "backup": Field(FieldType.STRING, "Output of backup/:name.", sensitive=True),
            "force": Field(FieldType.BOOL, "Overwrite an existing key of the same name."),
        }
        restore = {Operation.UPDATE: OperationSpec(self._restore, "Restore a key from a backup.")}
        return [
            Path(
                "keys/?",
                "List the named keys.",
                {Operation.LIST: OperationSpec(self._list, "List keys.")},
            ),
            Path(
                f"keys/{NAME}",
                "Create, read or delete a named key.",
                {
                    Operation.UPDATE: OperationSpec(self._create, "Create a key."),
                    Operation.READ: OperationSpec(self._read, "Read a key."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a key."),
                },
                create_fields,
            ),
            Path(
                f"keys/{NAME}/config",
                "Configure a named key.",
                {Operation.UPDATE: OperationSpec(self._configure, "Configure a key.")},
                config_fields,
            ),
            Path(
                f"keys/{NAME}/rotate",
                "Rotate a named key.",
                {Operation.UPDATE: OperationSpec(self._rotate, "Add a key version.")},
                {"name": NAME_FIELD},
            ),
            Path(
                f"keys/{NAME}/trim",
                "Delete key versions below a minimum.",
                {Operation.UPDATE: OperationSpec(self._trim, "Trim old versions.")},
                {
                    "name": NAME_FIELD,
                    "min_available_version": Field(
                        FieldType.INT, "Oldest version to keep.", required=True
                    ),
                },
            ),
            Path(rf"export/(?P<type>[\w-]+)/{NAME}", "Export a key.", export, export_fields),
            Path(
                rf"export/(?P<type>[\w-]+)/{NAME}/(?P<version>\w+)",
                "Export a key version.",
                export,
                export_fields,
            ),
            Path(
                f"backup/{NAME}",
                "Back up a key in plaintext.",
                {Operation.READ: OperationSpec(self._backup, "Back up a key.")},
                {"name": NAME_FIELD},
            ),
            Path("restore", "Restore a key from a backup.", restore, restore_fields),
            Path(f"restore/{NAME}", "Restore a key under a name.", restore, restore_fields),
        ]

    async def _list(self, request: Request, fields: FieldData) -> Response:
        return list_response(await self.store.names())

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        policy = await self.store.get(fields.string("name"))
        if policy is None:
            return None
        context = decode_context(fields.string("context"))
        return _key_response(policy, context)

    async def _create(self, request: Request, fields: FieldData) -> Response:
        name = fields.string("name")
        key_type = KeyType(fields.string("type"))
        key_size = KeyPolicy.check_type_settings(key_type, fields.integer("key_size"))
        settings: dict[str, Any] = {
            "derived": fields.boolean("derived"),
            "convergent_encryption": fields.boolean("convergent_encryption"),
            "exportable": fields.boolean("exportable"),
            "allow_plaintext_backup": fields.boolean("allow_plaintext_backup"),
            "auto_rotate_period": fields.integer("auto_rotate_period"),
            "key_size": key_size,
        }
        existing = await self.store.get(name)
        if existing is not None:
            return _key_response(existing, warning=f"key {name} already existed")
        KeyPolicy.validate_settings(key_type, settings)
        first = await generate_version(key_type, key_size)
        async with self.store.lock(name):
            existing = await self.store.get(name)
            if existing is not None:
                return _key_response(existing, warning=f"key {name} already existed")
            policy = KeyPolicy.create(name, key_type, first, **settings)
            await self.store.put(policy)
        return _key_response(policy)

    async def _delete(self, request: Request, fields: FieldData) -> None:
        name = fields.string("name")
        async with self.store.lock(name):
            policy = await self.store.get(name)
            if policy is None:
                raise InvalidRequest(
                    f"error deleting policy {name}: could not delete key; not found"
                )
            if not policy.deletion_allowed:
                raise InvalidRequest(
                    f"error deleting policy {name}: deletion is not allowed for this policy"
                )
            await self.store.delete(name)

    async def _configure(self, request: Request, fields: FieldData) -> Response:
        warnings: list[str] = []

        def change(policy: KeyPolicy) -> KeyPolicy:
            updates: dict[str, Any] = {}
            if fields.has("min_decryption_version"):
                value = fields.integer("min_decryption_version")
                if value < 0:
                    raise InvalidRequest("min decryption version cannot be negative")
                if value == 0:
                    value = 1
                    warnings.append(
                        "since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1"
                    )
                if value > policy.latest_version:
                    raise InvalidRequest(
                        f"cannot set min decryption version of {value}, "
                        f"latest key version is {policy.latest_version}"
                    )
                if value < policy.min_available_version:
                    raise InvalidRequest(
                        f"cannot set min decryption version of {value} below "
                        f"min available version {policy.min_available_version}"
                    )
                updates["min_decryption_version"] = value
            if fields.has("min_encryption_version"):
                value = fields.integer("min_encryption_version")
                if value < 0:
                    raise InvalidRequest("min encryption version cannot be negative")
                if value > policy.latest_version:
                    raise InvalidRequest(
                        f"cannot set min encryption version of {value}, "
                        f"latest key version is {policy.latest_version}"
                    )
                updates["min_encryption_version"] = value
            decrypt_min = updates.get("min_decryption_version", policy.min_decryption_version)
            encrypt_min = updates.get("min_encryption_version", policy.min_encryption_version)
            if encrypt_min > 0 and encrypt_min < decrypt_min:
                raise InvalidRequest(
                    f"cannot set min encryption/decryption values; min encryption version of "
                    f"{encrypt_min} must be greater than or equal to min decryption version of "
                    f"{decrypt_min}"
                )
            if fields.has("deletion_allowed"):
                updates["deletion_allowed"] = fields.boolean("deletion_allowed")
            # Vault: exportable and allow_plaintext_backup can be set but never unset again.
            for flag in ("exportable", "allow_plaintext_backup"):
                if fields.has(flag) and fields.boolean(flag):
                    updates[flag] = True
            if fields.has("auto_rotate_period"):
                period = check_rotate_period(fields.integer("auto_rotate_period"))
                updates["auto_rotate_period"] = period
            return policy.configured(**updates)

        policy = await self.store.update(fields.string("name"), change)
        response = _key_response(policy)
        response.warnings.extend(warnings)
        return response

    async def _rotate(self, request: Request, fields: FieldData) -> Response:
        name = fields.string("name")
        current = await self.store.require(name)
        current.ensure_rotatable()
        new = await generate_version(current.type, current.key_size)

        def change(policy: KeyPolicy) -> KeyPolicy:
            policy.ensure_rotatable()
            return policy.rotated(new)

        return _key_response(await self.store.update(name, change))

    async def _trim(self, request: Request, fields: FieldData) -> Response:
        minimum = fields.integer("min_available_version")
        policy = await self.store.update(fields.string("name"), lambda p: p.trimmed(minimum))
        return _key_response(policy)

    async def _export(self, request: Request, fields: FieldData) -> Response | None:
        export_type = fields.string("type")
        if export_type not in _EXPORT_TYPES:
            raise InvalidRequest(f"invalid export type: {export_type[:32]}")
        policy = await self.store.get(fields.string("name"))
        if policy is None:
            return None
        if not policy.exportable and export_type != "public-key":
            raise InvalidRequest("private key material is not exportable")
        if export_type == "encryption-key" and not policy.type.supports_encryption:
            raise InvalidRequest("encryption not supported for the key")
        if export_type == "signing-key" and not policy.type.supports_signing:
            raise InvalidRequest("signing not supported for the key")
        numbers = sorted(policy.versions)
        version = fields.string("version")
        if version:
            text = version.removeprefix("v")
            if version == "latest":
                number = policy.latest_version
            elif text.isascii() and text.isdigit() and len(text) < 10:
                number = int(text)
            else:
                raise InvalidRequest("invalid key version")
            if number < policy.min_decryption_version:
                raise InvalidRequest("version for export is below minimum decryption version")
            if number not in policy.versions:
                raise InvalidRequest("version does not exist or cannot be found")
            numbers = [number]
        keys = {str(n): _export_one(policy, n, export_type) for n in numbers}
        return Response(data={"name": policy.name, "type": str(policy.type), "keys": keys})

    async def _backup(self, request: Request, fields: FieldData) -> Response:
        name = fields.string("name")

        def record(policy: KeyPolicy) -> KeyPolicy:
            if not policy.exportable:
                raise InvalidRequest("exporting is disallowed on the policy")
            if not policy.allow_plaintext_backup:
                raise InvalidRequest("plaintext backup is disallowed on the policy")
            info = {"time": rfc3339(time.time()), "version": policy.latest_version}
            return policy.configured(backup_info=info)

        policy = await self.store.update(name, record, f"key {name!r} not found")
        document = {"format": BACKUP_FORMAT, "policy": policy.to_json()}
        return Response(data={"backup": base64.b64encode(orjson.dumps(document)).decode("ascii")})

    async def _restore(self, request: Request, fields: FieldData) -> None:
        try:
            document = orjson.loads(base64.b64decode(fields.string("backup"), validate=True))
            if document.get("format") != BACKUP_FORMAT:
                raise ValueError("unknown format")
            restored = KeyPolicy.from_json(document["policy"])
            for entry in restored.versions.values():
                material.check_stored(restored.type, entry.key, entry.public_key)
                if len(entry.hmac_key) < 16:
                    raise ValueError("malformed HMAC key")
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise InvalidRequest("failed to restore the key: the backup is not valid") from None
        name = fields.string("name") or restored.name
        if not name or "/" in name:
            raise InvalidRequest("invalid key name in the backup")
        async with self.store.lock(name):
            if await self.store.get(name) is not None and not fields.boolean("force"):
                raise InvalidRequest(f"key {name!r} already exists")
            info = {"time": rfc3339(time.time()), "version": restored.latest_version}
            await self.store.put(restored.configured(name=name, restore_info=info))
