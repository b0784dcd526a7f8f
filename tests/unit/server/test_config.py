"""Server configuration: Vault-style HCL and JSON into typed objects, and actionable errors."""

from __future__ import annotations

import dataclasses
import json
import keyword
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.server.config import (
    ConfigError,
    ListenerConfig,
    ServerConfig,
    StorageConfig,
    load_config,
    parse_config,
)

FULL_HCL = dedent(
    """\
    # A complete Vault-style configuration.
    storage "sqlite" {
      path = "/var/lib/hush/hush.db"
    }

    listener "tcp" {
      address = "127.0.0.1:8200"
      tls_disable = true
      max_request_size = 1048576
      unauthenticated_metrics_access = true
    }

    listener "tcp" {
      address       = "0.0.0.0:8201"
      tls_cert_file = "/etc/hush/cert.pem"
      tls_key_file  = "/etc/hush/key.pem"
    }

    ui = true
    api_addr = "https://hush.example.com:8200"
    cluster_addr = "https://hush-1.internal:8201"
    log_level = "debug"
    log_format = "json"
    disable_mlock = true
    default_lease_ttl = "1h30m"
    max_lease_ttl = "768h"
    cluster_name = "hush-cluster"
    """
)

FULL_JSON = """\
{
  "storage": {"sqlite": {"path": "/var/lib/hush/hush.db"}},
  "listener": [
    {"tcp": {"address": "127.0.0.1:8200", "tls_disable": true, "max_request_size": 1048576,
             "unauthenticated_metrics_access": true}},
    {"tcp": {"address": "0.0.0.0:8201", "tls_cert_file": "/etc/hush/cert.pem",
             "tls_key_file": "/etc/hush/key.pem"}}
  ],
  "ui": true,
  "api_addr": "https://hush.example.com:8200",
  "cluster_addr": "https://hush-1.internal:8201",
  "log_level": "debug",
  "log_format": "json",
  "disable_mlock": true,
  "default_lease_ttl": "1h30m",
  "max_lease_ttl": "768h",
  "cluster_name": "hush-cluster"
}
"""

FULL_EXPECTED = ServerConfig(
    storage=StorageConfig(kind="sqlite", options={"path": "/var/lib/hush/hush.db"}),
    listeners=(
        ListenerConfig(
            address="127.0.0.1:8200",
            tls_disable=True,
            tls_cert_file=None,
            tls_key_file=None,
            max_request_size=1048576,
            unauthenticated_metrics_access=True,
        ),
        ListenerConfig(
            address="0.0.0.0:8201",
            tls_disable=False,
            tls_cert_file="/etc/hush/cert.pem",
            tls_key_file="/etc/hush/key.pem",
            max_request_size=32 * 1024 * 1024,
            unauthenticated_metrics_access=False,
        ),
    ),
    ui=True,
    api_addr="https://hush.example.com:8200",
    cluster_addr="https://hush-1.internal:8201",
    log_level="debug",
    log_format="json",
    default_lease_ttl=5400,
    max_lease_ttl=768 * 3600,
    cluster_name="hush-cluster",
    disable_mlock=True,
)

MINIMAL = 'storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n}\n'


def config_error(text: str, filename: str = "hush.hcl") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, filename=filename)
    return caught.value


# --- what parses --------------------------------------------------------------------------------


def test_full_hcl_example_parses_into_typed_values() -> None:
    assert parse_config(FULL_HCL, filename="hush.hcl") == FULL_EXPECTED


def test_json_config_gives_the_same_result_as_hcl() -> None:
    assert parse_config(FULL_JSON, filename="hush.json") == FULL_EXPECTED


def test_load_config_picks_the_format_by_suffix(tmp_path: Path) -> None:
    (tmp_path / "hush.hcl").write_text(FULL_HCL, encoding="utf-8")
    (tmp_path / "hush.json").write_text(FULL_JSON, encoding="utf-8")
    assert load_config(tmp_path / "hush.hcl") == FULL_EXPECTED
    assert load_config(str(tmp_path / "hush.json")) == FULL_EXPECTED


