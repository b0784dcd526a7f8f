"""KV version 2 through hvac against a real server: versions, CAS, metadata, subkeys, upgrade."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import hvac
import hvac.exceptions
import pytest

from tests.conftest import DEV_ROOT_TOKEN
from tests.support.server import HushProcess, free_port, start_hush

ROOT = {"X-Vault-Token": DEV_ROOT_TOKEN}
MOUNT = "kv2"
# Go's time.RFC3339Nano in UTC, as Vault prints created_time and deletion_time.
MISMATCH = "check-and-set parameter did not match the current version"
RFC3339_NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HushProcess]:
    """A dev server with a KV v2 mount at ``kv2/``."""
    port = free_port()
    process = start_hush(
        tmp_path_factory.mktemp("kv2"),
        ["-dev", f"-dev-root-token-id={DEV_ROOT_TOKEN}", f"-dev-listen-address=127.0.0.1:{port}"],
        port=port,
        root_token=DEV_ROOT_TOKEN,
    )
    process.client().sys.enable_secrets_engine("kv", path=MOUNT, options={"version": "2"})
    yield process
    process.stop()


@pytest.fixture
def client(server: HushProcess) -> hvac.Client:
    """A root hvac client."""
    return server.client()


@pytest.fixture
def kv(client: hvac.Client) -> Any:
    """``client.secrets.kv.v2``."""
    return client.secrets.kv.v2


@pytest.fixture
def http(server: HushProcess) -> Iterator[httpx.Client]:
    """A raw HTTP client for what hvac cannot send."""
    with server.http() as raw:
        yield raw


@pytest.fixture
def name() -> str:
    """A secret path no other test uses."""
    return f"app/{uuid.uuid4().hex[:10]}"


def fresh_mount(client: hvac.Client) -> str:
    """Mount another KV v2 engine (for mount-wide config tests) and return its path."""
    path = f"v2-{uuid.uuid4().hex[:8]}"
    client.sys.enable_secrets_engine("kv-v2", path=path)
    return path


def read(kv: Any, path: str, version: int | None = None, mount: str = MOUNT) -> dict[str, Any]:
    """``read_secret_version``'s ``data`` (raising on deleted versions, hvac's current default)."""
    result = kv.read_secret_version(
        path, version=version, mount_point=mount, raise_on_deleted_version=True
    )
    data: dict[str, Any] = result["data"]
    return data


def write(kv: Any, path: str, secret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """``create_or_update_secret``'s ``data`` (the new version's metadata)."""
    kwargs.setdefault("mount_point", MOUNT)
    data: dict[str, Any] = kv.create_or_update_secret(path, secret, **kwargs)["data"]
    return data


def errors_of(exc: hvac.exceptions.VaultError) -> list[str]:
    """The ``errors`` list of a Vault error response."""
    return list(exc.errors or [])


# --- writing and reading --------------------------------------------------------------------------


def test_write_and_read_have_vaults_shapes(kv: Any, name: str) -> None:
    written = write(kv, name, {"user": "alice", "port": 5432})
    assert set(written) == {
        "version",
        "created_time",
        "deletion_time",
        "destroyed",
        "custom_metadata",
    }
    assert written["version"] == 1 and written["deletion_time"] == "" and not written["destroyed"]
    assert written["custom_metadata"] is None
    assert RFC3339_NANO.fullmatch(written["created_time"])

    result = kv.read_secret_version(name, mount_point=MOUNT, raise_on_deleted_version=True)
    assert result["lease_duration"] == 0
    assert result["data"]["data"] == {"user": "alice", "port": 5432}
    assert result["data"]["metadata"] == written

    write(kv, name, {"user": "bob"})
    assert read(kv, name)["data"] == {"user": "bob"}
    assert read(kv, name, version=1)["data"] == {"user": "alice", "port": 5432}
    assert read(kv, name)["metadata"]["version"] == 2


def test_missing_secret_and_missing_version_are_404(kv: Any, name: str) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name)
    write(kv, name, {"a": "1"})
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name, version=7)


def test_cas_mismatch_is_400_with_vaults_message(kv: Any, name: str) -> None:
    assert write(kv, name, {"v": "1"}, cas=0)["version"] == 1
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        write(kv, name, {"v": "x"}, cas=0)
    assert errors_of(caught.value) == [MISMATCH]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        write(kv, name, {"v": "x"}, cas=5)
    assert write(kv, name, {"v": "2"}, cas=1)["version"] == 2
    assert read(kv, name)["data"] == {"v": "2"}


def test_cas_required_by_mount_config_and_by_key_metadata(
    client: hvac.Client, kv: Any, name: str
) -> None:
    required = "check-and-set parameter required for this call"
    mount = fresh_mount(client)
    kv.configure(cas_required=True, mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        write(kv, name, {"v": "1"}, mount_point=mount)
    assert errors_of(caught.value) == [required]
    assert write(kv, name, {"v": "1"}, cas=0, mount_point=mount)["version"] == 1

    kv.update_metadata(name, cas_required=True, mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        write(kv, name, {"v": "1"})
    assert errors_of(caught.value) == [required]
    assert write(kv, name, {"v": "1"}, cas=0)["version"] == 1


def test_configuration_round_trip(client: hvac.Client, kv: Any) -> None:
    mount = fresh_mount(client)
    assert kv.read_configuration(mount_point=mount)["data"] == {
        "max_versions": 0,
        "cas_required": False,
        "delete_version_after": "0s",
    }
    kv.configure(max_versions=4, cas_required=False, delete_version_after="90m", mount_point=mount)
    assert kv.read_configuration(mount_point=mount)["data"] == {
        "max_versions": 4,
        "cas_required": False,
        "delete_version_after": "1h30m0s",
    }


# --- versions: pruning, delete, undelete, destroy ---------------------------------------------


def test_writes_beyond_max_versions_prune_the_oldest(kv: Any, name: str) -> None:
    kv.update_metadata(name, max_versions=2, mount_point=MOUNT)
    for n in range(1, 4):
        write(kv, name, {"n": n})
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name, version=1)
    assert read(kv, name, version=2)["data"] == {"n": 2}
    meta = kv.read_secret_metadata(name, mount_point=MOUNT)["data"]
    assert meta["current_version"] == 3 and meta["oldest_version"] == 2
    assert sorted(meta["versions"]) == ["2", "3"]


def test_mount_max_versions_applies_to_every_key(client: hvac.Client, kv: Any, name: str) -> None:
    mount = fresh_mount(client)
    kv.configure(max_versions=3, mount_point=mount)
    for n in range(1, 6):
        write(kv, name, {"n": n}, mount_point=mount)
    meta = kv.read_secret_metadata(name, mount_point=mount)["data"]
    assert sorted(meta["versions"]) == ["3", "4", "5"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name, version=2, mount=mount)


def test_soft_delete_hides_a_version_and_undelete_restores_it(kv: Any, name: str) -> None:
    write(kv, name, {"v": "1"})
    write(kv, name, {"v": "2"})
    kv.delete_latest_version_of_secret(name, mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name)
    # Vault answers 404 but still describes the deleted version; hvac can return that body.
    deleted = kv.read_secret_version(name, mount_point=MOUNT, raise_on_deleted_version=False)
    assert deleted["data"]["data"] is None
    assert deleted["data"]["metadata"]["version"] == 2
    assert RFC3339_NANO.fullmatch(deleted["data"]["metadata"]["deletion_time"])

    kv.delete_secret_versions(name, [1], mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name, version=1)

    kv.undelete_secret_versions(name, [1, 2], mount_point=MOUNT)
    assert read(kv, name, version=1)["data"] == {"v": "1"}
    assert read(kv, name)["data"] == {"v": "2"}
    assert read(kv, name)["metadata"]["deletion_time"] == ""


def test_destroyed_version_is_404_and_cannot_be_undeleted(kv: Any, name: str) -> None:
    write(kv, name, {"v": "1"})
    write(kv, name, {"v": "2"})
    kv.destroy_secret_versions(name, [1], mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name, version=1)
    kv.undelete_secret_versions(name, [1], mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name, version=1)
    versions = kv.read_secret_metadata(name, mount_point=MOUNT)["data"]["versions"]
    assert versions["1"]["destroyed"] is True and versions["2"]["destroyed"] is False
    assert read(kv, name)["data"] == {"v": "2"}


def test_delete_version_after_expires_new_versions(kv: Any, name: str) -> None:
    # 5 s, not 1 s: the first read must land before the deletion time on a loaded machine too.
    kv.update_metadata(name, delete_version_after="5s", mount_point=MOUNT)
    written = write(kv, name, {"v": "1"})
    written_at = time.monotonic()
    assert RFC3339_NANO.fullmatch(written["deletion_time"])
    assert read(kv, name)["data"] == {"v": "1"}
    while True:
        try:
            read(kv, name)
        except hvac.exceptions.InvalidPath:
            break
        assert time.monotonic() - written_at < 15, "the version outlived delete_version_after"
        time.sleep(0.2)
    meta = kv.read_secret_metadata(name, mount_point=MOUNT)["data"]
    assert meta["delete_version_after"] == "5s"


# --- patch --------------------------------------------------------------------------------------


def test_hvac_patch_merges_into_a_new_version(kv: Any, name: str) -> None:
    write(kv, name, {"user": "alice", "password": "old"})
    # hvac's patch reads without raise_on_deleted_version, which warns; the read itself is fine.
    with pytest.warns(DeprecationWarning, match="raise_on_deleted_version"):
        kv.patch(name, {"password": "new"}, mount_point=MOUNT)
    current = read(kv, name)
    assert current["data"] == {"user": "alice", "password": "new"}
    assert current["metadata"]["version"] == 2


def test_http_patch_is_a_json_merge_patch(http: httpx.Client, kv: Any, name: str) -> None:
    write(kv, name, {"user": "alice", "tmp": "x", "nested": {"a": "1", "b": "2"}})
    headers = {**ROOT, "Content-Type": "application/merge-patch+json"}
    body = {"data": {"tmp": None, "nested": {"b": None, "c": "3"}, "new": "y"}, "options": {}}
    response = http.patch(f"/v1/{MOUNT}/data/{name}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["version"] == 2
    assert read(kv, name)["data"] == {"user": "alice", "nested": {"a": "1", "c": "3"}, "new": "y"}

    stale = {"data": {"user": "bob"}, "options": {"cas": 1}}
    response = http.patch(f"/v1/{MOUNT}/data/{name}", json=stale, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "check-and-set parameter did not match the current version"
    ]


def test_patch_needs_a_live_latest_version(http: httpx.Client, kv: Any, name: str) -> None:
    headers = {**ROOT, "Content-Type": "application/merge-patch+json"}
    body = {"data": {"a": "b"}}
    assert http.patch(f"/v1/{MOUNT}/data/{name}", json=body, headers=headers).status_code == 404
    write(kv, name, {"a": "1"})
    kv.delete_latest_version_of_secret(name, mount_point=MOUNT)
    assert http.patch(f"/v1/{MOUNT}/data/{name}", json=body, headers=headers).status_code == 404
    assert kv.read_secret_metadata(name, mount_point=MOUNT)["data"]["current_version"] == 1


# --- metadata -----------------------------------------------------------------------------------


def test_metadata_read_has_vaults_fields(kv: Any, name: str) -> None:
    write(kv, name, {"v": "1"})
    kv.update_metadata(name, max_versions=5, custom_metadata={"owner": "ops"}, mount_point=MOUNT)
    meta = kv.read_secret_metadata(name, mount_point=MOUNT)["data"]
    assert set(meta) == {
        "cas_required", "created_time", "current_version", "custom_metadata",
        "delete_version_after", "max_versions", "oldest_version", "updated_time", "versions",
    }  # fmt: skip
    assert meta["max_versions"] == 5 and meta["custom_metadata"] == {"owner": "ops"}
    assert meta["current_version"] == 1 and meta["oldest_version"] == 0
    assert set(meta["versions"]["1"]) == {"created_time", "deletion_time", "destroyed"}
    assert read(kv, name)["metadata"]["custom_metadata"] == {"owner": "ops"}


@pytest.mark.parametrize(
    ("custom", "fragment"),
    [
        ({f"k{i}": "v" for i in range(65)}, "payload must contain at most 64 keys"),
        ({"k" * 129: "v"}, "length of key"),
        ({"k": "v" * 513}, "length of value"),
    ],
    ids=["65-keys", "long-key", "long-value"],
)
def test_custom_metadata_limits_are_400(
    kv: Any, name: str, custom: dict[str, str], fragment: str
) -> None:
    write(kv, name, {"v": "1"})
    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        kv.update_metadata(name, custom_metadata=custom, mount_point=MOUNT)
    assert any(fragment in e for e in errors_of(caught.value)), caught.value
    assert kv.read_secret_metadata(name, mount_point=MOUNT)["data"]["custom_metadata"] is None


def test_metadata_patch_merges_custom_metadata(http: httpx.Client, kv: Any, name: str) -> None:
    write(kv, name, {"v": "1"})
    kv.update_metadata(name, custom_metadata={"a": "1", "b": "2"}, mount_point=MOUNT)
    headers = {**ROOT, "Content-Type": "application/merge-patch+json"}
    body = {"custom_metadata": {"a": None, "c": "3"}, "max_versions": 7}
    response = http.patch(f"/v1/{MOUNT}/metadata/{name}", json=body, headers=headers)
    assert response.status_code == 204, response.text
    meta = kv.read_secret_metadata(name, mount_point=MOUNT)["data"]
    assert meta["custom_metadata"] == {"b": "2", "c": "3"} and meta["max_versions"] == 7


def test_list_secrets_shows_folders_of_metadata(client: hvac.Client, kv: Any) -> None:
    mount = fresh_mount(client)
    for path in ("db", "app/one", "app/two", "app/deep/three"):
        write(kv, path, {"v": "1"}, mount_point=mount)
    assert kv.list_secrets("", mount_point=mount)["data"]["keys"] == ["app/", "db"]
    assert kv.list_secrets("app", mount_point=mount)["data"]["keys"] == ["deep/", "one", "two"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets("nothing-here", mount_point=mount)


def test_deleting_metadata_removes_every_version(kv: Any) -> None:
    name = f"gone-{uuid.uuid4().hex[:8]}/leaf"
    for n in range(3):
        write(kv, name, {"n": n})
    kv.delete_metadata_and_all_versions(name, mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_metadata(name, mount_point=MOUNT)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, name, version=1)
    folder, _, leaf = name.rpartition("/")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets(folder, mount_point=MOUNT)  # the only secret there is gone
    assert write(kv, name, {"n": "again"})["version"] == 1
    assert kv.list_secrets(folder, mount_point=MOUNT)["data"]["keys"] == [leaf]


# --- subkeys ------------------------------------------------------------------------------------


def test_subkeys_show_structure_without_values(client: hvac.Client, kv: Any, name: str) -> None:
    write(kv, name, {"foo": "abc", "bar": {"baz": "def", "deep": {"x": "1"}}, "quux": {}})
    url = f"/v1/{MOUNT}/subkeys/{name}"
    full = client.adapter.get(url)["data"]
    assert full["subkeys"] == {"foo": None, "bar": {"baz": None, "deep": {"x": None}}, "quux": None}
    assert full["metadata"]["version"] == 1
    assert client.adapter.get(url, params={"depth": 1})["data"]["subkeys"] == {
        "foo": None,
        "bar": None,
        "quux": None,
    }
    two = client.adapter.get(url, params={"depth": 2})["data"]["subkeys"]
    assert two == {"foo": None, "bar": {"baz": None, "deep": None}, "quux": None}
    write(kv, name, {"only": "this"})
    old = client.adapter.get(url, params={"version": 1, "depth": 1})["data"]["subkeys"]
    assert old == {"foo": None, "bar": None, "quux": None}


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "body", "fragment"),
    [
        ("delete", {"versions": "abc"}, "versions"),
        ("delete", {"versions": ["x"]}, "versions"),
        ("destroy", {"versions": [-1]}, "versions"),
        ("undelete", {"versions": {"1": 1}}, "versions"),
        ("delete", {}, "no version number provided"),
        ("data", {"data": {"v": "x"}, "options": {"cas": -1}}, "check-and-set"),
        ("data", {"data": "not an object"}, '"data"'),
        ("data", {"data": ["a"]}, '"data"'),
        ("data", {"v": "v1-style body"}, "no data provided"),
        ("data", {"data": {"v": "x"}, "options": "cas=1"}, '"options"'),
        ("metadata", {"custom_metadata": {"k": {"nested": "x"}}}, "custom_metadata"),
        ("metadata", {"max_versions": -3}, "max_versions"),
    ],
)
def test_bad_input_is_400_and_writes_nothing(
    http: httpx.Client, kv: Any, name: str, endpoint: str, body: dict[str, Any], fragment: str
) -> None:
    write(kv, name, {"v": "kept"})
    before = kv.read_secret_metadata(name, mount_point=MOUNT)["data"]
    response = http.post(f"/v1/{MOUNT}/{endpoint}/{name}", json=body, headers=ROOT)
    assert response.status_code == 400, response.text
    assert any(fragment in e for e in response.json()["errors"]), response.text
    assert kv.read_secret_metadata(name, mount_point=MOUNT)["data"] == before
    assert read(kv, name)["data"] == {"v": "kept"}


def test_bad_secret_paths_are_400(http: httpx.Client) -> None:
    # httpx removes literal "." and ".." segments, so those are sent percent-encoded.
    for path in ("data/a//b", "data/a/%2E/b", "data/a/%2E%2E/b", "data/a/", "metadata/x//y"):
        response = http.post(f"/v1/{MOUNT}/{path}", json={"data": {"v": "1"}}, headers=ROOT)
        assert response.status_code == 400, (path, response.text)


# --- ACL: create vs update vs patch -------------------------------------------------------------


def test_existence_check_makes_first_write_create_and_later_ones_update(
    server: HushProcess, client: hvac.Client, http: httpx.Client, name: str
) -> None:
    policy = f'path "{MOUNT}/data/{name}" {{ capabilities = ["create", "patch"] }}'
    client.sys.create_or_update_policy("kv2-create-patch", policy)
    token = client.auth.token.create(policies=["kv2-create-patch"])["auth"]["client_token"]
    limited = server.client(token).secrets.kv.v2
    assert write(limited, name, {"v": "1"})["version"] == 1  # no metadata yet: "create"
    with pytest.raises(hvac.exceptions.Forbidden):
        write(limited, name, {"v": "2"})  # the secret exists now: "update"
    headers = {"X-Vault-Token": token, "Content-Type": "application/merge-patch+json"}
    response = http.patch(f"/v1/{MOUNT}/data/{name}", json={"data": {"p": "x"}}, headers=headers)
    assert response.status_code == 200, response.text


# --- mount types and the v1 → v2 upgrade ---------------------------------------------------------


def test_kv_v2_type_shorthand_mounts_version_2(client: hvac.Client, kv: Any, name: str) -> None:
    mount = fresh_mount(client)  # enabled as type "kv-v2"
    assert write(kv, name, {"v": "1"}, mount_point=mount)["version"] == 1
    assert read(kv, name, mount=mount)["data"] == {"v": "1"}


def test_upgrading_a_v1_mount_keeps_every_secret_as_version_1(
    client: hvac.Client, http: httpx.Client, kv: Any
) -> None:
    client.sys.enable_secrets_engine("kv", path="up", options={"version": "1"})
    # Names that look like the v2 layout's own folders must survive as ordinary secrets.
    secrets = {
        "db": {"password": "p1"},
        "meta/x": {"a": "1"},
        "versions/deep/y": {"b": "2", "n": 3},
    }
    for path, secret in secrets.items():
        client.secrets.kv.v1.create_or_update_secret(path, secret, mount_point="up")

    response = http.post("/v1/sys/mounts/up/tune", json={"options": {"version": "2"}}, headers=ROOT)
    assert response.status_code in (200, 204), response.text

    for path, secret in secrets.items():
        current = read(kv, path, mount="up")
        assert current["data"] == secret
        assert current["metadata"]["version"] == 1
    assert kv.list_secrets("", mount_point="up")["data"]["keys"] == ["db", "meta/", "versions/"]
    assert write(kv, "db", {"password": "p2"}, cas=1, mount_point="up")["version"] == 2

    # Tuning again (same version) does not run the upgrade a second time.
    response = http.post("/v1/sys/mounts/up/tune", json={"options": {"version": "2"}}, headers=ROOT)
    assert response.status_code in (200, 204), response.text
    assert read(kv, "db", mount="up")["data"] == {"password": "p2"}
    assert kv.read_secret_metadata("db", mount_point="up")["data"]["current_version"] == 2
