"""Database passwords never reach storage in clear, the server's output or the audit log.

The root password given to ``config/:name``, every generated dynamic and static password, and a
password sent with a connection that fails are searched for in the SQLite files, the server
output and the audit file, in clear, hex and base64.
"""

from __future__ import annotations

import uuid

import hvac.exceptions
import pytest

from tests.conftest import ServerFactory
from tests.security.test_canary import _assert_absent, _sqlite_dump
from tests.support.databases import PostgresTarget

pytestmark = pytest.mark.postgres


def test_database_passwords_never_reach_storage_logs_or_audit(
    sealed_server: ServerFactory, pg_target: PostgresTarget
) -> None:
    server = sealed_server("sqlite")
    init = server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    client = server.client(str(init["root_token"]))
    client.sys.submit_unseal_keys(init["keys"])
    audit_log = server.workdir / "audit.log"
    client.sys.enable_audit_device("file", options={"file_path": str(audit_log)})
    client.sys.enable_secrets_engine("database", path="db")
    db = client.secrets.database
    db.configure(
        "pg",
        "postgresql-database-plugin",
        connection_url=pg_target.connection_url,
        username=pg_target.root_user,
        password=pg_target.root_password,
        allowed_roles="*",
        username_template=pg_target.username_template,
        mount_point="db",
    )
    db.create_role(
        "app",
        "pg",
        ["CREATE ROLE \"{{name}}\" LOGIN PASSWORD '{{password}}'"],
        mount_point="db",
    )
    dynamic = [db.generate_credentials("app", mount_point="db")["data"] for _ in range(2)]
    static_user = f"{pg_target.prefix}static"
    with pg_target.connect(pg_target.root_user, pg_target.root_password) as conn:
        conn.execute(f"CREATE ROLE \"{static_user}\" LOGIN PASSWORD 'initial'")
    db.create_static_role("static", "pg", static_user, [], rotation_period="1h", mount_point="db")
    static_first = db.get_static_credentials("static", mount_point="db")["data"]["password"]
    db.rotate_static_role_credentials("static", mount_point="db")
    static_second = db.get_static_credentials("static", mount_point="db")["data"]["password"]
    failed = f"Canary-{uuid.uuid4().hex}"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        db.configure(
            "down",
            "postgresql-database-plugin",
            connection_url="postgresql://{{username}}:{{password}}@127.0.0.1:1/x",
            username="u",
            password=failed,
            mount_point="db",
        )
    # Bad SQL whose error text quotes the generated password: the engine must scrub it.
    db.create_role(
        "bad",
        "pg",
        ['CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\'; SELECT * FROM "{{password}}"'],
        mount_point="db",
    )
    with pytest.raises(hvac.exceptions.InvalidRequest) as exc:
        db.generate_credentials("bad", mount_point="db")
    assert 'relation "[redacted]" does not exist' in str(exc.value)
    expected = sorted([static_user, *(c["username"] for c in dynamic)])
    assert sorted(pg_target.roles_with_prefix()) == expected  # the failed user was rolled back
    db.rotate_root_credentials("pg", mount_point="db")

    secrets = {
        "root password": pg_target.root_password.encode(),
        "failed connection password": failed.encode(),
        "static password 1": static_first.encode(),
        "static password 2": static_second.encode(),
        **{f"dynamic password {i}": c["password"].encode() for i, c in enumerate(dynamic)},
    }
    stored = _sqlite_dump(server.workdir)()
    _assert_absent(stored, secrets, "the SQLite files")
    _assert_absent(server.log_text().encode(), secrets, "the server output")
    audit = audit_log.read_bytes()
    assert b"db/creds/app" in audit  # positive control: the requests were audited
    _assert_absent(audit, secrets, "the audit log")