def test_unset_keys_take_vault_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.storage == StorageConfig(kind="inmem", options={})
    assert config.listeners == (
        ListenerConfig(
            address="127.0.0.1:8200",
            tls_disable=True,
            tls_cert_file=None,
            tls_key_file=None,
            max_request_size=32 * 1024 * 1024,
            unauthenticated_metrics_access=False,
        ),
    )
    assert (config.ui, config.api_addr, config.cluster_addr, config.cluster_name) == (
        False,
        None,
        None,
        None,
    )
    assert (config.log_level, config.log_format, config.disable_mlock) == (
        "info",
        "standard",
        False,
    )
    assert config.default_lease_ttl == config.max_lease_ttl == 768 * 3600


@pytest.mark.parametrize("size", ["0", "-1"])
def test_max_request_size_of_zero_or_less_means_the_default(size: str) -> None:
    text = MINIMAL.replace("tls_disable = true", f"tls_disable = true\n  max_request_size = {size}")
    assert parse_config(text).listeners[0].max_request_size == 32 * 1024 * 1024


def test_postgresql_options_are_strings() -> None:
    config = parse_config(
        dedent(
            """\
            storage "postgresql" {
              connection_url = "postgresql://hush:pw@db/hush"
              table = "hush_store"
              max_parallel = 8
            }
            listener "tcp" { tls_disable = "true" }
            """
        )
    )
    assert dict(config.storage.options) == {
        "connection_url": "postgresql://hush:pw@db/hush",
        "table": "hush_store",
        "max_parallel": "8",
    }


def test_storage_repr_redacts_the_connection_url() -> None:
    config = parse_config(
        'storage "postgresql" {\n  connection_url = "postgresql://hush:s3cr3t@db/hush"\n}\n'
        'listener "tcp" { tls_disable = true }\n'
    )
    assert "s3cr3t" not in repr(config)
    assert "<redacted>" in repr(config.storage)


def test_configuration_objects_are_frozen() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.ui = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.storage.options["path"] = "/tmp/x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("written", "level"),
    [("trace", "trace"), ("DEBUG", "debug"), ("notice", "info"), ("warning", "warn"),
     ("err", "error")],
)  # fmt: skip
def test_vault_log_level_aliases_are_accepted(written: str, level: str) -> None:
    assert parse_config(f'{MINIMAL}log_level = "{written}"\n').log_level == level


def test_vault_nested_listener_telemetry_block_is_accepted() -> None:
    text = MINIMAL.replace(
        "tls_disable = true",
        "tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = true\n  }",
    )
    assert parse_config(text).listeners[0].unauthenticated_metrics_access is True


def test_lease_ttls_accept_seconds_and_days() -> None:
    config = parse_config(f'{MINIMAL}default_lease_ttl = 3600\nmax_lease_ttl = "30d"\n')
    assert (config.default_lease_ttl, config.max_lease_ttl) == (3600, 30 * 86400)


# --- errors: file, line and a way forward ------------------------------------------------------


