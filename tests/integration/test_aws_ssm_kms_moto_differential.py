"""Differential test: the same SSM and KMS calls against Hush and ``moto_server`` (the AWS mock
most projects test with) must give the same error types and the same response members.

moto is a reference for shapes and error names, not for semantics it lacks (it does not bind an
encryption context or refuse disabled keys, for instance). Where moto leaves out a member that
AWS's API reference documents for the response, :data:`MOTO_GAPS` names it, and it is removed
from Hush's answer before comparing; everything else must match exactly.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest

from tests.conftest import DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
from tests.support.aws import client
from tests.support.server import HushProcess, free_port

MOTO = str(Path(sys.executable).with_name("moto_server"))


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen([MOTO, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/moto-api/", timeout=1.0)
                break
            except (OSError, httpx.HTTPError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def peers(aws_server: HushProcess, moto_url: str) -> dict[str, dict[str, Any]]:
    aws_server.client().sys.enable_secrets_engine("transit", path="transit")
    return {
        "hush": {
            service: client(
                service, aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY
            )
            for service in ("ssm", "kms")
        },
        "moto": {
            service: client(service, moto_url, "AKIAMOTOTESTKEY00000", "moto-secret")
            for service in ("ssm", "kms")
        },
    }


def shape(value: Any) -> Any:
    """The members of a response, recursively (list shapes from their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", shape(call())
    except botocore.exceptions.ClientError as exc:
        return "error", exc.response["Error"]["Code"]


#: Response members AWS documents (API reference, response syntax and examples) that moto omits.
MOTO_GAPS: dict[str, frozenset[str]] = {
    # GetParameterHistory: "Policies": [] is in AWS's example response.
    "history": frozenset({"Parameters.Policies"}),
    # CreateKey: KeyMetadata.KeyUsage and MultiRegion are always returned by AWS; moto adds an
    # empty SigningAlgorithms to symmetric keys, which AWS does not.
    "create-key": frozenset(
        {"KeyMetadata.KeyUsage", "KeyMetadata.MultiRegion", "KeyMetadata.SigningAlgorithms"}
    ),
    # Encrypt, Decrypt: EncryptionAlgorithm is part of both responses.
    "encrypt": frozenset({"EncryptionAlgorithm"}),
    "decrypt": frozenset({"EncryptionAlgorithm"}),
    # GetKeyRotationStatus: KeyId (and RotationPeriodInDays when enabled) since 2024.
    "rotation-status": frozenset({"KeyId"}),
    # ScheduleKeyDeletion: KeyState and PendingWindowInDays.
    "schedule-deletion": frozenset({"KeyState", "PendingWindowInDays"}),
}


def _without(value: Any, members: frozenset[str], prefix: str = "") -> Any:
    if isinstance(value, dict):
        return {
            k: _without(v, members, f"{prefix}{k}.")
            for k, v in value.items()
            if f"{prefix}{k}" not in members
        }
    if isinstance(value, list):
        return [_without(v, members, prefix) for v in value]
    return value


def both(
    peers: dict[str, dict[str, Any]], service: str, case: str, run: Callable[[Any], Any]
) -> None:
    hush = outcome(lambda: run(peers["hush"][service]))
    moto = outcome(lambda: run(peers["moto"][service]))
    gaps = MOTO_GAPS.get(case, frozenset())
    hush_shape = (hush[0], _without(hush[1], gaps)) if hush[0] == "ok" else hush
    moto_shape = (moto[0], _without(moto[1], gaps)) if moto[0] == "ok" else moto
    assert hush_shape == moto_shape, f"hush={hush}\nmoto={moto}"


def _name() -> str:
    return f"/diff{uuid.uuid4().hex[:8]}/app/value"


def _put(ssm: Any, name: str, **extra: Any) -> Any:
    return ssm.put_parameter(Name=name, Value="v1", Type="String", **extra)


SSM_CASES: dict[str, Callable[[Any, str], Any]] = {
    "put": _put,
    "get": lambda ssm, n: (_put(ssm, n), ssm.get_parameter(Name=n))[1],
    "get-missing": lambda ssm, n: ssm.get_parameter(Name=n),
    "put-existing": lambda ssm, n: (_put(ssm, n), _put(ssm, n))[1],
    "overwrite": lambda ssm, n: (_put(ssm, n), _put(ssm, n, Overwrite=True))[1],
    "get-missing-version": lambda ssm, n: (_put(ssm, n), ssm.get_parameter(Name=n + ":5"))[1],
    "get-parameters": lambda ssm, n: (
        _put(ssm, n),
        ssm.get_parameters(Names=[n, n + "-missing"]),
    )[1],
    "label": lambda ssm, n: (
        _put(ssm, n),
        ssm.label_parameter_version(Name=n, ParameterVersion=1, Labels=["blue"]),
    )[1],
    "by-path": lambda ssm, n: (
        _put(ssm, n),
        ssm.get_parameters_by_path(Path=n.rsplit("/", 2)[0], Recursive=True),
    )[1],
    "history": lambda ssm, n: (_put(ssm, n), ssm.get_parameter_history(Name=n))[1],
    "delete-missing": lambda ssm, n: ssm.delete_parameter(Name=n),
    "delete-many": lambda ssm, n: (
        _put(ssm, n),
        ssm.delete_parameters(Names=[n, n + "-missing"]),
    )[1],
    "tags-wrong-type": lambda ssm, n: (
        _put(ssm, n),
        ssm.list_tags_for_resource(ResourceType="Document", ResourceId=n),
    )[1],
    "tags": lambda ssm, n: (
        _put(ssm, n, Tags=[{"Key": "k", "Value": "v"}]),
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=n),
    )[1],
    "tags-and-overwrite": lambda ssm, n: _put(
        ssm, n, Overwrite=True, Tags=[{"Key": "k", "Value": "v"}]
    ),
    "reserved-prefix": lambda ssm, n: _put(ssm, "ssm-reserved"),
    "bad-type": lambda ssm, n: ssm.put_parameter(Name=n, Value="v", Type="Integer"),
    "empty-value": lambda ssm, n: ssm.put_parameter(Name=n, Value="", Type="String"),
}


