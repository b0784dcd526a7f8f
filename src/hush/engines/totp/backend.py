"""The TOTP secrets engine (mount type ``totp``) with Vault's API (``builtin/logical/totp``).

Hush either *generates* a key (it is the provider: the answer carries the ``otpauth://`` URL and
a QR code for an authenticator app, then ``POST code/:name`` checks what the user types) or
*imports* one from a URL or base32 secret (it is the generator: ``GET code/:name`` gives the
current code). As in Vault, both operations work on either kind of key.

Replay refusal: a code submitted for validation is recorded in storage until it can no longer be
valid (``period * (2 + skew)`` seconds, Vault's window), and a second submission within that time
gets Vault's 400 "code already used; wait until the next time period". Check and record happen
under one store-wide lock, so this holds across worker processes and nodes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response, list_response
from hush.engines.totp.model import KeySettings, TotpKey, decode_base32_key, parse_otpauth_url
from hush.engines.totp.qr import QrTooLarge, barcode_png_base64
from hush.engines.totp.store import TotpStore
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["TotpBackend"]

# Vault's framework.GenericNameWithAtRegex("name").
_NAME: Final = r"(?P<name>\w(?:[\w.@-]*\w)?)"
_NAME_FIELD: Final = Field(FieldType.STRING, "Name of the key.")
_USED: Final = "code already used; wait until the next time period"
_KEY_FIELDS: Final = {
    "name": _NAME_FIELD,
    "generate": Field(FieldType.BOOL, "Generate the key (Hush is the provider).", default=False),
    "exported": Field(
        FieldType.BOOL, "Return the URL and QR code of a generated key.", default=True
    ),
    "key_size": Field(FieldType.INT, "Size in bytes of a generated key.", default=20),
    "url": Field(FieldType.STRING, "otpauth:// URL of a key to import.", sensitive=True),
    "key": Field(FieldType.STRING, "Base32 secret of a key to import.", sensitive=True),
    "issuer": Field(FieldType.STRING, "Name of the key's issuing organisation.", default=""),
    "account_name": Field(FieldType.STRING, "Account the key belongs to.", default=""),
    "period": Field(FieldType.DURATION, "Seconds a code is valid for.", default=30),
    "algorithm": Field(FieldType.STRING, "SHA1, SHA256 or SHA512.", default="SHA1"),
    "digits": Field(FieldType.INT, "Digits in a code: 6 or 8.", default=6),
    "skew": Field(FieldType.INT, "Periods before/after the current one accepted: 0 or 1.", 1),
    "qr_size": Field(FieldType.INT, "Pixel size of the QR code (0: none).", default=200),
}


class TotpBackend(Backend):
    """Time-based one-time passwords: generate or import keys, produce and check codes."""

    type_name = "totp"
    synopsis = "Time-based one-time passwords (RFC 6238): generate and validate codes."

    def __init__(self, context: BackendContext) -> None:
        self.store = TotpStore(context.storage)
        super().__init__(context)

    def paths(self) -> Sequence[Path]:
        """``keys/``, ``keys/:name`` and ``code/:name``."""
        return [
            Path(
                "keys/?",
                "List the key names.",
                {Operation.LIST: OperationSpec(self._list, "List the key names.")},
            ),
            Path(
                "keys/" + _NAME,
                "Create (generate or import), read or delete a key.",
                {
                    Operation.READ: OperationSpec(self._read, "Read a key's settings."),
                    Operation.UPDATE: OperationSpec(self._create, "Generate or import a key."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a key."),
                },
                fields=_KEY_FIELDS,
            ),
            Path(
                "code/" + _NAME,
                "Generate the current code of a key, or validate a code.",
                {
                    Operation.READ: OperationSpec(self._code, "Generate the current code."),
                    Operation.UPDATE: OperationSpec(self._validate, "Validate a code."),
                },
                fields={
                    "name": _NAME_FIELD,
                    "code": Field(FieldType.STRING, "The code to validate.", sensitive=True),
                },
            ),
        ]

    async def periodic(self, now: float) -> None:
        """Scheduler hook: drop used-code records that have expired."""
        await self.store.tidy(now)

    async def _list(self, request: Request, fields: FieldData) -> Response:
        return list_response(await self.store.names())

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        key = await self.store.get(fields.string("name"))
        return Response(data=key.read_data()) if key is not None else None

    async def _delete(self, request: Request, fields: FieldData) -> None:
        await self.store.delete(fields.string("name"))

    async def _create(self, request: Request, fields: FieldData) -> Response | None:
        # The order of checks and the messages are Vault's (path_keys.go pathKeyCreate).
        generate = fields.boolean("generate")
        key_text, url = fields.string("key"), fields.string("url")
        if generate and key_text:
            raise InvalidRequest("a key should not be passed if generate is true")
        if generate and url:
            raise InvalidRequest("a url should not be passed if generate is true")
        issuer, account = fields.string("issuer"), fields.string("account_name")
        period, digits = fields.integer("period"), fields.integer("digits")
        algorithm = fields.string("algorithm")
        if url:
            parsed = parse_otpauth_url(url)
            key_text = parsed.key
            issuer = parsed.issuer if parsed.issuer is not None else issuer
            account = parsed.account_name
            period = parsed.period if parsed.period is not None else period
            digits = parsed.digits if parsed.digits is not None else digits
            algorithm = parsed.algorithm or algorithm
        settings = KeySettings(issuer, account, period, algorithm, digits, fields.integer("skew"))
        settings.check()
        qr_size, key_size = fields.integer("qr_size"), fields.integer("key_size")
        if qr_size < 0:
            raise InvalidRequest("the qr_size value must be greater than or equal to zero")
        if key_size <= 0:
            raise InvalidRequest("the key_size value must be greater than zero")
        response: Response | None = None
        if generate:
            if not account:
                raise InvalidRequest("the account_name value is required for generated keys")
            if not issuer:
                raise InvalidRequest("the issuer value is required for generated keys")
            if key_size > 1024:
                raise InvalidRequest("the key_size value must be at most 1024")
            key = TotpKey.generate(settings, key_size)
            if fields.boolean("exported"):
                data = {"url": key.url()}
                if qr_size:
                    try:
                        data["barcode"] = barcode_png_base64(data["url"], qr_size)
                    except QrTooLarge:
                        raise InvalidRequest(
                            "the url is too long for a QR code: use a smaller key_size,"
                            " shorter issuer and account_name, or qr_size=0"
                        ) from None
                response = Response(data=data)
        else:
            if not key_text:
                raise InvalidRequest("the key value is required")
            key = TotpKey(decode_base32_key(key_text), settings)
        await self.store.put(fields.string("name"), key)
        return response

    async def _code(self, request: Request, fields: FieldData) -> Response:
        name = fields.string("name")
        key = await self.store.get(name)
        if key is None:
            raise InvalidRequest(f"unknown key: {name}")
        return Response(data={"code": key.code_at(time.time())})

    async def _validate(self, request: Request, fields: FieldData) -> Response:
        name, code = fields.string("name"), fields.string("code")
        if not code:
            raise InvalidRequest("the code value is required")
        async with self.store.lock(name):
            key = await self.store.get(name)
            if key is None:
                raise InvalidRequest(f"unknown key: {name}")
            # OpenBao's check, on the UTF-8 length as Go's len(): full-width digits fail here.
            if len(code.encode()) != key.settings.digits:
                raise InvalidRequest("invalid number of digits for the code")
            now = time.time()
            used = await self.store.used_codes(name, now)
            if code in used:
                raise InvalidRequest(_USED)
            valid = key.verify(code, now)
            # Vault records every submitted code, valid or not, for period * (2 + skew) seconds:
            # long enough to cover every time step the code could be valid in.
            used[code] = now + key.settings.period * (2 + key.settings.skew)
            await self.store.put_used_codes(name, used)
        return Response(data={"valid": valid})
