"""The ``seal`` stanza: Vault's key names, one active seal, a disabled one only while migrating."""

from __future__ import annotations

import json

import pytest

from hush.barrier.seals import build_seal, seal_options
from hush.server.config import ConfigError, parse_config

MINIMAL = 'storage "inmem" {}\nlistener "tcp" {\n  tls_disable = true\n}\n'


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, filename="hush.hcl")
    return caught.value


def test_no_seal_block_means_shamir() -> None:
    config = parse_config(MINIMAL)
    assert config.seals == ()
    assert config.seal is None


def test_pkcs11_stanza_with_vault_keys() -> None:
    config = parse_config(
        MINIMAL
        + 'seal "pkcs11" {\n  lib = "/usr/lib/softhsm/libsofthsm2.so"\n  token_label = "hush"\n'
        '  pin = "1234"\n  key_label = "hush-unseal"\n  generate_key = "true"\n}\n'
    )
    assert config.seal is not None
    assert config.seal.kind == "pkcs11"
    assert config.seal.options["key_label"] == "hush-unseal"
    assert config.seal.disabled is False
    assert "1234" not in repr(config)


def test_json_seal_stanza() -> None:
    document = {
        "storage": {"inmem": {}},
        "listener": {"tcp": {"tls_disable": True}},
        "seal": {"transit": {"address": "http://127.0.0.1:8200", "key_name": "k", "token": "t"}},
    }
    config = parse_config(json.dumps(document), filename="hush.json")
    assert config.seal is not None
    assert config.seal.kind == "transit"


def test_disabled_seal_for_migration() -> None:
    config = parse_config(
        MINIMAL + 'seal "static" {\n  current_key_id = "1"\n  current_key = "env://K"\n'
        '  disabled = "true"\n}\n'
    )
    assert config.seal is None
    assert config.disabled_seal is not None
    assert config.disabled_seal.kind == "static"


def test_two_active_seals_are_refused() -> None:
    text = MINIMAL + 'seal "static" {\n  current_key_id = "1"\n}\nseal "awskms" {\n}\n'
    assert "exactly one must have" in str(config_error(text))


def test_unknown_seal_type_lists_the_choices() -> None:
    error = config_error(MINIMAL + 'seal "gcpckms" {\n}\n')
    assert 'seal type "gcpckms" at line 5 is not supported' in str(error)
    assert '"pkcs11"' in str(error)


def test_misspelt_seal_key_is_an_error_with_a_hint() -> None:
    error = config_error(MINIMAL + 'seal "pkcs11" {\n  key_lable = "x"\n}\n')
    assert 'unknown key "key_lable" in seal "pkcs11" at line 6' in str(error)
    assert 'did you mean "key_label"' in str(error)


def test_seal_errors_never_show_secrets() -> None:
    error = config_error(MINIMAL + 'seal "transit" {\n  token = ["s.canary-token"]\n}\n')
    assert "canary" not in str(error)


def test_environment_overrides_the_file_as_vault_does() -> None:
    options = seal_options(
        "pkcs11",
        {"pin": "file-pin", "key_label": "a"},
        {"VAULT_HSM_PIN": "vault-env-pin", "HUSH_HSM_KEY_LABEL": "b"},
    )
    assert options == {"pin": "vault-env-pin", "key_label": "b"}
    assert seal_options("pkcs11", {"pin": "x"}, {"HUSH_HSM_PIN": "h", "VAULT_HSM_PIN": "v"}) == {
        "pin": "h"
    }


def test_unknown_seal_type_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="unknown seal type"):
        build_seal("nope", {})
