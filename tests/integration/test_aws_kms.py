"""KMS through boto3 (parameter validation on) against a dev server with a transit mount:
keys, aliases, encryption with context, ReEncrypt after rotation, data keys, signatures, MACs,
key states and the AWS error types; aws-encryption-sdk as a real KMS client.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import client, signed_request
from tests.support.server import HushProcess


@pytest.fixture(scope="module")
def kms(aws_server: HushProcess) -> Iterator[Any]:
    aws_server.client().sys.enable_secrets_engine("transit", path="transit")
    yield client("kms", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_describe_by_every_reference(kms: Any) -> None:
    meta = kms.create_key(Description="orders")["KeyMetadata"]
    alias = f"alias/orders-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    alias_arn = meta["Arn"].rsplit(":", 1)[0] + ":" + alias
    for reference in (meta["KeyId"], meta["Arn"], alias, alias_arn):
        described = kms.describe_key(KeyId=reference)["KeyMetadata"]
        assert described["KeyId"] == meta["KeyId"]
        assert described["KeyState"] == "Enabled"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.describe_key(KeyId="alias/does-not-exist")
    assert _code(exc) == "NotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    assert _code(exc) == "AlreadyExistsException"


def test_encrypt_decrypt_with_context_and_wrong_context(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"purpose": "test", "tenant": "t1"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"hello kms", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert opened["Plaintext"] == b"hello kms"
    assert opened["KeyId"].endswith(key_id)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"})
    assert _code(exc) == "InvalidCiphertextException"
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, KeyId=other, EncryptionContext=context)
    assert _code(exc) == "IncorrectKeyException"


def test_re_encrypt_after_rotation(kms: Any) -> None:
    source = kms.create_key()["KeyMetadata"]["KeyId"]
    destination = kms.create_key()["KeyMetadata"]["KeyId"]
    old = kms.encrypt(KeyId=source, Plaintext=b"rotate me")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=source)
    same_key = kms.re_encrypt(CiphertextBlob=old, DestinationKeyId=source)
    assert same_key["CiphertextBlob"] != old
    assert kms.decrypt(CiphertextBlob=same_key["CiphertextBlob"])["Plaintext"] == b"rotate me"
    moved = kms.re_encrypt(
        CiphertextBlob=old,
        DestinationKeyId=destination,
        DestinationEncryptionContext={"k": "v"},
    )
    assert moved["SourceKeyId"].endswith(source) and moved["KeyId"].endswith(destination)
    opened = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"k": "v"})
    assert opened["Plaintext"] == b"rotate me"


def test_disabled_and_pending_deletion_keys(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert _code(exc) == "DisabledException"
    kms.enable_key(KeyId=key_id)
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert _code(exc) == "KMSInvalidStateException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.schedule_key_deletion(
            KeyId=kms.create_key()["KeyMetadata"]["KeyId"], PendingWindowInDays=3
        )
    assert _code(exc) == "ValidationException"
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_rotation_status_and_tags(kms: Any) -> None:
    key_id = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "env", "TagValue": "prod"}])
    kms.untag_resource(KeyId=key_id, TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "env", "TagValue": "prod"}]


def test_list_keys_and_aliases_paginate(kms: Any) -> None:
    created = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    seen: list[str] = []
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Keys"]) <= 2
        seen += [k["KeyId"] for k in page["Keys"]]
    assert created <= set(seen) and len(seen) == len(set(seen))
    key_id = sorted(created)[0]
    names = {f"alias/page-{uuid.uuid4().hex[:6]}" for _ in range(3)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    listed = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert {a["AliasName"] for a in listed} == names
    kms.delete_alias(AliasName=sorted(names)[0])
    assert len(kms.list_aliases(KeyId=key_id)["Aliases"]) == 2


def test_data_keys(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    assert (
        kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    )
    bare = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=24)
    assert "Plaintext" not in bare
    pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    pair_bare = kms.generate_data_key_pair_without_plaintext(
        KeyId=key_id, KeyPairSpec="ECC_NIST_P256"
    )
    assert "PrivateKeyPlaintext" not in pair_bare
    assert len(kms.generate_random(NumberOfBytes=48)["Plaintext"]) == 48


def test_sign_verify_and_mac(kms: Any) -> None:
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    digest = hashlib.sha256(b"message").digest()
    signature = kms.sign(
        KeyId=signer["KeyId"],
        Message=digest,
        MessageType="DIGEST",
        SigningAlgorithm="ECDSA_SHA_256",
    )["Signature"]
    public = serialization.load_der_public_key(
        kms.get_public_key(KeyId=signer["KeyId"])["PublicKey"]
    )
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"message", ec.ECDSA(hashes.SHA256()))
    verified = kms.verify(
        KeyId=signer["KeyId"],
        Message=b"message",
        MessageType="RAW",
        Signature=signature,
        SigningAlgorithm="ECDSA_SHA_256",
    )
    assert verified["SignatureValid"] is True
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.verify(
            KeyId=signer["KeyId"],
            Message=b"tampered",
            Signature=signature,
            SigningAlgorithm="ECDSA_SHA_256",
        )
    assert _code(exc) == "KMSInvalidSignatureException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=signer["KeyId"], Plaintext=b"x")
    assert _code(exc) == "InvalidKeyUsageException"

    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    tag = kms.generate_mac(KeyId=mac_key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    ok = kms.verify_mac(KeyId=mac_key["KeyId"], Message=b"m", Mac=tag, MacAlgorithm="HMAC_SHA_256")
    assert ok["MacValid"] is True
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.verify_mac(KeyId=mac_key["KeyId"], Message=b"n", Mac=tag, MacAlgorithm="HMAC_SHA_256")
    assert _code(exc) == "KMSInvalidMacException"


def test_aws_encryption_sdk_round_trip(
    kms: Any, aws_server: HushProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aws_encryption_sdk
    import botocore.session
    from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError

    arn = kms.create_key(Description="esdk")["KeyMetadata"]["Arn"]
    # The SDK builds its own KMS clients from this session, for the region in the key ARN.
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", aws_server.url)
    session = botocore.session.Session()
    session.set_credentials(DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[arn], botocore_session=session
    )
    sdk = aws_encryption_sdk.EncryptionSDKClient()
    context = {"order": "42"}
    message, _header = sdk.encrypt(
        source=b"envelope plaintext", key_provider=provider, encryption_context=context
    )
    assert b"envelope plaintext" not in message
    plaintext, decrypted_header = sdk.decrypt(source=message, key_provider=provider)
    assert plaintext == b"envelope plaintext"
    assert decrypted_header.encryption_context["order"] == "42"
    # A changed encryption context in the message is refused (header authentication).
    tampered = message.replace(b"42", b"43", 1)
    with pytest.raises(AWSEncryptionSDKClientError):
        sdk.decrypt(source=tampered, key_provider=provider)


def test_decrypt_denied_on_the_key_id_is_denied_through_its_alias(
    kms: Any, aws_server: HushProcess
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/guarded-{uuid.uuid4().hex[:6]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=alias, Plaintext=b"guarded")["CiphertextBlob"]
    vault = aws_server.client()
    vault.sys.create_or_update_policy(
        "kms-encrypt-only",
        'path "transit/kms/describe/*" { capabilities = ["read"] }\n'
        'path "transit/kms/encrypt/*" { capabilities = ["update"] }\n'
        'path "transit/kms/decrypt/*" { capabilities = ["update"] }\n'
        f'path "transit/kms/decrypt/{key_id}" {{ capabilities = ["deny"] }}',
    )
    created = vault.adapter.post(
        "/v1/auth/aws/keys", json={"policies": "kms-encrypt-only", "display_name": "enc"}
    )["data"]
    limited = client("kms", aws_server.url, created["access_key_id"], created["secret_access_key"])
    assert limited.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"].endswith(key_id)
    for reference in (alias, key_id, None):
        extra = {"KeyId": reference} if reference else {}
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            limited.decrypt(CiphertextBlob=blob, **extra)
        assert _code(exc) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        limited.create_key()
    assert _code(exc) == "AccessDeniedException"


def test_encrypt_limit_is_4096_bytes_even_with_hush_members(
    kms: Any, aws_server: HushProcess
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x" * 4097)
    assert _code(exc) == "ValidationException"
    answer = signed_request(
        aws_server.url,
        "TrentService.Encrypt",
        {"KeyId": key_id, "Plaintext": base64.b64encode(b"x" * 5000).decode(), "Envelope": True},
        DEV_AWS_ACCESS_KEY_ID,
        DEV_AWS_SECRET_ACCESS_KEY,
        service="kms",
    )
    assert (answer.status, answer.error_type) == (400, "ValidationException")
