"""Username templates, statement rendering, MySQL DSN parsing and the route table."""

from __future__ import annotations

import asyncio
import re

import pytest

from hush.barrier.view import StorageView
from hush.core.errors import InvalidRequest
from hush.engines.database import DatabaseBackend
from hush.engines.database.plugins import ConnectionSettings, make_plugin
from hush.engines.database.plugins.mysql import parse_mysql_dsn
from hush.engines.database.static_paths import next_rotation
from hush.engines.database.store import StaticRole
from hush.engines.database.templates import UsernameTemplate, render_statement, split_statements
from hush.framework.backend import BackendContext
from hush.storage.memory import MemoryStorage

SETTINGS = ConnectionSettings("{{username}}:{{password}}@tcp(db:3306)/", "root", "pw")


def test_postgres_default_template_matches_vault_shape() -> None:
    plugin = make_plugin("postgresql-database-plugin", SETTINGS)
    name = UsernameTemplate(plugin.default_username_template).render(
        "readonly-role", "userpass-alice"
    )
    assert re.fullmatch(r"v-userpass-readonly-[A-Za-z0-9]{20}-\d{10}", name), name
    assert len(name) <= 63


@pytest.mark.parametrize(
    ("plugin_name", "length"),
    [("mysql-database-plugin", 32), ("mysql-legacy-database-plugin", 16)],
)
def test_mysql_default_templates_truncate_to_the_servers_limit(
    plugin_name: str, length: int
) -> None:
    plugin = make_plugin(plugin_name, SETTINGS)
    name = UsernameTemplate(plugin.default_username_template).render("a-long-role-name", "token")
    assert len(name) == length and name.startswith("v-")