def test_misspelt_top_level_key_suggests_the_right_one() -> None:
    error = config_error('# comment\n\nstorag "sqlite" {\n  path = "/x"\n}\n')
    assert str(error) == 'hush.hcl: unknown key "storag" at line 3 (did you mean "storage"?)'
    assert (error.filename, error.line) == ("hush.hcl", 3)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            'storage "sqlite" {\n  pth = "/x"\n}\n',
            2,
            'unknown key "pth" in storage "sqlite" at line 2 (did you mean "path"?)',
        ),
        (
            MINIMAL.replace("tls_disable", "tls_disabel"),
            3,
            'unknown key "tls_disabel" in listener at line 3 (did you mean "tls_disable"?)',
        ),
        (f"{MINIMAL}zzz = 1\n", 5, 'unknown key "zzz" at line 5 (valid keys: api_addr,'),
        ('storage "sqlite" {\n}\n', 1, 'storage "sqlite" block at line 1 needs "path"'),
        (
            'storage "sqlite" {\n  path = ""\n}\n',
            2,
            '"path" in storage "sqlite" at line 2 is empty',
        ),
        ('storage "mysql" {}\n', 1, 'storage type "mysql" at line 1 is not supported; use one of'),
        ("storage {}\n", 1, "storage block at line 1 needs exactly one type label"),
        (f'{MINIMAL}storage "inmem" {{}}\n', 5, "a second storage block at line 5"),
        ('storage = "inmem"\n', 1, '"storage" at line 1 must be a block'),
        (f"{MINIMAL}ui {{}}\n", 5, '"ui" at line 5 must be a value, not a block'),
        (f"{MINIMAL}ui = true\nui = false\n", 6, '"ui" is set twice at line 5 and at line 6'),
        (
            'storage "inmem" {}\nlistener "unix" {}\n',
            2,
            'listener type "unix" at line 2 is not supported yet; only "tcp" is',
        ),
        (
            'storage "inmem" {}\nlistener "tcp" {\n  address = "127.0.0.1"\n'
            "  tls_disable = true\n}",
            3,
            '"address" in listener at line 3 must be host:port',
        ),
        (
            'storage "inmem" {}\nlistener "tcp" {\n}\n',
            2,
            "listener at line 2 has TLS enabled but no tls_cert_file or tls_key_file",
        ),
        (
            'storage "inmem" {}\nlistener "tcp" {\n  tls_cert_file = "/c.pem"\n}\n',
            2,
            "listener at line 2 has TLS enabled but no tls_key_file; set tls_cert_file",
        ),
        (
            f'{MINIMAL}listener "tcp" {{\n  tls_disable = true\n}}\n',
            5,
            'listener at line 5 uses address "127.0.0.1:8200" again (also at line 2)',
        ),
        (f'{MINIMAL}log_level = "loud"\n', 5, "use one of debug, error, info, trace, warn"),
        (f'{MINIMAL}log_format = "xml"\n', 5, '"log_format" at line 5 is "xml"; use one of json'),
        (
            f'{MINIMAL}max_lease_ttl = "1x"\n',
            5,
            'time: unknown unit "x" in duration "1x"',
        ),
        (f'{MINIMAL}default_lease_ttl = "-1h"\n', 5, "negative duration"),
        (
            f'{MINIMAL}max_lease_ttl = "1h"\n',
            5,
            "default_lease_ttl (768h) is longer than max_lease_ttl (1h) at line 5",
        ),
        (f"{MINIMAL}ui = 3\n", 5, '"ui" at line 5 must be true or false, not 3'),
        (f'{MINIMAL}api_addr = "hush:8200"\n', 5, '"api_addr" at line 5 must be a full URL'),
        (f"{MINIMAL}cluster_name = 7\n", 5, '"cluster_name" at line 5 must be a string'),
        (f"{MINIMAL}workers = -1\n", 5, '"workers" at line 5 must be a number of processes'),
        (f"{MINIMAL}workers = 257\n", 5, '"workers" at line 5 must be a number of processes'),
        (f'{MINIMAL}workers = "many"\n', 5, "must be a number of processes from 0 (one per core)"),
        (f"{MINIMAL}cluster_name = var.name\n", 5, "expressions and variables are not supported"),
        (f'{MINIMAL}cluster_name = upper("x")\n', 5, "must be a literal value"),
        (f'{MINIMAL}api_addr = ["https://a"]\n', 5, "must be a string, number or boolean"),
        ('storage "inmem" {\n', 2, "syntax error at line 2"),
        ("ui = = true\n", 1, "syntax error at line 1, column 6"),
    ],
)
def test_errors_name_the_line_and_the_fix(text: str, line: int, message: str) -> None:
    error = config_error(text)
    assert error.line == line
    assert str(error).startswith("hush.hcl: ")
    assert message in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'listener "tcp" { tls_disable = true }\n',
            'no storage block: exactly one is required, for example storage "sqlite"',
        ),
        (
            'storage "inmem" {}\n',
            'no listener block: at least one is required, for example listener "tcp"',
        ),
    ],
)
def test_missing_blocks_are_explained(text: str, message: str) -> None:
    error = config_error(text)
    assert error.line is None
    assert message in str(error)


