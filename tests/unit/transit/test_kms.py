"""The KMS layer of the transit engine in-process: key specs and states, the ciphertext blob,
encryption context as AAD, rotation, deletion, aliases, signatures, MACs and data keys.

Signatures and data key pairs are checked locally with ``cryptography`` against the public key
the layer hands out, so a wrong padding or digest cannot pass.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Coroutine
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from hush.barrier.view import StorageView
from hush.core.errors import HushError, InvalidRequest
from hush.core.request import Operation, Request
from hush.engines.transit import TransitBackend, kms_crypto
from hush.engines.transit.kms_errors import (
    AliasExists,
    IncorrectKey,
    InvalidAliasName,
    InvalidCiphertext,
    InvalidKeyUsage,
    InvalidMac,
    InvalidMarker,
    InvalidSignature,
    KeyDisabled,
    KeyInvalidState,
    KeyNotFound,
    UnsupportedOperation,
)
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class Kms:
    """Drives a transit backend's ``kms/`` paths the way the core does (prepare, then run)."""

    def __init__(self) -> None:
        storage = StorageView(MemoryStorage(), "logical/test/")
        self.backend = TransitBackend(BackendContext(storage, "transit/", "test"))

    def call(self, op: Operation, path: str, **data: Any) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            request = Request("r", op, "transit/" + path, data=dict(data))
            request.with_route("transit/", path)
            prepared = await self.backend.prepare(request)
            response = await prepared.run()
            return dict(response.data or {}) if response is not None else {}

        result: dict[str, Any] = run(go())
        return result

    def write(self, path: str, **data: Any) -> dict[str, Any]:
        return self.call(Operation.UPDATE, path, **data)

    def create(self, **data: Any) -> str:
        key_id: str = self.write("kms/keys", **data)["KeyMetadata"]["KeyId"]
        return key_id

    def encrypt(self, key_id: str, plaintext: bytes, **data: Any) -> bytes:
        out = self.write(f"kms/encrypt/{key_id}", Plaintext=b64(plaintext), **data)
        return unb64(out["CiphertextBlob"])

    def decrypt(self, key_id: str, blob: bytes, **data: Any) -> bytes:
        out = self.write(f"kms/decrypt/{key_id}", CiphertextBlob=b64(blob), **data)
        return unb64(out["Plaintext"])


@pytest.fixture
def kms() -> Kms:
    return Kms()


def test_kms_paths_match_exactly_one_route(kms: Kms) -> None:
    key = "0f0e0d0c-0b0a-4908-8706-050403020100"
    samples = [
        "kms/keys",
        f"kms/keys/{key}",
        f"kms/keys/{key}/enabled",
        f"kms/keys/{key}/rotation",
        f"kms/keys/{key}/rotate",
        f"kms/keys/{key}/deletion",
        f"kms/keys/{key}/tags",
        f"kms/keys/{key}/untag",
        f"kms/keys/{key}/public-key",
        "kms/describe/alias/a/b",
        "kms/aliases",
        "kms/aliases/alias/x/y",
        f"kms/encrypt/{key}",
        f"kms/decrypt/{key}",
        f"kms/datakey/{key}",
        f"kms/datakeypair/{key}",
        f"kms/sign/{key}",
        f"kms/verify/{key}",
        f"kms/mac/{key}",
        f"kms/verify-mac/{key}",
        "kms/random",
    ]
    for sample in samples:
        matches = [p.pattern for p in kms.backend.declared_paths if p.match(sample) is not None]
        assert len(matches) == 1, (sample, matches)


def test_create_key_metadata_is_aws_shaped(kms: Kms) -> None:
    meta = kms.write("kms/keys", Description="orders")["KeyMetadata"]
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:000000000000:key/{meta['KeyId']}"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Description"] == "orders"
    # The material is a transit key of the same name, usable through the Vault API too.
    read = kms.call(Operation.READ, f"keys/{meta['KeyId']}")
    assert read["type"] == "aes256-gcm96"


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("ECC_NIST_P256", "ENCRYPT_DECRYPT"), ("HMAC_256", "SIGN_VERIFY"), ("AES_999", "X")],
)
def test_create_key_rejects_spec_usage_mismatch(kms: Kms, spec: str, usage: str) -> None:
    with pytest.raises(InvalidRequest):
        kms.write("kms/keys", KeySpec=spec, KeyUsage=usage)
    assert kms.call(Operation.LIST, "kms/keys")["Keys"] == []


