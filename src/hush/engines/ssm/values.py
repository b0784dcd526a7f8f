"""PutParameter's checks on values: types, tiers and their size limits, AllowedPattern, DataType,
descriptions and parameter policies (Expiration, ExpirationNotification, NoChangeNotification).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from hush.engines.ssm.errors import (
    InvalidAllowedPattern,
    InvalidPolicyAttribute,
    InvalidPolicyType,
    ParameterPatternMismatch,
    SsmValidation,
)

__all__ = [
    "ADVANCED",
    "STANDARD",
    "TYPES",
    "Policy",
    "check_data_type",
    "check_pattern",
    "check_value",
    "parse_policies",
    "resolve_tier",
]

STANDARD: Final = "Standard"
ADVANCED: Final = "Advanced"
INTELLIGENT: Final = "Intelligent-Tiering"
TYPES: Final = ("String", "StringList", "SecureString")
_LIMITS: Final = {STANDARD: 4096, ADVANCED: 8192}
_AMI: Final = re.compile(r"ami-[0-9a-f]{8}([0-9a-f]{9})?")
_UNITS: Final = {"Days": 86400, "Hours": 3600}


def resolve_tier(requested: str, previous: str | None, length: int, has_policies: bool) -> str:
    """The tier a new version gets (AWS's rules: no downgrade, intelligent tiering)."""
    if requested not in ("", STANDARD, ADVANCED, INTELLIGENT):
        raise SsmValidation(
            f"1 validation error detected: Value '{requested[:40]}' at 'tier' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, "
            "Standard]"
        )
    if requested == INTELLIGENT:
        needs = length > _LIMITS[STANDARD] or has_policies or previous == ADVANCED
        return ADVANCED if needs else STANDARD
    tier = requested or (previous or STANDARD)
    if previous == ADVANCED and tier == STANDARD:
        raise SsmValidation(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter "
            "from the advanced-parameter tier to the standard-parameter tier. If necessary, you "
            "can delete the advanced parameter and recreate it as a standard parameter."
        )
    if has_policies and tier == STANDARD:
        raise SsmValidation(
            "Parameter policies are supported only for the advanced-parameter tier."
        )
    return tier


def check_value(value: Any, tier: str) -> str:
    """A value within the tier's size limit (characters, as AWS counts them)."""
    if not isinstance(value, str) or not value:
        raise SsmValidation(
            "1 validation error detected: Value '' at 'value' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1."
        )
    if len(value) > _LIMITS[ADVANCED]:
        raise SsmValidation(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: "
            f"Member must have length less than or equal to {_LIMITS[ADVANCED]}"
        )
    if len(value) > _LIMITS[tier]:
        raise SsmValidation(
            "Standard tier parameters support a maximum parameter value of 4096 characters. To "
            "create a larger parameter value, upgrade the parameter to use the advanced-parameter "
            "tier. For more information, see "
            "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
        )
    return value


def check_pattern(pattern: str, value: str | None) -> None:
    """Compile AllowedPattern and, when ``value`` is given, match the whole value against it."""
    if not pattern:
        return
    if len(pattern) > 1024:
        raise SsmValidation("AllowedPattern must be at most 1024 characters")
    try:
        compiled = re.compile(pattern)
    except re.error:
        raise InvalidAllowedPattern(
            "The request does not meet the regular expression requirement."
        ) from None
    if value is not None and compiled.fullmatch(value) is None:
        raise ParameterPatternMismatch(
            f"Parameter value, cannot be validated against allowedPattern: {pattern}"
        )


def check_data_type(data_type: str, value: str | None) -> str:
    """``text`` (the default), ``aws:ec2:image`` (an AMI id) or ``aws:ssm:integration``."""
    data_type = data_type or "text"
    if data_type not in ("text", "aws:ec2:image", "aws:ssm:integration"):
        raise SsmValidation(
            f"The following data type is not supported: {data_type[:40]} (Data type names are "
            "all lowercase.)"
        )
    if data_type == "aws:ec2:image" and value is not None and _AMI.fullmatch(value) is None:
        raise SsmValidation(
            "Parameter value is not in a valid format for the aws:ec2:image data type."
        )
    return data_type


@dataclass(frozen=True, slots=True)
class Policy:
    """One parameter policy: its type, its JSON text as given and when it acts."""

    type: str
    text: str
    #: Expiration: the deletion time. Notifications: seconds before expiry / after a change.
    at: float = 0.0
    offset: int = 0


def parse_policies(text: str, now: float) -> tuple[Policy, ...]:
    """Parse and validate ``Policies`` (a JSON list); empty text means none."""
    if not text:
        return ()
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidPolicyType("The policy is not valid JSON.") from None
    if not isinstance(raw, list) or not raw or len(raw) > 10:
        raise InvalidPolicyType("Policies must be a JSON list of 1 to 10 policies.")
    policies = [_policy(item, now) for item in raw]
    kinds = [p.type for p in policies]
    if len(set(kinds)) != len(kinds):
        raise InvalidPolicyType("Each policy type may appear only once.")
    if "ExpirationNotification" in kinds and "Expiration" not in kinds:
        raise InvalidPolicyAttribute("ExpirationNotification requires an Expiration policy.")
    return tuple(policies)


def _policy(item: Any, now: float) -> Policy:
    if not isinstance(item, dict) or not isinstance(item.get("Attributes"), dict):
        raise InvalidPolicyType("A policy needs Type, Version and Attributes.")
    kind, attributes = item.get("Type"), item["Attributes"]
    if item.get("Version", "1.0") != "1.0":
        raise InvalidPolicyType("The only policy version is 1.0.")
    text = orjson.dumps(item).decode()
    if kind == "Expiration":
        at = _timestamp(attributes.get("Timestamp"))
        if at <= now:
            raise InvalidPolicyAttribute("The Expiration timestamp must be in the future.")
        return Policy(kind, text, at=at)
    if kind in ("ExpirationNotification", "NoChangeNotification"):
        member = "Before" if kind == "ExpirationNotification" else "After"
        amount, unit = attributes.get(member), attributes.get("Unit")
        if not isinstance(amount, str) or not amount.isdigit() or unit not in _UNITS:
            raise InvalidPolicyAttribute(
                f"{kind} needs {member} (a whole number as a string) and Unit (Days or Hours)."
            )
        if int(amount) < 1 or int(amount) > 365 * 24:
            raise InvalidPolicyAttribute(f"{member} is out of range.")
        return Policy(kind, text, offset=int(amount) * _UNITS[unit])
    raise InvalidPolicyType(
        "The policy type is not valid: use Expiration, ExpirationNotification or "
        "NoChangeNotification."
    )


def _timestamp(value: Any) -> float:
    if not isinstance(value, str):
        raise InvalidPolicyAttribute("Expiration needs a Timestamp (ISO 8601, UTC).")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPolicyAttribute(
            "The Expiration Timestamp is not a valid ISO 8601 time."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