@pytest.mark.parametrize("case", sorted(SSM_CASES))
def test_ssm_matches_moto(peers: dict[str, dict[str, Any]], case: str) -> None:
    name = _name()
    both(peers, "ssm", case, lambda ssm: SSM_CASES[case](ssm, name))


def _key(kms: Any, **extra: Any) -> str:
    key_id: str = kms.create_key(**extra)["KeyMetadata"]["KeyId"]
    return key_id


def _alias_twice(kms: Any) -> Any:
    key_id, alias = _key(kms), f"alias/d-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return kms.create_alias(AliasName=alias, TargetKeyId=key_id)


KMS_CASES: dict[str, Callable[[Any], Any]] = {
    "create-key": lambda kms: kms.create_key(Description="d"),
    "describe-missing-alias": lambda kms: kms.describe_key(KeyId="alias/no-such-alias"),
    "encrypt": lambda kms: kms.encrypt(KeyId=_key(kms), Plaintext=b"p"),
    "decrypt": lambda kms: kms.decrypt(
        CiphertextBlob=kms.encrypt(KeyId=_key(kms), Plaintext=b"p")["CiphertextBlob"]
    ),
    "data-key": lambda kms: kms.generate_data_key(KeyId=_key(kms), KeySpec="AES_256"),
    "data-key-without-plaintext": lambda kms: kms.generate_data_key_without_plaintext(
        KeyId=_key(kms), KeySpec="AES_256"
    ),
    "random": lambda kms: kms.generate_random(NumberOfBytes=16),
    "schedule-deletion": lambda kms: kms.schedule_key_deletion(
        KeyId=_key(kms), PendingWindowInDays=7
    ),
    "rotation-status": lambda kms: kms.get_key_rotation_status(KeyId=_key(kms)),
    "alias-twice": _alias_twice,
    "sign": lambda kms: kms.sign(
        KeyId=_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"),
        Message=b"m",
        SigningAlgorithm="ECDSA_SHA_256",
    ),
    "tags": lambda kms: kms.list_resource_tags(
        KeyId=_key(kms, Tags=[{"TagKey": "k", "TagValue": "v"}])
    ),
}


@pytest.mark.parametrize("case", sorted(KMS_CASES))
def test_kms_matches_moto(peers: dict[str, dict[str, Any]], case: str) -> None:
    both(peers, "kms", case, KMS_CASES[case])