def test_round_trip_with_encryption_context(kms: Kms) -> None:
    key_id = kms.create()
    context = {"tenant": "a", "purpose": "b"}
    blob = kms.encrypt(key_id, b"secret bytes", EncryptionContext=context)
    assert b"secret bytes" not in blob
    assert kms_crypto.blob_key_id(blob) == key_id
    reordered = {"purpose": "b", "tenant": "a"}
    assert kms.decrypt(key_id, blob, EncryptionContext=reordered) == b"secret bytes"
    for wrong in ({"tenant": "b", "purpose": "b"}, {}, {"tenant": "a"}):
        with pytest.raises(InvalidCiphertext):
            kms.decrypt(key_id, blob, EncryptionContext=wrong)


def test_tampered_or_foreign_blob_is_invalid_ciphertext(kms: Kms) -> None:
    key_id = kms.create()
    blob = bytearray(kms.encrypt(key_id, b"x"))
    blob[-3] ^= 1
    with pytest.raises(InvalidCiphertext):
        kms.decrypt(key_id, bytes(blob))
    with pytest.raises(InvalidCiphertext):
        kms.decrypt(key_id, b"not a kms blob at all")


def test_blob_of_another_key_is_incorrect_key(kms: Kms) -> None:
    first, second = kms.create(), kms.create()
    with pytest.raises(IncorrectKey):
        kms.decrypt(second, kms.encrypt(first, b"x"))


def test_old_blobs_decrypt_after_rotation(kms: Kms) -> None:
    key_id = kms.create()
    old = kms.encrypt(key_id, b"before")
    kms.write(f"kms/keys/{key_id}/rotate")
    new = kms.encrypt(key_id, b"after")
    assert b"vault:v1:" in old and b"vault:v2:" in new
    assert kms.decrypt(key_id, old) == b"before"
    assert kms.decrypt(key_id, new) == b"after"


