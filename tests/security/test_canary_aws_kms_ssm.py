"""SecureString values, KMS plaintexts and data keys never reach storage, the server's output or
the audit log in clear (or hex, or base64 at any alignment), through every SSM and KMS path that
carries them, including refused requests."""

from __future__ import annotations

import base64
import uuid

import botocore.exceptions
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.security.test_canary import _assert_absent
from tests.support.aws import client
from tests.support.server import HushProcess


def test_secure_string_and_kms_plaintexts_never_in_clear(aws_server: HushProcess) -> None:
    vault = aws_server.client()
    vault.sys.enable_secrets_engine("transit", path="transit")
    audit_path = aws_server.workdir / "canary-audit.log"
    vault.sys.enable_audit_device("file", path="canary", options={"file_path": str(audit_path)})
    ssm = client("ssm", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    kms = client("kms", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    secure = f"ssm-canary-{uuid.uuid4().hex}"
    overwritten = f"ssm-canary-2-{uuid.uuid4().hex}"
    plaintext = f"kms-canary-{uuid.uuid4().hex}"
    refused = f"refused-canary-{uuid.uuid4().hex}"

    name = f"/canary{uuid.uuid4().hex[:6]}/db/password"
    ssm.put_parameter(Name=name, Value=secure, Type="SecureString")
    ssm.put_parameter(Name=name, Value=overwritten, Overwrite=True)
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == overwritten
    assert ssm.get_parameter(Name=f"{name}:1", WithDecryption=True)["Parameter"]["Value"] == secure
    history = ssm.get_parameter_history(Name=name, WithDecryption=True)["Parameters"]
    assert [h["Value"] for h in history] == [secure, overwritten]
    by_path = ssm.get_parameters_by_path(
        Path=name.rsplit("/", 2)[0], Recursive=True, WithDecryption=True
    )
    assert by_path["Parameters"][0]["Value"] == overwritten
    with pytest.raises(botocore.exceptions.ClientError):
        ssm.put_parameter(
            Name=f"{name}-pattern", Value=refused, Type="SecureString", AllowedPattern="^[0-9]+$"
        )

    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext.encode())["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext.encode()
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id)
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
    pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    with pytest.raises(botocore.exceptions.ClientError):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"wrong": refused})

    # A Secrets Manager secret under a customer KMS key, and a write refused by a disabled key.
    sm = client("secretsmanager", aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    sm_value = f"sm-kms-canary-{uuid.uuid4().hex}"
    sm_refused = f"sm-kms-refused-{uuid.uuid4().hex}"
    sm_name = f"canary/kms-{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=sm_name, SecretString=sm_value, KmsKeyId=key_id)
    assert sm.get_secret_value(SecretId=sm_name)["SecretString"] == sm_value
    kms.disable_key(KeyId=key_id)
    with pytest.raises(botocore.exceptions.ClientError):
        sm.put_secret_value(SecretId=sm_name, SecretString=sm_refused)
    with pytest.raises(botocore.exceptions.ClientError):
        sm.get_secret_value(SecretId=sm_name)
    kms.enable_key(KeyId=key_id)

    secrets = {
        "Secrets Manager value under a KMS key": sm_value.encode(),
        "Secrets Manager value refused by a disabled key": sm_refused.encode(),
        "SecureString v1": secure.encode(),
        "SecureString v2": overwritten.encode(),
        "KMS plaintext": plaintext.encode(),
        "refused SecureString": refused.encode(),
        "data key": data_key,
        "data key pair private key": pair["PrivateKeyPlaintext"][-40:],
    }
    files = sorted(aws_server.workdir.glob("hush.db*"))
    assert any(f.name == "hush.db" for f in files)
    _assert_absent(b"\n".join(f.read_bytes() for f in files), secrets, "the SQLite files")
    _assert_absent(aws_server.log_text().encode(), secrets, "the server output")
    audit = audit_path.read_bytes()
    assert b"kms/decrypt/" in audit and b"parameter/canary" in audit
    assert b"awssm/secrets/canary/kms-" in audit
    _assert_absent(audit, secrets, "the audit log")
    assert base64.b64encode(data_key) not in audit
