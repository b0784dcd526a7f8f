"""Auto-unseal seals: the devices that wrap a node's unseal key (see :mod:`.base`).

:func:`build_seal` turns a ``seal "<type>" { ... }`` stanza's options, with Vault's environment
overrides applied (environment first, as Vault and OpenBao do), into a :class:`Seal`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hush.barrier.seals.awskms import AwsKmsSeal
from hush.barrier.seals.base import SECRET_OPTIONS, Seal, SealUnavailable, WrappedKey
from hush.barrier.seals.pkcs11 import Pkcs11Seal
from hush.barrier.seals.static import StaticSeal
from hush.barrier.seals.transit import TransitSeal

__all__ = [
    "SEAL_OPTIONS",
    "SEAL_TYPES",
    "SECRET_OPTIONS",
    "Seal",
    "SealUnavailable",
    "WrappedKey",
    "build_seal",
    "seal_options",
]

SEAL_TYPES: dict[str, type[Seal]] = {
    "static": StaticSeal,
    "transit": TransitSeal,
    "pkcs11": Pkcs11Seal,
    "awskms": AwsKmsSeal,
}

# Seal type -> option -> environment variables that override it (first set wins). Vault's names
# where they are specific to the seal; HUSH_ names everywhere (VAULT_ADDR and VAULT_TOKEN would
# clash with the CLI's own settings, so the transit address and token use HUSH_ names only).
SEAL_OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "static": {
        "current_key_id": (),
        "current_key": (),
        "previous_key_id": (),
        "previous_key": (),
    },
    "transit": {
        "address": ("HUSH_TRANSIT_SEAL_ADDRESS",),
        "token": ("HUSH_TRANSIT_SEAL_TOKEN",),
        "key_name": ("HUSH_TRANSIT_SEAL_KEY_NAME", "VAULT_TRANSIT_SEAL_KEY_NAME"),
        "mount_path": ("HUSH_TRANSIT_SEAL_MOUNT_PATH", "VAULT_TRANSIT_SEAL_MOUNT_PATH"),
        "namespace": ("HUSH_TRANSIT_SEAL_NAMESPACE",),
        "disable_renewal": ("VAULT_TRANSIT_SEAL_DISABLE_RENEWAL",),
        "tls_ca_cert": ("HUSH_TRANSIT_SEAL_CACERT",),
        "tls_client_cert": ("HUSH_TRANSIT_SEAL_CLIENT_CERT",),
        "tls_client_key": ("HUSH_TRANSIT_SEAL_CLIENT_KEY",),
        "tls_skip_verify": ("HUSH_TRANSIT_SEAL_SKIP_VERIFY",),
    },
    "pkcs11": {
        "lib": ("HUSH_HSM_LIB", "VAULT_HSM_LIB"),
        "slot": ("HUSH_HSM_SLOT", "VAULT_HSM_SLOT"),
        "token_label": ("HUSH_HSM_TOKEN_LABEL", "VAULT_HSM_TOKEN_LABEL"),
        "pin": ("HUSH_HSM_PIN", "VAULT_HSM_PIN"),
        "key_label": ("HUSH_HSM_KEY_LABEL", "VAULT_HSM_KEY_LABEL"),
        "mechanism": ("HUSH_HSM_MECHANISM", "VAULT_HSM_MECHANISM"),
        "generate_key": ("HUSH_HSM_GENERATE_KEY", "VAULT_HSM_GENERATE_KEY"),
    },
    "awskms": {
        "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
        "access_key": ("AWS_ACCESS_KEY_ID",),
        "secret_key": ("AWS_SECRET_ACCESS_KEY",),
        "session_token": ("AWS_SESSION_TOKEN",),
        "kms_key_id": ("HUSH_AWSKMS_SEAL_KEY_ID", "VAULT_AWSKMS_SEAL_KEY_ID"),
        "endpoint": ("AWS_KMS_ENDPOINT",),
    },
}


def seal_options(
    kind: str, options: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The stanza's options with environment overrides applied."""
    env = os.environ if environ is None else environ
    merged = dict(options)
    for name, variables in SEAL_OPTIONS[kind].items():
        for variable in variables:
            if env.get(variable):
                merged[name] = env[variable]
                break
    return merged


def build_seal(
    kind: str, options: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> Seal:
    """A seal of type ``kind``; ``ValueError`` for an unknown type. Call ``await seal.open()``."""
    seal_class = SEAL_TYPES.get(kind)
    if seal_class is None:
        raise ValueError(f"unknown seal type {kind!r}; expected one of {', '.join(SEAL_TYPES)}")
    return seal_class(seal_options(kind, options, environ))