def test_template_functions_and_pipelines() -> None:
    template = UsernameTemplate(
        "app-{{ .RoleName | uppercase }}-{{ .DisplayName | truncate 3 }}"
        '-{{ "a.b" | replace "." "_" }}'
    )
    assert template.render("web", "token") == "app-WEB-tok-a_b"
    assert len(UsernameTemplate("{{ uuid }}").render("r", "d")) == 36
    assert UsernameTemplate('{{ printf "%s-%d%%" .RoleName 5 }}').render("r", "d") == "r-5%"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ nosuch 1 }}", 'function "nosuch" not defined'),
        ("{{ .Secret }}", "can't evaluate field Secret"),
        ("{{ (.RoleName }}", "unexpected end of action"),
        ("{{ truncate }}", "unable to generate username"),
    ],
)
def test_bad_templates_are_refused_when_written(source: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        UsernameTemplate(source)


def test_statements_are_split_and_rendered_like_vault() -> None:
    statements = ['CREATE ROLE "{{name}}"; GRANT x TO "{{name}}";', "  ", "SELECT 1"]
    assert split_statements(statements) == [
        'CREATE ROLE "{{name}}"',
        'GRANT x TO "{{name}}"',
        "SELECT 1",
    ]
    assert render_statement("{{name}}/{{password}}/{{other}}", {"name": "n", "password": "p"}) == (
        "n/p/{{other}}"
    )


def test_mysql_dsn_forms() -> None:
    assert parse_mysql_dsn("{{username}}:{{password}}@tcp(db.example:3307)/app", "u", "p:w@") == {
        "user": "u",
        "password": "p:w@",
        "database": "app",
        "host": "db.example",
        "port": 3307,
    }
    assert parse_mysql_dsn("mysql://{{username}}:{{password}}@h/", "u", "p")["host"] == "h"
    assert parse_mysql_dsn("u:p@unix(/run/mysqld.sock)/", "", "")["unix_socket"] == (
        "/run/mysqld.sock"
    )
    with pytest.raises(InvalidRequest, match="invalid connection_url"):
        parse_mysql_dsn("not a dsn", "u", "p")


def test_next_rotation_by_period_and_cron() -> None:
    period = StaticRole("r", "db", "u", rotation_period=60)
    assert next_rotation(period, 1000.0) == 1060.0
    daily = StaticRole("r", "db", "u", rotation_schedule="0 0 * * *")
    # 2026-01-01T12:00:00Z → next midnight UTC.
    assert next_rotation(daily, 1767268800.0) == 1767312000.0


SAMPLE_PATHS = [
    "config/",
    "config/pg",
    "reset/pg",
    "reload/postgresql-database-plugin",
    "rotate-root/pg",
    "roles/",
    "roles/app",
    "creds/app",
    "static-roles/",
    "static-roles/app",
    "static-creds/app",
    "rotate-role/app",
]


def test_every_path_matches_exactly_one_declared_route() -> None:
    backend = DatabaseBackend(
        BackendContext(StorageView(MemoryStorage(), "logical/t/"), "database/", "t")  # type: ignore[arg-type]
    )
    for sample in SAMPLE_PATHS:
        matches = [p.pattern for p in backend.declared_paths if p.match(sample) is not None]
        assert len(matches) == 1, (sample, matches)
    for path in backend.declared_paths:
        assert path.synopsis and all(f.description for f in path.fields.values()), path.pattern


@pytest.mark.parametrize(
    "source",
    [
        "{{ random 100000000 }}",
        "{{ random -1 }}",
        '{{ "ab" ' + '| replace "" "xxxxxxxx" ' * 12 + "}}",
    ],
)
def test_templates_cannot_stall_the_server(source: str) -> None:
    with pytest.raises(InvalidRequest, match="unable to generate username"):
        UsernameTemplate(source)


def test_mysql_ipv6_and_bad_ports() -> None:
    assert parse_mysql_dsn("u:p@tcp([::1]:3307)/", "", "")["host"] == "::1"
    assert parse_mysql_dsn("u:p@tcp(::1)/", "", "")["port"] == 3306
    with pytest.raises(InvalidRequest, match="bad port"):
        parse_mysql_dsn("u:p@tcp(h:99999)/", "", "")


def test_clearing_a_view_drops_its_due_time_entries_only() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        mine = StorageView(storage, "logical/a/")  # type: ignore[arg-type]
        other = StorageView(storage, "logical/b/")  # type: ignore[arg-type]
        await mine.put("static-role/x", b"{}")
        await mine.schedule("rotation/x", 10.0)
        await other.schedule("rotation/y", 10.0)
        await mine.clear()
        assert [e.key for e in await storage.claim_due(100.0, 10)] == ["logical/b/rotation/y"]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h/db", "postgresql://u:xxxxx@h/db"),
        (
            "postgresql://{{username}}:{{password}}@h/db",
            "postgresql://{{username}}:{{password}}@h/db",
        ),
        ("u:sec@ret@tcp(h:3306)/", "u:xxxxx@tcp(h:3306)/"),
        ("{{username}}:{{password}}@tcp(h)/", "{{username}}:{{password}}@tcp(h)/"),
        ("host=h password=secret user=u", "host=h password=xxxxx user=u"),
        ("host=h password='se cret' user=u", "host=h password=xxxxx user=u"),
        ("mysql://u:pw@h/", "mysql://u:xxxxx@h/"),
    ],
)
def test_config_reads_redact_literal_passwords_in_connection_urls(url: str, shown: str) -> None:
    from hush.engines.database.config_paths import _redacted_url

    assert _redacted_url(url) == shown


def test_a_rotation_that_missed_its_window_waits_for_the_next_scheduled_time() -> None:
    from hush.engines.database.store import rotation_key

    async def scenario() -> None:
        storage = MemoryStorage()
        view = StorageView(storage, "logical/t/")  # type: ignore[arg-type]
        backend = DatabaseBackend(BackendContext(view, "database/", "t"))
        midnight = 1767225600.0  # 2026-01-01T00:00:00Z
        role = StaticRole(
            "nightly",
            "db",
            "u",
            rotation_schedule="0 0 * * *",
            rotation_window=3600,
            next_rotation=midnight,
        )
        await backend.store.put_static_role(role)
        await view.schedule(rotation_key("nightly"), midnight)
        # Two hours late: outside the one-hour window, so no database is touched.
        assert await backend.static_roles.rotate_due(midnight + 7200) == []
        due = await storage.claim_due(1e12, 10)
        assert [(e.key, e.due_at) for e in due] == [
            ("logical/t/rotation/nightly", midnight + 86400)
        ]

    asyncio.run(scenario())
