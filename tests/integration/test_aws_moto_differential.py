"""Differential test: the same Secrets Manager calls against Hush and moto_server.

Each step's response *shape* (the keys botocore parsed, recursively, with value types) and
error type must match; values may differ. Where moto departs from AWS's documented behaviour,
AWS wins: those few differences are listed in :data:`KNOWN_DIFFERENCES` with the reason.
"""

from __future__ import annotations

import datetime
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
from tests.support.aws import secretsmanager
from tests.support.server import HushProcess, free_port

MOTO_SERVER = str(Path(sys.executable).parent / "moto_server")

# (step, key path) -> why AWS's documentation sides with Hush where moto differs. A path goes
# through lists with "[]"; the key is dropped from both answers before they are compared.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("describe", "LastAccessedDate"): "AWS returns it once the secret has been read; moto never",
    ("list", "SecretList[].LastAccessedDate"): "as for DescribeSecret",
    ("list-versions", "Versions[].KmsKeyIds"): "AWS documents KmsKeyIds on each version entry",
    ("list-versions", "Versions[].LastAccessedDate"): "moto dates versions never read; Hush "
    "dates only versions that were retrieved",
    ("list-versions", "NextToken"): "moto sends a NextToken with nothing left to list; AWS "
    "documents it only when more results remain",
}
# Maps whose keys are version ids: compared by value shape only.
_ID_KEYED = frozenset({"VersionIdsToStages", "SecretVersionsToStages"})


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [MOTO_SERVER, "-p", str(port), "-H", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/moto-api/", timeout=1.0)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("moto_server did not start")
    yield url
    process.terminate()
    process.wait(10)
    log.close()


def shape(value: Any) -> Any:
    """Keys and value types, recursively (a list by the distinct shapes of its items)."""
    if isinstance(value, dict):
        return {
            k: ({"<id>": shape(next(iter(v.values())))} if k in _ID_KEYED and v else shape(v))
            for k, v in value.items()
            if k != "ResponseMetadata"
        }
    if isinstance(value, list):
        distinct = {repr(shape(item)): shape(item) for item in value}
        return [distinct[k] for k in sorted(distinct)]
    if isinstance(value, datetime.datetime):
        return "timestamp"
    return type(value).__name__


def _drop(value: Any, path: list[str]) -> None:
    head, rest = path[0], path[1:]
    if head.endswith("[]"):
        for item in value.get(head[:-2], []) if isinstance(value, dict) else []:
            _drop(item, rest)
    elif isinstance(value, dict):
        if rest:
            _drop(value.get(head), rest)
        else:
            value.pop(head, None)


def _dedup(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dedup(v) for k, v in value.items()}
    if isinstance(value, list):
        distinct = {repr(_dedup(item)): _dedup(item) for item in value}
        return [distinct[k] for k in sorted(distinct)]
    return value


def _without_known_differences(step: str, value: Any) -> Any:
    for known_step, path in KNOWN_DIFFERENCES:
        if known_step == step:
            _drop(value, path.replace("[].", "[] ").split(" ") if "[]." in path else [path])
    return _dedup(value)


def _run(client: Any, step: Callable[[Any], Any]) -> Any:
    try:
        return shape(step(client))
    except botocore.exceptions.ClientError as exc:
        return ("error", exc.response["Error"]["Code"])


def _sequence(name: str) -> list[tuple[str, Callable[[Any], Any]]]:
    token = str(uuid.uuid4())
    state: dict[str, str] = {}

    def create(c: Any) -> Any:
        answer = c.create_secret(
            Name=name,
            SecretString="one",
            Description="differential",
            Tags=[{"Key": "team", "Value": "a"}],
            ClientRequestToken=token,
        )
        state["first"] = answer["VersionId"]
        return answer

    def put(c: Any) -> Any:
        answer = c.put_secret_value(SecretId=name, SecretString="two")
        state["second"] = answer["VersionId"]
        return answer

    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
        '{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue",'
        '"Resource":"*"}]}'
    )
    return [
        ("create", create),
        ("create-again-same-token", lambda c: c.create_secret(
            Name=name, SecretString="different", ClientRequestToken=token)),
        ("get", lambda c: c.get_secret_value(SecretId=name)),
        ("put", put),
        ("get-previous", lambda c: c.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")),
        ("describe", lambda c: c.describe_secret(SecretId=name)),
        ("list", lambda c: c.list_secrets(Filters=[{"Key": "name", "Values": [name]}])),
        ("list-versions", lambda c: c.list_secret_version_ids(SecretId=name)),
        ("stage-custom", lambda c: c.update_secret_version_stage(
            SecretId=name, VersionStage="CUSTOM", MoveToVersionId=state["first"])),
        ("update", lambda c: c.update_secret(SecretId=name, Description="changed")),
        ("tag", lambda c: c.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "x"}])),
        ("untag", lambda c: c.untag_resource(SecretId=name, TagKeys=["team"])),
        ("put-policy", lambda c: c.put_resource_policy(SecretId=name, ResourcePolicy=policy)),
        ("get-policy", lambda c: c.get_resource_policy(SecretId=name)),
        ("delete-policy", lambda c: c.delete_resource_policy(SecretId=name)),
        ("random", lambda c: c.get_random_password(PasswordLength=20)),
        ("batch", lambda c: c.batch_get_secret_value(SecretIdList=[name])),
        ("missing", lambda c: c.get_secret_value(SecretId=name + "-missing")),
        ("create-duplicate", lambda c: c.create_secret(Name=name, SecretString="dup")),
        ("delete", lambda c: c.delete_secret(SecretId=name, RecoveryWindowInDays=7)),
        ("get-deleted", lambda c: c.get_secret_value(SecretId=name)),
        ("restore", lambda c: c.restore_secret(SecretId=name)),
        ("force-delete", lambda c: c.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)),
        ("describe-purged", lambda c: c.describe_secret(SecretId=name)),
    ]  # fmt: skip


def test_same_calls_same_shapes_and_error_types(aws_server: HushProcess, moto_url: str) -> None:
    name = f"diff-{uuid.uuid4().hex[:8]}"
    hush = secretsmanager(aws_server.url, DEV_AWS_ACCESS_KEY_ID, DEV_AWS_SECRET_ACCESS_KEY)
    moto = secretsmanager(moto_url, "testing", "testing")
    mismatches = []
    for (step, call), (_, moto_call) in zip(_sequence(name), _sequence(name), strict=True):
        ours = _without_known_differences(step, _run(hush, call))
        theirs = _without_known_differences(step, _run(moto, moto_call))
        if ours != theirs:
            mismatches.append((step, ours, theirs))
    assert mismatches == [], "\n".join(f"{s}:\n  hush={o}\n  moto={t}" for s, o, t in mismatches)
