"""A parameter and its versions, and how each AWS answer renders them.

Each version keeps every attribute AWS reports per version (type, description, pattern, tier,
key, policies, labels, who changed it and when), so GetParameterHistory is a rendering. A
SecureString's ``value`` is the base64 KMS ciphertext blob made by the AWS front end under the
transit key ``kms_key_id``; this engine never sees the clear value of a SecureString it stores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from hush.engines.ssm.names import Selector, logical_name
from hush.engines.ssm.values import Policy

__all__ = [
    "MAX_VERSIONS",
    "SECURE",
    "Parameter",
    "ParameterVersion",
    "parameter_arn",
    "render_history",
    "render_metadata",
    "render_parameter",
]

MAX_VERSIONS: Final = 100
SECURE: Final = "SecureString"


def parameter_arn(region: str, account: str, name: str) -> str:
    """``arn:aws:ssm:<region>:<account>:parameter/<name without leading slash>``."""
    return f"arn:aws:ssm:{region}:{account}:parameter/{logical_name(name)}"


@dataclass(frozen=True, slots=True)
class ParameterVersion:
    """One version of a parameter with the attributes AWS reports for it."""

    version: int
    value: str
    type: str
    modified: float
    user: str
    description: str = ""
    allowed_pattern: str = ""
    data_type: str = "text"
    tier: str = "Standard"
    key_id: str = ""
    kms_key_id: str = ""
    policies: tuple[Policy, ...] = ()
    labels: tuple[str, ...] = ()

    def policy(self, kind: str) -> Policy | None:
        """This version's policy of type ``kind``, if any."""
        return next((p for p in self.policies if p.type == kind), None)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        data = dataclasses.asdict(self)
        data["policies"] = [dataclasses.asdict(p) for p in self.policies]
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ParameterVersion:
        """Inverse of :meth:`to_json`."""
        values = dict(raw)
        values["policies"] = tuple(Policy(**p) for p in raw.get("policies", ()))
        values["labels"] = tuple(raw.get("labels", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Parameter:
    """A named parameter: versions in ascending order, and its tags."""

    name: str
    versions: tuple[ParameterVersion, ...]
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> ParameterVersion:
        """The newest version."""
        return self.versions[-1]

    def select(self, selector: Selector) -> ParameterVersion | None:
        """The version a selector picks (``None`` when there is no such version or label)."""
        if selector.version is not None:
            return next((v for v in self.versions if v.version == selector.version), None)
        if selector.label is not None:
            return next((v for v in self.versions if selector.label in v.labels), None)
        return self.latest

    def replace(self, **changes: Any) -> Parameter:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_bytes(self) -> bytes:
        """The stored form."""
        return orjson.dumps(
            {
                "name": self.name,
                "versions": [v.to_json() for v in self.versions],
                "tags": dict(self.tags),
            }
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> Parameter:
        """Inverse of :meth:`to_bytes`."""
        raw = orjson.loads(blob)
        versions = tuple(ParameterVersion.from_json(v) for v in raw["versions"])
        return cls(raw["name"], versions, dict(raw.get("tags", {})))


def _policies(version: ParameterVersion) -> list[dict[str, str]]:
    return [
        {"PolicyText": p.text, "PolicyType": p.type, "PolicyStatus": "Pending"}
        for p in version.policies
    ]


def render_parameter(
    parameter: Parameter, version: ParameterVersion, arn: str, selector: str = ""
) -> dict[str, Any]:
    """GetParameter's ``Parameter``; SecureStrings carry ``KmsKeyId`` for the front end."""
    data: dict[str, Any] = {
        "Name": parameter.name,
        "Type": version.type,
        "Value": version.value,
        "Version": version.version,
        "LastModifiedDate": version.modified,
        "ARN": arn,
        "DataType": version.data_type,
    }
    if selector:
        data["Selector"] = selector
    if version.type == SECURE:
        data["KmsKeyId"] = version.kms_key_id
    return data


def render_metadata(parameter: Parameter, arn: str) -> dict[str, Any]:
    """DescribeParameters' ``ParameterMetadata`` (of the latest version)."""
    version = parameter.latest
    data: dict[str, Any] = {
        "Name": parameter.name,
        "ARN": arn,
        "Type": version.type,
        "LastModifiedDate": version.modified,
        "LastModifiedUser": version.user,
        "Version": version.version,
        "Tier": version.tier,
        "Policies": _policies(version),
        "DataType": version.data_type,
    }
    if version.key_id:
        data["KeyId"] = version.key_id
    if version.description:
        data["Description"] = version.description
    if version.allowed_pattern:
        data["AllowedPattern"] = version.allowed_pattern
    return data


def render_history(parameter: Parameter, version: ParameterVersion, arn: str) -> dict[str, Any]:
    """GetParameterHistory's ``ParameterHistory`` entry."""
    data: dict[str, Any] = {
        "Name": parameter.name,
        "Type": version.type,
        "LastModifiedDate": version.modified,
        "LastModifiedUser": version.user,
        "Value": version.value,
        "Version": version.version,
        "Labels": list(version.labels),
        "Tier": version.tier,
        "Policies": _policies(version),
        "DataType": version.data_type,
    }
    if version.key_id:
        data["KeyId"] = version.key_id
    if version.type == SECURE:
        # For the front end's decryption (the encryption context is the ARN); it drops both.
        data["KmsKeyId"] = version.kms_key_id
        data["ARN"] = arn
    if version.description:
        data["Description"] = version.description
    if version.allowed_pattern:
        data["AllowedPattern"] = version.allowed_pattern
    return data
