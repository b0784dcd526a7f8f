"""The KMS view of a transit key: key specs, usages, states, deletion schedule, tags and ARNs.

A KMS key is a transit key named by the KMS key id (a UUID) plus a :class:`KmsKey` record kept
next to it (``kms/key/<id>``) with what transit has no notion of: the spec and usage, the
description, the state (``Enabled``, ``Disabled``, ``PendingDeletion``), the deletion date and the
tags. The transit key holds the versioned key material, so the Vault API (``transit/keys/<id>``,
``rotate``, ``encrypt``) and KMS share one key ring.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from hush.core.errors import InvalidRequest
from hush.engines.transit.key_types import KeyType
from hush.engines.transit.kms_errors import (
    InvalidAliasName,
    InvalidKeyUsage,
    KeyDisabled,
    KeyInvalidState,
    TagError,
)

__all__ = [
    "DISABLED",
    "ENABLED",
    "PENDING_DELETION",
    "SPECS",
    "KeySpec",
    "KmsKey",
    "alias_arn",
    "check_alias_name",
    "check_tags",
    "key_arn",
    "new_key_settings",
    "parse_key_reference",
]

ENABLED: Final = "Enabled"
DISABLED: Final = "Disabled"
PENDING_DELETION: Final = "PendingDeletion"
ENCRYPT_DECRYPT: Final = "ENCRYPT_DECRYPT"
SIGN_VERIFY: Final = "SIGN_VERIFY"
GENERATE_VERIFY_MAC: Final = "GENERATE_VERIFY_MAC"
DAY: Final = 86400

_RSA_SIGNING = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
)
_RSA_ENCRYPTION = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEY_ARN = re.compile(r"arn:aws[\w-]*:kms:[\w-]*:\d*:key/(?P<id>[0-9a-f-]{36})")
_ALIAS_ARN = re.compile(r"arn:aws[\w-]*:kms:[\w-]*:\d*:(?P<alias>alias/.+)")
_ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a KMS key spec is in transit terms and which usages and algorithms it allows."""

    name: str
    transit_type: KeyType
    key_size: int
    usages: tuple[str, ...]
    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()

    def algorithms(self, usage: str) -> dict[str, list[str]]:
        """The ``*Algorithms`` members of ``KeyMetadata`` for a key of this spec and ``usage``."""
        if usage == ENCRYPT_DECRYPT:
            return {"EncryptionAlgorithms": list(self.encryption)}
        if usage == SIGN_VERIFY:
            return {"SigningAlgorithms": list(self.signing)}
        return {"MacAlgorithms": list(self.mac)}


def _rsa(bits: int) -> KeySpec:
    return KeySpec(
        f"RSA_{bits}",
        KeyType(f"rsa-{bits}"),
        0,
        (ENCRYPT_DECRYPT, SIGN_VERIFY),
        encryption=_RSA_ENCRYPTION,
        signing=_RSA_SIGNING,
    )


def _ecc(curve: int, transit: KeyType, digest: int) -> KeySpec:
    return KeySpec(
        f"ECC_NIST_P{curve}", transit, 0, (SIGN_VERIFY,), signing=(f"ECDSA_SHA_{digest}",)
    )


def _hmac(bits: int) -> KeySpec:
    return KeySpec(
        f"HMAC_{bits}", KeyType.HMAC, bits // 8, (GENERATE_VERIFY_MAC,), mac=(f"HMAC_SHA_{bits}",)
    )


SPECS: Final[Mapping[str, KeySpec]] = {
    spec.name: spec
    for spec in (
        KeySpec(
            "SYMMETRIC_DEFAULT",
            KeyType.AES256_GCM96,
            0,
            (ENCRYPT_DECRYPT,),
            encryption=("SYMMETRIC_DEFAULT",),
        ),
        _rsa(2048),
        _rsa(3072),
        _rsa(4096),
        _ecc(256, KeyType.ECDSA_P256, 256),
        _ecc(384, KeyType.ECDSA_P384, 384),
        _ecc(521, KeyType.ECDSA_P521, 512),
        _hmac(256),
        _hmac(384),
        _hmac(512),
    )
}


