"""Endpoints that sign or authenticate: ``sign/``, ``verify/`` and ``hmac/``.

As in Vault (``path_sign_verify.go``, ``path_hmac.go``), a batch answers 200 with an ``error`` on
each failed item; a single request's failure is a 400. The hash algorithm can come from the URL
(``sign/:name/:algorithm``) or the body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.engines.transit import crypto_ops
from hush.engines.transit.batch import BATCH_FIELD, batch_items, batch_response, item_string
from hush.engines.transit.ciphertext import b64decode_input, b64encode
from hush.engines.transit.common import CONTEXT_FIELD, KEY_VERSION_FIELD, NAME, NAME_FIELD
from hush.engines.transit.crypto_ops import SignOptions
from hush.engines.transit.keys import KeyPolicy
from hush.engines.transit.store import KeyStore
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["SignPaths"]

_ALGORITHM = r"(?P<urlalgorithm>[\w-]+)"
_Item = Mapping[str, Any]


def _input(item: _Item, index: int) -> bytes:
    if "input" not in item or item["input"] is None:
        raise InvalidRequest("missing input")
    return b64decode_input(item_string(item, index, "input"), "unable to decode input as base64: ")


def _context(item: _Item, index: int) -> bytes:
    raw = item_string(item, index, "context")
    if not raw:
        return b""
    try:
        return b64decode_input(raw)
    except InvalidRequest:
        raise InvalidRequest("failed to base64-decode context") from None


def _options(fields: FieldData) -> SignOptions:
    algorithm = fields.string("urlalgorithm")
    if not algorithm:
        has_hash = fields.has("hash_algorithm") or not fields.has("algorithm")
        algorithm = fields.string("hash_algorithm" if has_hash else "algorithm")
    options = SignOptions(
        algorithm,
        fields.boolean("prehashed"),
        fields.string("signature_algorithm"),
        fields.string("marshaling_algorithm"),
        fields.string("salt_length"),
    )
    options.check_marshaling()
    return options


def _run(
    items: list[_Item],
    batched: bool,
    work: Callable[[_Item, int], dict[str, Any]],
    error_fields: dict[str, Any],
) -> Response:
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            result = work(item, index)
        except InvalidRequest as exc:
            if not batched:
                raise
            result = {**error_fields, "error": exc.message}
        if batched:
            result["reference"] = item_string(item, index, "reference")
        results.append(result)
    if batched:
        return batch_response(results, strict=False)
    return Response(data=results[0])


class SignPaths:
    """The signing, verification and HMAC endpoints of one transit mount."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        """Declared endpoints, in routing order."""
        hash_field = Field(
            FieldType.STRING,
            "Hash algorithm (sha2-256, sha2-512, sha3-256, ...).",
            default="sha2-256",
        )
        signing = {
            "name": NAME_FIELD,
            "urlalgorithm": Field(FieldType.STRING, "Hash algorithm (URL)."),
            "input": Field(FieldType.STRING, "Base64 input data.", sensitive=True),
            "context": CONTEXT_FIELD,
            "hash_algorithm": hash_field,
            "algorithm": Field(
                FieldType.STRING, "Deprecated: use hash_algorithm.", default="sha2-256"
            ),
            "prehashed": Field(FieldType.BOOL, "The input is already a digest."),
            "signature_algorithm": Field(
                FieldType.STRING, "RSA scheme: pss (default) or pkcs1v15."
            ),
            "marshaling_algorithm": Field(
                FieldType.STRING, "asn1 (default) or jws.", default="asn1"
            ),
            "salt_length": Field(
                FieldType.STRING, "RSA-PSS salt: auto, hash or a byte count.", default="auto"
            ),
            "batch_input": BATCH_FIELD,
        }
        sign_fields = {**signing, "key_version": KEY_VERSION_FIELD}
        verify_fields = {
            **signing,
            "signature": Field(FieldType.STRING, "The vault:v<N>: signature to check."),
            "hmac": Field(FieldType.STRING, "The vault:v<N>: HMAC to check."),
        }
        hmac_fields = {
            "name": NAME_FIELD,
            "urlalgorithm": Field(FieldType.STRING, "Hash algorithm (URL)."),
            "algorithm": hash_field,
            "key_version": KEY_VERSION_FIELD,
            "batch_input": BATCH_FIELD,
            "input": Field(FieldType.STRING, "Base64 input data.", sensitive=True),
        }
        sign = {Operation.UPDATE: OperationSpec(self._sign, "Sign data.")}
        verify = {Operation.UPDATE: OperationSpec(self._verify, "Verify a signature or HMAC.")}
        mac = {Operation.UPDATE: OperationSpec(self._hmac, "HMAC data.")}
        return [
            Path(f"sign/{NAME}", "Sign data with a named key.", sign, sign_fields),
            Path(f"sign/{NAME}/{_ALGORITHM}", "Sign data with a named key.", sign, sign_fields),
            Path(f"verify/{NAME}", "Verify a signature or HMAC.", verify, verify_fields),
            Path(
                f"verify/{NAME}/{_ALGORITHM}", "Verify a signature or HMAC.", verify, verify_fields
            ),
            Path(f"hmac/{NAME}", "HMAC data with a named key.", mac, hmac_fields),
            Path(f"hmac/{NAME}/{_ALGORITHM}", "HMAC data with a named key.", mac, hmac_fields),
        ]

    async def _sign(self, request: Request, fields: FieldData) -> Response:
        options = _options(fields)
        policy = await self.store.require(fields.string("name"), "signing key not found")
        if not policy.type.supports_signing:
            raise InvalidRequest(f"key type {policy.type} does not support signing")
        options.hash()
        raw = batch_items(fields.raw("batch_input"))
        items: list[_Item] = (
            raw
            if raw is not None
            else [{"input": fields.string("input"), "context": fields.string("context")}]
        )
        version = fields.integer("key_version")

        def work(item: _Item, index: int) -> dict[str, Any]:
            signature, number, public = crypto_ops.sign(
                policy,
                _input(item, index),
                options,
                context=_context(item, index),
                version=version,
            )
            result: dict[str, Any] = {"signature": signature, "key_version": number}
            if public is not None:
                result["public_key" if raw is None else "publickey"] = b64encode(public)
            return result

        return _run(items, raw is not None, work, {})

    async def _verify(self, request: Request, fields: FieldData) -> Response:
        raw = batch_items(fields.raw("batch_input"))
        items: list[_Item] = raw if raw is not None else [_single_verify_item(fields)]
        kinds = {("signature" in i) + 2 * ("hmac" in i) for i in items}
        if raw is None and kinds == {3}:
            raise InvalidRequest("provide one of 'signature', 'hmac' or 'cmac'")
        if raw is None and kinds == {0}:
            raise InvalidRequest("missing 'signature', 'hmac' or 'cmac' were given to verify")
        if 3 in kinds or {1, 2} <= kinds:
            raise InvalidRequest(
                "elements of batch_input must all provide either 'signature', 'hmac' or 'cmac'"
            )
        if 0 in kinds and len(kinds) > 1:
            missing = "signature" if 1 in kinds else "hmac"
            raise InvalidRequest(f"some elements of batch_input are missing '{missing}'")
        if kinds == {0}:
            raise InvalidRequest("no batch_input elements have 'signature', 'hmac' or 'cmac'")
        if kinds == {2}:
            return await self._verify_hmac(fields, items, raw is not None)
        options = _options(fields)
        policy = await self.store.require(
            fields.string("name"), "signature verification key not found"
        )
        if not policy.type.supports_signing:
            raise InvalidRequest(f"key type {policy.type} does not support verification")
        options.hash()

        def work(item: _Item, index: int) -> dict[str, Any]:
            data = _input(item, index)
            signature = item_string(item, index, "signature")
            context = _context(item, index)
            return {"valid": crypto_ops.verify(policy, data, signature, options, context=context)}

        return _run(items, raw is not None, work, {"valid": False})

    async def _verify_hmac(self, fields: FieldData, items: list[_Item], batched: bool) -> Response:
        algorithm = _hmac_algorithm(fields, "hash_algorithm")
        policy = await self.store.require(fields.string("name"))

        def work(item: _Item, index: int) -> dict[str, Any]:
            data = _input(item, index)
            value = item_string(item, index, "hmac")
            return {"valid": crypto_ops.verify_hmac(policy, data, value, algorithm=algorithm)}

        return _run(items, batched, work, {"valid": False})

    async def _hmac(self, request: Request, fields: FieldData) -> Response:
        algorithm = _hmac_algorithm(fields, "algorithm")
        policy: KeyPolicy = await self.store.require(fields.string("name"))
        raw = batch_items(fields.raw("batch_input"))
        if raw is None and not fields.has("input"):
            raise InvalidRequest("missing input for HMAC")
        items: list[_Item] = raw if raw is not None else [{"input": fields.string("input")}]
        version = fields.integer("key_version")

        def work(item: _Item, index: int) -> dict[str, Any]:
            value = crypto_ops.hmac_value(
                policy, _input(item, index), algorithm=algorithm, version=version
            )
            return {"hmac": value}

        return _run(items, raw is not None, work, {})


def _single_verify_item(fields: FieldData) -> dict[str, Any]:
    item: dict[str, Any] = {"input": fields.string("input"), "context": fields.string("context")}
    for name in ("signature", "hmac"):
        if fields.has(name):
            item[name] = fields.string(name)
    return item


def _hmac_algorithm(fields: FieldData, body_field: str) -> str:
    algorithm = fields.string("urlalgorithm") or fields.string(body_field)
    if body_field == "hash_algorithm" and not fields.has(body_field) and fields.has("algorithm"):
        algorithm = fields.string("urlalgorithm") or fields.string("algorithm")
    if algorithm not in crypto_ops.HASH_ALGORITHMS:
        raise InvalidRequest(f"unsupported algorithm {algorithm[:32]}")
    return algorithm