def test_disabled_key_refuses_crypto_until_enabled(kms: Kms) -> None:
    key_id = kms.create()
    blob = kms.encrypt(key_id, b"x")
    kms.write(f"kms/keys/{key_id}/enabled", Enabled=False)
    assert kms.call(Operation.READ, f"kms/keys/{key_id}")["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(KeyDisabled):
        kms.decrypt(key_id, blob)
    with pytest.raises(KeyDisabled):
        kms.encrypt(key_id, b"x")
    kms.write(f"kms/keys/{key_id}/enabled", Enabled=True)
    assert kms.decrypt(key_id, blob) == b"x"


def test_scheduled_deletion_states_and_destruction(kms: Kms) -> None:
    key_id = kms.create()
    kms.write("kms/aliases/alias/doomed", TargetKeyId=key_id)
    for days in (6, 31):
        with pytest.raises(InvalidRequest):
            kms.write(f"kms/keys/{key_id}/deletion", PendingWindowInDays=days)
    out = kms.write(f"kms/keys/{key_id}/deletion", PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion"
    assert 7 * 86400 - 60 < out["DeletionDate"] - time.time() <= 7 * 86400
    with pytest.raises(KeyInvalidState):
        kms.encrypt(key_id, b"x")
    with pytest.raises(KeyInvalidState):
        kms.write(f"kms/keys/{key_id}/enabled", Enabled=True)
    kms.call(Operation.DELETE, f"kms/keys/{key_id}/deletion")
    meta = kms.call(Operation.READ, f"kms/keys/{key_id}")["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    with pytest.raises(KeyInvalidState):
        kms.call(Operation.DELETE, f"kms/keys/{key_id}/deletion")

    survivor = kms.create()
    kms.write(f"kms/keys/{survivor}/deletion", PendingWindowInDays=7)
    kms.call(Operation.DELETE, f"kms/keys/{survivor}/deletion")
    kms.write(f"kms/keys/{key_id}/deletion", PendingWindowInDays=7)
    assert run(kms.backend.kms_states.delete_due(time.time())) == []
    assert run(kms.backend.kms_states.delete_due(time.time() + 8 * 86400)) == [key_id]
    with pytest.raises(KeyNotFound):
        kms.call(Operation.READ, f"kms/keys/{key_id}")
    assert kms.call(Operation.LIST, "kms/aliases")["Aliases"] == []
    assert run(kms.backend.store.get(key_id)) is None
    assert kms.call(Operation.READ, f"kms/keys/{survivor}")["KeyMetadata"]["KeyState"] == "Disabled"
    assert run(kms.backend.kms.due.due(time.time() + 60 * 86400)) == []


def test_rotation_settings_drive_the_transit_period(kms: Kms) -> None:
    key_id = kms.create()
    status = kms.call(Operation.READ, f"kms/keys/{key_id}/rotation")
    assert status["KeyRotationEnabled"] is False
    with pytest.raises(InvalidRequest):
        kms.write(f"kms/keys/{key_id}/rotation", Enabled=True, RotationPeriodInDays=30)
    kms.write(f"kms/keys/{key_id}/rotation", Enabled=True, RotationPeriodInDays=90)
    status = kms.call(Operation.READ, f"kms/keys/{key_id}/rotation")
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
    assert kms.call(Operation.READ, f"keys/{key_id}")["auto_rotate_period"] == 90 * 86400
    kms.write(f"kms/keys/{key_id}/rotation", Enabled=False)
    assert kms.call(Operation.READ, f"keys/{key_id}")["auto_rotate_period"] == 0
    signer = kms.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    with pytest.raises(UnsupportedOperation):
        kms.write(f"kms/keys/{signer}/rotation", Enabled=True)


def test_aliases_create_update_delete_and_resolve(kms: Kms) -> None:
    first, second = kms.create(), kms.create()
    kms.write("kms/aliases/alias/app/db", TargetKeyId=first)
    with pytest.raises(AliasExists):
        kms.write("kms/aliases/alias/app/db", TargetKeyId=second)
    with pytest.raises(KeyNotFound):
        kms.write("kms/aliases/alias/missing", TargetKeyId=second, Overwrite=True)
    for bad in ("alias/aws/mine", "alias/sp ace", "alias/"):
        with pytest.raises(InvalidAliasName):
            kms.write(f"kms/aliases/{bad}", TargetKeyId=first)
    arn = f"arn:aws:kms:us-east-1:000000000000:key/{first}"
    for reference in ("alias/app/db", "arn:aws:kms:us-east-1:000000000000:alias/app/db", arn):
        described = kms.call(Operation.READ, f"kms/describe/{reference}")
        assert described["KeyMetadata"]["KeyId"] == first
    kms.write("kms/aliases/alias/app/db", TargetKeyId=second, Overwrite=True)
    listed = kms.call(Operation.LIST, "kms/aliases")["Aliases"]
    assert [(a["AliasName"], a["TargetKeyId"]) for a in listed] == [("alias/app/db", second)]
    assert kms.call(Operation.LIST, "kms/aliases", KeyId=first)["Aliases"] == []
    kms.call(Operation.DELETE, "kms/aliases/alias/app/db")
    with pytest.raises(KeyNotFound):
        kms.call(Operation.READ, "kms/describe/alias/app/db")
    with pytest.raises(KeyNotFound):
        kms.call(Operation.DELETE, "kms/aliases/alias/app/db")


def test_aws_managed_alias_is_created_once_on_first_use(kms: Kms) -> None:
    first = kms.call(Operation.READ, "kms/describe/alias/aws/ssm")["KeyMetadata"]
    again = kms.call(Operation.READ, "kms/describe/alias/aws/ssm")["KeyMetadata"]
    assert first["KeyId"] == again["KeyId"] and first["KeyManager"] == "AWS"
    with pytest.raises(KeyNotFound):
        kms.call(Operation.READ, "kms/describe/alias/aws/unknown-service")


def test_list_keys_pages_with_limit_and_marker(kms: Kms) -> None:
    ids = sorted(kms.create() for _ in range(3))
    page = kms.call(Operation.LIST, "kms/keys", Limit=2)
    assert [k["KeyId"] for k in page["Keys"]] == ids[:2]
    assert page["Truncated"] is True
    rest = kms.call(Operation.LIST, "kms/keys", Limit=2, Marker=page["NextMarker"])
    assert [k["KeyId"] for k in rest["Keys"]] == ids[2:]
    assert rest["Truncated"] is False and "NextMarker" not in rest
    with pytest.raises(InvalidMarker):
        kms.call(Operation.LIST, "kms/keys", Marker="bogus")
    with pytest.raises(InvalidRequest):
        kms.call(Operation.LIST, "kms/keys", Limit=0)


def test_tags_add_replace_and_remove(kms: Kms) -> None:
    key_id = kms.create(Tags=[{"TagKey": "team", "TagValue": "a"}])
    kms.write(f"kms/keys/{key_id}/tags", Tags=[{"TagKey": "team", "TagValue": "b"}])
    kms.write(f"kms/keys/{key_id}/tags", Tags=[{"TagKey": "env", "TagValue": "prod"}])
    tags = kms.call(Operation.READ, f"kms/keys/{key_id}/tags")["Tags"]
    assert tags == [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "b"}]
    kms.write(f"kms/keys/{key_id}/untag", TagKeys=["team"])
    assert kms.call(Operation.READ, f"kms/keys/{key_id}/tags")["Tags"] == [
        {"TagKey": "env", "TagValue": "prod"}
    ]
    with pytest.raises(HushError):
        kms.write(f"kms/keys/{key_id}/tags", Tags=[{"TagKey": "aws:x", "TagValue": "v"}])


def _public(kms: Kms, key_id: str) -> Any:
    der = unb64(kms.call(Operation.READ, f"kms/keys/{key_id}/public-key")["PublicKey"])
    return serialization.load_der_public_key(der)


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ],
)
@pytest.mark.parametrize("message_type", ["RAW", "DIGEST"])
def test_signatures_verify_locally_and_through_kms(
    kms: Kms, spec: str, algorithm: str, message_type: str
) -> None:
    key_id = kms.create(KeySpec=spec, KeyUsage="SIGN_VERIFY")
    digest_name = "sha" + algorithm[-3:]
    message = b"pay 100 to bob"
    sent = message if message_type == "RAW" else hashlib.new(digest_name, message).digest()
    out = kms.write(
        f"kms/sign/{key_id}",
        Message=b64(sent),
        MessageType=message_type,
        SigningAlgorithm=algorithm,
    )
    signature = unb64(out["Signature"])
    public = _public(kms, key_id)
    chosen = {"256": hashes.SHA256(), "384": hashes.SHA384()}[algorithm[-3:]]
    digest = hashlib.new(digest_name, message).digest()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, digest, ec.ECDSA(Prehashed(chosen)))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        pad: padding.AsymmetricPadding = (
            padding.PSS(padding.MGF1(chosen), chosen.digest_size)
            if "PSS" in algorithm
            else padding.PKCS1v15()
        )
        public.verify(signature, digest, pad, Prehashed(chosen))
    verify = {"Message": b64(sent), "MessageType": message_type, "SigningAlgorithm": algorithm}
    ok = kms.write(f"kms/verify/{key_id}", Signature=b64(signature), **verify)
    assert ok["SignatureValid"] is True
    with pytest.raises(InvalidSignature):
        # Flip a bit (overwriting with a constant would be no change when the byte already held it).
        tampered = signature[:-1] + bytes([signature[-1] ^ 1])
        kms.write(f"kms/verify/{key_id}", Signature=b64(tampered), **verify)