@dataclass(frozen=True, slots=True)
class KmsKey:
    """The KMS metadata of one key (its material lives in the transit key of the same name)."""

    key_id: str
    spec: str
    usage: str
    created: float
    description: str = ""
    state: str = ENABLED
    deletion_date: float | None = None
    pending_window_days: int | None = None
    rotation_enabled: bool = False
    rotation_period_days: int = 365
    tags: Mapping[str, str] = field(default_factory=dict)
    manager: str = "CUSTOMER"

    @property
    def key_spec(self) -> KeySpec:
        """The :class:`KeySpec` of this key."""
        return SPECS[self.spec]

    def replace(self, **changes: Any) -> KmsKey:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # ---- state rules (AWS's "key state: effect on your KMS key" table) ------------------------

    def require_usable(self) -> None:
        """Raise unless cryptographic operations are allowed (the key is ``Enabled``)."""
        if self.state == DISABLED:
            raise KeyDisabled(f"{self.arn_suffix} is disabled.")
        if self.state != ENABLED:
            raise KeyInvalidState(f"{self.arn_suffix} is pending deletion.")

    def require_not_pending_deletion(self) -> None:
        """Raise for management actions AWS refuses while deletion is scheduled."""
        if self.state == PENDING_DELETION:
            raise KeyInvalidState(f"{self.arn_suffix} is pending deletion.")

    def require_usage(self, usage: str) -> None:
        """Raise ``InvalidKeyUsageException`` unless the key was created for ``usage``."""
        if self.usage != usage:
            raise InvalidKeyUsage(
                f"{self.arn_suffix} key usage is {self.usage} which is not valid for this "
                "operation."
            )

    def require_algorithm(self, kind: str, algorithm: str) -> None:
        """Raise unless ``algorithm`` is one of the key's ``kind`` algorithms."""
        allowed = self.key_spec.algorithms(self.usage).get(kind, [])
        if algorithm not in allowed:
            raise InvalidKeyUsage(
                f"Algorithm {algorithm[:40]} is incompatible with key spec {self.spec}."
            )

    @property
    def arn_suffix(self) -> str:
        """``key/<id>``, how AWS names the key in error messages without the ARN prefix."""
        return f"key/{self.key_id}"

    # ---- rendering and storage ----------------------------------------------------------------

    def metadata(self, region: str, account: str) -> dict[str, Any]:
        """The ``KeyMetadata`` structure of DescribeKey and CreateKey."""
        data: dict[str, Any] = {
            "AWSAccountId": account,
            "KeyId": self.key_id,
            "Arn": key_arn(region, account, self.key_id),
            "CreationDate": self.created,
            "Enabled": self.state == ENABLED,
            "Description": self.description,
            "KeyUsage": self.usage,
            "KeyState": self.state,
            "Origin": "AWS_KMS",
            "KeyManager": self.manager,
            "CustomerMasterKeySpec": self.spec,
            "KeySpec": self.spec,
            "MultiRegion": False,
            **self.key_spec.algorithms(self.usage),
        }
        if self.deletion_date is not None:
            data["DeletionDate"] = self.deletion_date
            data["PendingDeletionWindowInDays"] = self.pending_window_days
        return data

    def to_bytes(self) -> bytes:
        """JSON for storage (no secrets: the key material is in the transit key)."""
        return orjson.dumps(dataclasses.asdict(self) | {"tags": dict(self.tags)})

    @classmethod
    def from_bytes(cls, blob: bytes) -> KmsKey:
        """Inverse of :meth:`to_bytes`."""
        return cls(**orjson.loads(blob))


def new_key_settings(spec_name: str, usage: str) -> KeySpec:
    """Validate CreateKey's ``KeySpec``/``KeyUsage`` pair and return the spec."""
    spec = SPECS.get(spec_name)
    if spec is None:
        raise InvalidRequest(
            f"1 validation error detected: Value '{spec_name[:40]}' at 'keySpec' failed to "
            f"satisfy constraint: Member must satisfy enum value set: {sorted(SPECS)}"
        )
    if usage not in spec.usages:
        raise InvalidRequest(f"KeyUsage {usage[:40]} is not compatible with KeySpec {spec_name}")
    return spec


def key_arn(region: str, account: str, key_id: str) -> str:
    """``arn:aws:kms:<region>:<account>:key/<id>``."""
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias: str) -> str:
    """``arn:aws:kms:<region>:<account>:alias/<name>``."""
    return f"arn:aws:kms:{region}:{account}:{alias}"


def parse_key_reference(reference: str) -> tuple[str, str]:
    """Classify a KeyId argument: ``("id", uuid)`` or ``("alias", "alias/...")``.

    AWS accepts a key id, a key ARN, an alias name or an alias ARN wherever a key is named.
    """
    if _UUID.fullmatch(reference):
        return "id", reference
    match = _KEY_ARN.fullmatch(reference)
    if match is not None:
        return "id", match["id"]
    match = _ALIAS_ARN.fullmatch(reference)
    if match is not None:
        return "alias", match["alias"]
    if reference.startswith("alias/"):
        return "alias", reference
    return "invalid", reference


def check_alias_name(alias: str, *, creating: bool = True) -> str:
    """Validate an alias name: ``alias/`` + letters, digits, ``/_-``; ``alias/aws/`` is AWS's."""
    if _ALIAS_NAME.fullmatch(alias) is None:
        raise InvalidAliasName(
            'Alias must start with the prefix "alias/" and contain only alphanumeric '
            "characters, '/', '_', or '-'."
        )
    if creating and alias.startswith("alias/aws/"):
        raise InvalidAliasName("Cannot create alias with prefix 'alias/aws/'")
    return alias


def check_tags(tags: Any) -> dict[str, str]:
    """A ``Tags`` list (``[{"TagKey": .., "TagValue": ..}]``) as a dict, within AWS's limits."""
    if not isinstance(tags, list):
        raise TagError("Tags must be a list of TagKey/TagValue objects")
    result: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, Mapping):
            raise TagError("Tags must be a list of TagKey/TagValue objects")
        key, value = tag.get("TagKey"), tag.get("TagValue", "")
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise TagError("A tag key must be 1 to 128 characters and not start with aws:")
        if not isinstance(value, str) or len(value) > 256:
            raise TagError("A tag value must be a string of at most 256 characters")
        result[key] = value
    if len(result) > 50:
        raise TagError("A key can have at most 50 tags")
    return result