@pytest.mark.parametrize(
    "snippet",
    [
        'telemetry {\n  statsite_address = "x:1"\n}',
        'ha_storage "consul" {}',
        'plugin_directory = "/plugins"',
        'service_registration "consul" {}',
    ],
)
def test_known_vault_keys_not_implemented_say_so(snippet: str) -> None:
    error = config_error(f"{MINIMAL}{snippet}\n")
    name = snippet.split(maxsplit=1)[0]
    assert str(error) == f'hush.hcl: "{name}" at line 5 is not supported yet; remove it'


def test_unsupported_listener_key_says_so() -> None:
    text = MINIMAL.replace("tls_disable = true", 'tls_disable = true\n  tls_min_version = "tls13"')
    assert '"tls_min_version" in listener at line 4 is not supported yet' in str(config_error(text))


def test_errors_never_show_storage_option_values() -> None:
    text = (
        'storage "postgresql" {\n  connection_url = ["postgresql://hush:s3cr3t@db/hush"]\n}\n'
        'listener "tcp" { tls_disable = true }\n'
    )
    error = config_error(text)
    assert error.line == 2
    assert "s3cr3t" not in str(error)


def test_syntax_errors_do_not_echo_the_broken_line() -> None:
    error = config_error(
        'storage "postgresql" {\n  connection_url = "postgresql://u:s3cr3t@db\n}\n'
    )
    assert "syntax error" in str(error)
    assert "s3cr3t" not in str(error)


# --- JSON errors carry line numbers too ---------------------------------------------------------


def test_json_unknown_key_reports_its_line() -> None:
    text = (
        '{\n  "storage": {\n    "sqlite": {\n      "path": "/x",\n      "paht": "/y"\n    }\n  }\n}'
    )
    error = config_error(text, filename="hush.json")
    assert str(error) == (
        'hush.json: unknown key "paht" in storage "sqlite" at line 5 (did you mean "path"?)'
    )


def test_json_duplicate_key_is_reported() -> None:
    document = json.loads(FULL_JSON)
    text = FULL_JSON.replace('"ui": true,', '"ui": true,\n  "ui": false,')
    assert document["ui"] is True
    error = config_error(text, filename="hush.json")
    assert '"ui" is set twice at line 9 and at line 10' in str(error)


def test_invalid_json_reports_its_line() -> None:
    error = config_error('{\n  "ui": true,\n}\n', filename="hush.json")
    assert error.line == 3
    assert str(error).startswith("hush.json: invalid JSON at line 3")


def test_json_must_be_an_object() -> None:
    assert "must be an object" in str(config_error("[]", filename="hush.json"))


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.hcl"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read the configuration file")


# --- property: any unknown top-level key is caught at its line ---------------------------------

KNOWN = {
    "storage", "listener", "ui", "api_addr", "cluster_addr", "log_level", "log_format",
    "disable_mlock", "default_lease_ttl", "max_lease_ttl", "cluster_name",
}  # fmt: skip


@settings(deadline=None, max_examples=40)
@given(
    name=st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True).filter(
        lambda n: n not in KNOWN and not keyword.iskeyword(n) and n not in {"true", "false", "null"}
    ),
    blank_lines=st.integers(min_value=0, max_value=5),
)
def test_any_unknown_top_level_key_is_an_error_at_its_line(name: str, blank_lines: int) -> None:
    text = MINIMAL + "\n" * blank_lines + f"{name} = 1\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, filename="hush.hcl")
    line = MINIMAL.count("\n") + blank_lines + 1
    assert caught.value.line == line
    assert f"at line {line}" in str(caught.value)


def test_workers_is_read_and_defaults_to_unset() -> None:
    assert parse_config(MINIMAL).workers is None
    assert parse_config(f"{MINIMAL}workers = 4\n").workers == 4
    assert parse_config(f"{MINIMAL}workers = 0\n").workers == 0  # one per core