def test_signing_algorithm_must_fit_the_key(kms: Kms) -> None:
    key_id = kms.create(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    with pytest.raises(InvalidKeyUsage):
        kms.write(f"kms/sign/{key_id}", Message=b64(b"m"), SigningAlgorithm="ECDSA_SHA_384")
    with pytest.raises(InvalidKeyUsage):
        kms.encrypt(key_id, b"m")


def test_mac_matches_hmac_and_verifies(kms: Kms) -> None:
    key_id = kms.create(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    out = kms.write(f"kms/mac/{key_id}", Message=b64(b"msg"), MacAlgorithm="HMAC_SHA_256")
    tag = unb64(out["Mac"])
    assert len(tag) == 32
    assert tag != hmac.new(b"\0" * 32, b"msg", "sha256").digest()
    good = {"Message": b64(b"msg"), "MacAlgorithm": "HMAC_SHA_256"}
    assert kms.write(f"kms/verify-mac/{key_id}", Mac=b64(tag), **good)["MacValid"] is True
    with pytest.raises(InvalidMac):
        kms.write(f"kms/verify-mac/{key_id}", Mac=b64(bytes(32)), **good)
    with pytest.raises(InvalidKeyUsage):
        kms.write(f"kms/mac/{key_id}", Message=b64(b"m"), MacAlgorithm="HMAC_SHA_512")


def test_data_keys_decrypt_to_their_plaintext(kms: Kms) -> None:
    key_id = kms.create()
    out = kms.write(f"kms/datakey/{key_id}", KeySpec="AES_256", EncryptionContext={"a": "b"})
    plain = unb64(out["Plaintext"])
    assert len(plain) == 32
    blob = unb64(out["CiphertextBlob"])
    assert kms.decrypt(key_id, blob, EncryptionContext={"a": "b"}) == plain
    bare = kms.write(f"kms/datakey/{key_id}", NumberOfBytes=16, WithoutPlaintext=True)
    assert "Plaintext" not in bare
    assert len(kms.decrypt(key_id, unb64(bare["CiphertextBlob"]))) == 16
    with pytest.raises(InvalidRequest):
        kms.write(f"kms/datakey/{key_id}", KeySpec="AES_256", NumberOfBytes=16)
    with pytest.raises(InvalidRequest):
        kms.write(f"kms/datakey/{key_id}")


def test_data_key_pair_private_key_matches_public(kms: Kms) -> None:
    key_id = kms.create()
    out = kms.write(f"kms/datakeypair/{key_id}", KeyPairSpec="ECC_NIST_P256")
    private = serialization.load_der_private_key(unb64(out["PrivateKeyPlaintext"]), None)
    assert private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == unb64(out["PublicKey"])
    opened = kms.decrypt(key_id, unb64(out["PrivateKeyCiphertextBlob"]))
    assert opened == unb64(out["PrivateKeyPlaintext"])
    bare = kms.write(f"kms/datakeypair/{key_id}", KeyPairSpec="RSA_2048", WithoutPlaintext=True)
    assert "PrivateKeyPlaintext" not in bare


def test_rsa_encryption_is_raw_oaep(kms: Kms) -> None:
    key_id = kms.create(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    public = _public(kms, key_id)
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    offline = public.encrypt(b"offline", oaep)
    algorithm = {"EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
    assert kms.decrypt(key_id, offline, **algorithm) == b"offline"
    with pytest.raises(InvalidKeyUsage):
        kms.encrypt(key_id, b"x")  # SYMMETRIC_DEFAULT is not an RSA algorithm


def test_generate_random_bounds(kms: Kms) -> None:
    assert len(unb64(kms.write("kms/random", NumberOfBytes=64)["Plaintext"])) == 64
    for bad in (0, 1025):
        with pytest.raises(InvalidRequest):
            kms.write("kms/random", NumberOfBytes=bad)


def test_plaintext_size_limit(kms: Kms) -> None:
    key_id = kms.create()
    with pytest.raises(InvalidRequest):
        kms.encrypt(key_id, b"x" * 4097)
    with pytest.raises(InvalidRequest):
        kms.write(f"kms/encrypt/{key_id}", Plaintext="not base64!")


def test_envelope_encryption_for_large_values(kms: Kms) -> None:
    key_id = kms.create()
    big = bytes(range(256)) * 40  # 10 KiB, above KMS's 4096 bytes
    out = kms.write(
        f"kms/encrypt/{key_id}", Plaintext=b64(big), Envelope=True, EncryptionContext={"p": "1"}
    )
    blob = unb64(out["CiphertextBlob"])
    assert kms_crypto.blob_key_id(blob) == key_id
    assert kms.decrypt(key_id, blob, EncryptionContext={"p": "1"}) == big
    with pytest.raises(InvalidCiphertext):
        kms.decrypt(key_id, blob, EncryptionContext={"p": "2"})
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(InvalidCiphertext):
        kms.decrypt(key_id, bytes(tampered))
    with pytest.raises(InvalidCiphertext):
        kms.decrypt(key_id, blob[:40])
    with pytest.raises(IncorrectKey):
        kms.decrypt(kms.create(), blob)
