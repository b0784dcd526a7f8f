"""Keyless helpers and engine settings: ``random``, ``hash``, ``cache-config``, ``config/keys``."""

from __future__ import annotations

from typing import Final

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.crypto import random_bytes
from hush.engines.transit import crypto_ops
from hush.engines.transit.ciphertext import b64decode_input, b64encode
from hush.engines.transit.store import KeyStore
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["MAX_RANDOM_BYTES", "UtilityPaths"]

MAX_RANDOM_BYTES: Final = 128 * 1024  # Vault's random.APIMaxBytes
_SOURCES: Final = ("platform", "seal", "all")  # Hush has one entropy source: the OS CSPRNG


def _encode(data: bytes, output_format: str) -> str:
    if output_format == "hex":
        return data.hex()
    if output_format == "base64":
        return b64encode(data)
    raise InvalidRequest(
        f'unsupported encoding format {output_format[:16]}; must be "hex" or "base64"'
    )


class UtilityPaths:
    """Random bytes, hashing and the engine's own settings."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        """Declared endpoints, in routing order."""
        random_fields = {
            "source": Field(
                FieldType.STRING, "Entropy source: platform, seal or all.", default="platform"
            ),
            "urlbytes": Field(FieldType.STRING, "Number of bytes (URL)."),
            "bytes": Field(FieldType.INT, "Number of bytes to return.", default=32),
            "format": Field(FieldType.STRING, "Output encoding: base64 or hex.", default="base64"),
        }
        random_ops = {Operation.UPDATE: OperationSpec(self._random, "Generate random bytes.")}
        hash_fields = {
            "urlalgorithm": Field(FieldType.STRING, "Hash algorithm (URL)."),
            "algorithm": Field(FieldType.STRING, "Hash algorithm.", default="sha2-256"),
            "input": Field(FieldType.STRING, "Base64 input data.", sensitive=True),
            "format": Field(FieldType.STRING, "Output encoding: hex or base64.", default="hex"),
        }
        hash_ops = {Operation.UPDATE: OperationSpec(self._hash, "Hash data.")}
        size = {"size": Field(FieldType.INT, "Number of keys to cache (0: unlimited).", default=0)}
        upsert = {"disable_upsert": Field(FieldType.BOOL, "Refuse to create keys on encrypt.")}
        return [
            Path("random", "Generate random bytes.", random_ops, random_fields),
            Path(r"random/(?P<source>[\w-]+)", "Generate random bytes.", random_ops, random_fields),
            Path(
                r"random/(?P<source>[\w-]+)/(?P<urlbytes>[\w-]+)",
                "Generate random bytes.",
                random_ops,
                random_fields,
            ),
            Path("hash", "Hash data.", hash_ops, hash_fields),
            Path(r"hash/(?P<urlalgorithm>[\w-]+)", "Hash data.", hash_ops, hash_fields),
            Path(
                "cache-config",
                "Configure the key cache size (stored; Hush caches every key).",
                {
                    Operation.READ: OperationSpec(self._read_cache, "Read the cache size."),
                    Operation.UPDATE: OperationSpec(self._write_cache, "Set the cache size."),
                },
                size,
            ),
            Path(
                "config/keys",
                "Engine-wide key settings.",
                {
                    Operation.READ: OperationSpec(self._read_keys_config, "Read the settings."),
                    Operation.UPDATE: OperationSpec(self._write_keys_config, "Change them."),
                },
                upsert,
            ),
        ]

    async def _random(self, request: Request, fields: FieldData) -> Response:
        source = fields.string("source")
        url_bytes = fields.string("urlbytes")
        if fields.has("source") and not url_bytes and source.isdigit():
            source, url_bytes = "platform", source  # random/<bytes>
        if source not in _SOURCES:
            raise InvalidRequest(
                f"unsupported entropy source {source[:16]!r}; "
                'must be "platform" or "seal", or "all"'
            )
        if url_bytes:
            if not url_bytes.isascii() or not url_bytes.isdigit() or len(url_bytes) > 9:
                raise InvalidRequest("error parsing url-set byte count")
            count = int(url_bytes)
        else:
            count = fields.integer("bytes")
        if count < 1:
            raise InvalidRequest('"bytes" cannot be less than 1')
        if count > MAX_RANDOM_BYTES:
            raise InvalidRequest(f'"bytes" should be less than {MAX_RANDOM_BYTES}')
        output_format = fields.string("format")
        _encode(b"", output_format)
        return Response(data={"random_bytes": _encode(random_bytes(count), output_format)})

    async def _hash(self, request: Request, fields: FieldData) -> Response:
        data = b64decode_input(fields.string("input"), "unable to decode input as base64: ")
        output_format = fields.string("format")
        _encode(b"", output_format)
        algorithm = fields.string("urlalgorithm") or fields.string("algorithm")
        if algorithm == "sha1" or algorithm not in crypto_ops.HASH_ALGORITHMS:
            raise InvalidRequest(f"unsupported algorithm {algorithm[:32]}")
        return Response(data={"sum": _encode(crypto_ops.digest(algorithm, data), output_format)})

    async def _read_cache(self, request: Request, fields: FieldData) -> Response:
        return Response(data={"size": int((await self.store.config("cache")).get("size", 0))})

    async def _write_cache(self, request: Request, fields: FieldData) -> Response:
        size = fields.integer("size")
        if size != 0 and size < 10:
            raise InvalidRequest("size must be 0 or a value greater or equal to 10")
        await self.store.put_config("cache", {"size": size})
        return Response(data={"size": size})

    async def _read_keys_config(self, request: Request, fields: FieldData) -> Response:
        config = await self.store.config("keys")
        return Response(data={"disable_upsert": bool(config.get("disable_upsert", False))})

    async def _write_keys_config(self, request: Request, fields: FieldData) -> Response:
        config = {"disable_upsert": fields.boolean("disable_upsert")}
        await self.store.put_config("keys", config)
        return Response(data=config)
