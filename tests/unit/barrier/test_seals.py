"""Seal devices on their own: wrap/unwrap round trips, tampering, key references, errors."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest

from hush.barrier.seals import SealUnavailable, WrappedKey, build_seal
from hush.barrier.seals.static import load_static_key
from hush.crypto import DecryptionError, SecretBytes
from tests.support.seals import SOFTHSM_LIB, SoftHSM

KEY = bytes(range(32))
SECRET = SecretBytes(os.urandom(32))


def _roundtrip(kind: str, options: dict[str, str], env: dict[str, str] | None = None) -> None:
    async def run() -> None:
        seal = build_seal(kind, options, env or {})
        await seal.open()
        try:
            wrapped = await seal.wrap(SECRET, b"hush:unseal-key")
            restored = WrappedKey.from_json(wrapped.to_json())
            assert (await seal.unwrap(restored, b"hush:unseal-key")).reveal() == SECRET.reveal()
            assert SECRET.reveal() not in wrapped.to_json()
            with pytest.raises(DecryptionError):
                await seal.unwrap(restored, b"hush:recovery-key")  # bound to its purpose
            tampered = bytearray(restored.ciphertext)
            tampered[-1] ^= 1
            with pytest.raises(DecryptionError):
                await seal.unwrap(
                    WrappedKey(restored.seal_type, restored.key_id, bytes(tampered), restored.iv),
                    b"hush:unseal-key",
                )
        finally:
            await seal.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    "reference",
    [KEY.hex(), base64.b64encode(KEY).decode(), "env://HUSH_TEST_STATIC_KEY", "file://FILE"],
)
def test_static_key_references(
    reference: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    reference = reference.replace("FILE", str(key_file))
    monkeypatch.setenv("HUSH_TEST_STATIC_KEY", KEY.hex())
    assert load_static_key(reference, "current_key").reveal() == KEY


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("abcd", "must be 32 bytes"),
        ("env://HUSH_TEST_UNSET_VARIABLE", "names the unset variable"),
        ("file:///nonexistent/hush.key", "cannot read current_key file"),
    ],
)
def test_static_key_errors_say_why_without_the_value(reference: str, message: str) -> None:
    with pytest.raises(SealUnavailable, match=message) as caught:
        load_static_key(reference, "current_key")
    assert "abcd" not in str(caught.value)


def test_static_seal_roundtrip_and_tamper() -> None:
    _roundtrip("static", {"current_key_id": "1", "current_key": KEY.hex()})


def test_static_seal_previous_key_still_opens_after_rotation() -> None:
    async def run() -> None:
        old = build_seal("static", {"current_key_id": "old", "current_key": KEY.hex()}, {})
        await old.open()
        wrapped = await old.wrap(SECRET, b"aad")
        new_key = bytes(reversed(KEY))
        rotated = build_seal(
            "static",
            {
                "current_key_id": "new",
                "current_key": new_key.hex(),
                "previous_key_id": "old",
                "previous_key": KEY.hex(),
            },
            {},
        )
        await rotated.open()
        assert (await rotated.unwrap(wrapped, b"aad")).reveal() == SECRET.reveal()
        assert (await rotated.wrap(SECRET, b"aad")).key_id == "new"
        alone = build_seal("static", {"current_key_id": "new", "current_key": new_key.hex()}, {})
        await alone.open()
        with pytest.raises(DecryptionError):
            await alone.unwrap(wrapped, b"aad")

    asyncio.run(run())


def test_missing_required_option_is_named() -> None:
    async def run() -> None:
        with pytest.raises(SealUnavailable, match='"kms_key_id" is required'):
            await build_seal("awskms", {}, {}).open()
        with pytest.raises(SealUnavailable, match='"address" is required'):
            await build_seal("transit", {"token": "t"}, {}).open()

    asyncio.run(run())


def test_transit_seal_unreachable_is_seal_unavailable_without_token() -> None:
    async def run() -> None:
        seal = build_seal(
            "transit",
            {"address": "http://127.0.0.1:1", "token": "s.canary-token", "key_name": "k"},
            {},
        )
        with pytest.raises(SealUnavailable) as caught:
            await seal.open()
        assert "unreachable" in str(caught.value)
        assert "canary" not in str(caught.value)
        await seal.close()

    asyncio.run(run())


def test_pkcs11_seal_with_softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hsm = SoftHSM.create(tmp_path)
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm.conf))
    options = {
        "lib": SOFTHSM_LIB,
        "token_label": hsm.label,
        "pin": hsm.pin,
        "key_label": "unit",
        "generate_key": "true",
    }
    _roundtrip("pkcs11", options)

    async def failures() -> None:
        with pytest.raises(SealUnavailable, match="PinIncorrect"):
            await build_seal("pkcs11", {**options, "pin": "0000"}, {}).open()
        with pytest.raises(SealUnavailable, match="no AES key labelled 'absent'"):
            await build_seal(
                "pkcs11", {**options, "key_label": "absent", "generate_key": "false"}, {}
            ).open()
        with pytest.raises(SealUnavailable, match="only mechanism"):
            await build_seal("pkcs11", {**options, "mechanism": "CKM_AES_CBC"}, {}).open()

    asyncio.run(failures())
