"""``sys/policies/password`` through hvac against a real dev server."""

from __future__ import annotations

import base64
import uuid

import hvac
import hvac.exceptions
import pytest

from tests.support.server import HushProcess

POLICY = """length = 30
rule "charset" {
  charset = "abcdef"
  min-chars = 2
}
rule "charset" {
  charset = "XYZ"
  min-chars = 3
}
"""


@pytest.fixture
def client(dev_server: HushProcess) -> hvac.Client:
    return dev_server.client()


def test_write_read_generate_list_delete(client: hvac.Client) -> None:
    name = f"pp-{uuid.uuid4().hex[:8]}"
    client.write(f"sys/policies/password/{name}", policy=POLICY)
    assert client.read(f"sys/policies/password/{name}")["data"]["policy"] == POLICY
    for _ in range(5):
        password = client.read(f"sys/policies/password/{name}/generate")["data"]["password"]
        assert len(password) == 30
        assert set(password) <= set("abcdefXYZ")
        assert sum(c in "XYZ" for c in password) >= 3
    assert name in client.list("sys/policies/password")["data"]["keys"]
    client.delete(f"sys/policies/password/{name}")
    assert client.read(f"sys/policies/password/{name}") is None
    with pytest.raises(hvac.exceptions.InvalidPath, match="policy does not exist"):
        client.adapter.get(f"/v1/sys/policies/password/{name}/generate")


def test_base64_policy_is_accepted(client: hvac.Client) -> None:
    name = f"pp-{uuid.uuid4().hex[:8]}"
    client.write(f"sys/policies/password/{name}", policy=base64.b64encode(POLICY.encode()).decode())
    assert client.read(f"sys/policies/password/{name}")["data"]["policy"] == POLICY


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('length = 4\nrule "charset" {\n charset = "a"\n min-chars = 5\n}', "require at least 5"),
        ('length = 2\nrule "charset" { charset = "a" }', "between 4 and 100"),
        ("length = {", "invalid password policy"),
        ("", "missing policy"),
    ],
)
def test_impossible_policy_is_400_and_not_stored(
    client: hvac.Client, policy: str, message: str
) -> None:
    name = f"pp-{uuid.uuid4().hex[:8]}"
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        client.write(f"sys/policies/password/{name}", policy=policy)
    assert message in str(exc.value)
    assert client.read(f"sys/policies/password/{name}") is None
