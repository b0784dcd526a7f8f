"""The ``config`` of a kubernetes mount: where the API server is and how to call TokenReview.

A write replaces the configuration (Vault's ``path_config.go``). ``token_reviewer_jwt`` is
stored behind the barrier and never returned. When ``disable_local_ca_jwt`` is false and Hush
runs in a pod, the pod's own service-account token and CA (the files Kubernetes mounts at
:data:`LOCAL_TOKEN_PATH` and :data:`LOCAL_CA_PATH`) fill in what the configuration leaves empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from hush.auth.tls import ssl_context
from hush.core.errors import InvalidRequest, Unsupported
from hush.crypto import SecretBytes
from hush.framework.fields import Field, FieldData, FieldType

__all__ = ["CONFIG_FIELDS", "LOCAL_CA_PATH", "LOCAL_TOKEN_PATH", "KubernetesConfig", "parse_config"]

LOCAL_TOKEN_PATH: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
LOCAL_CA_PATH: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")

CONFIG_FIELDS: Final[Mapping[str, Field]] = {
    "kubernetes_host": Field(
        FieldType.STRING,
        "Host must be a host string, a host:port pair, or a URL to the base "
        "of the Kubernetes API server.",
    ),
    "kubernetes_ca_cert": Field(
        FieldType.STRING, "PEM encoded CA cert for use by the TLS client used to talk with the API."
    ),
    "token_reviewer_jwt": Field(
        FieldType.STRING,
        "A service account JWT used to access the TokenReview API to validate other JWTs "
        "during login (never returned). If not set the JWT used for login will be used.",
        sensitive=True,
        max_length=16 * 1024,
    ),
    "pem_keys": Field(
        FieldType.COMMA_STRING_LIST, "Not supported by Hush (local JWT verification)."
    ),
    "issuer": Field(
        FieldType.STRING, "Accepted for compatibility; the TokenReview API checks issuers."
    ),
    "disable_iss_validation": Field(
        FieldType.BOOL, "Accepted for compatibility (deprecated).", default=True
    ),
    "disable_local_ca_jwt": Field(
        FieldType.BOOL,
        "Disable defaulting to the local CA cert and service account JWT when running in a pod.",
    ),
    "use_annotations_as_alias_metadata": Field(FieldType.BOOL, "Not supported by Hush yet."),
}


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    """The validated configuration of one kubernetes mount."""

    kubernetes_host: str
    kubernetes_ca_cert: str = ""
    token_reviewer_jwt: str = field(default="", repr=False)
    issuer: str = ""
    disable_iss_validation: bool = True
    disable_local_ca_jwt: bool = False

    def to_bytes(self) -> bytes:
        """The storage form (behind the barrier)."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, blob: bytes) -> KubernetesConfig:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})

    def render(self) -> dict[str, Any]:
        """A read: everything but the reviewer JWT."""
        return {
            "kubernetes_host": self.kubernetes_host,
            "kubernetes_ca_cert": self.kubernetes_ca_cert,
            "pem_keys": [],
            "issuer": self.issuer,
            "disable_iss_validation": self.disable_iss_validation,
            "disable_local_ca_jwt": self.disable_local_ca_jwt,
            "use_annotations_as_alias_metadata": False,
        }

    def ca_pem(self) -> str:
        """The CA to trust: configured, else the pod's own (unless disabled), else the system's."""
        if self.kubernetes_ca_cert or self.disable_local_ca_jwt:
            return self.kubernetes_ca_cert
        return _read_local(LOCAL_CA_PATH)

    def reviewer(self) -> SecretBytes | None:
        """The reviewer JWT: configured, else the pod's own (unless disabled), else none."""
        if self.token_reviewer_jwt:
            return SecretBytes(self.token_reviewer_jwt.encode())
        if self.disable_local_ca_jwt:
            return None
        local = _read_local(LOCAL_TOKEN_PATH).strip()
        return SecretBytes(local.encode()) if local else None


def _read_local(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def parse_config(fields: FieldData) -> KubernetesConfig:
    """Build and check a configuration from a write."""
    if fields.strings("pem_keys"):
        raise Unsupported("'pem_keys' is not supported by Hush; logins are checked by TokenReview")
    if fields.boolean("use_annotations_as_alias_metadata"):
        raise Unsupported("'use_annotations_as_alias_metadata' is not supported by Hush yet")
    host = fields.string("kubernetes_host").strip()
    if not host:
        raise InvalidRequest("no host provided")
    if "://" not in host:
        host = "https://" + host
    if not host.startswith(("https://", "http://")):
        raise InvalidRequest("kubernetes_host must be an http or https URL")
    if fields.boolean("disable_local_ca_jwt") and not fields.string("kubernetes_ca_cert").strip():
        raise InvalidRequest("kubernetes_ca_cert must be given when disable_local_ca_jwt is true")
    try:
        ssl_context(fields.string("kubernetes_ca_cert"))
    except ValueError:
        raise InvalidRequest("kubernetes_ca_cert: no valid PEM certificate found") from None
    return KubernetesConfig(
        kubernetes_host=host,
        kubernetes_ca_cert=fields.string("kubernetes_ca_cert"),
        token_reviewer_jwt=fields.string("token_reviewer_jwt").strip(),
        issuer=fields.string("issuer"),
        disable_iss_validation=fields.boolean("disable_iss_validation"),
        disable_local_ca_jwt=fields.boolean("disable_local_ca_jwt"),
    )
