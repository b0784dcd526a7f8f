"""ListSecrets: Filters (prefix matches, ``!`` negation), SortOrder, MaxResults/NextToken.

Filter semantics are AWS's documented ones: ``name``, ``tag-key``, ``tag-value``,
``primary-region`` and ``owning-service`` are case-sensitive prefix matches, ``description`` a
case-insensitive one, ``all`` splits the value into words and matches any attribute without regard
to case. Values within one filter are alternatives; filters together must all hold. Secrets are
listed by creation date (``SortOrder`` ``asc``, the default, or ``desc``), and a
``NextToken`` is an opaque offset into that order.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from hush.engines.awssm.describe import describe
from hush.engines.awssm.env import ActionEnv, Body
from hush.engines.awssm.errors import InvalidNextToken, InvalidParameter, SerializationError
from hush.engines.awssm.model import SecretRecord
from hush.engines.awssm.validate import boolean, integer, text

__all__ = ["FILTER_KEYS", "list_secrets", "matches"]

FILTER_KEYS: Final = (
    "description",
    "name",
    "tag-key",
    "tag-value",
    "primary-region",
    "owning-service",
    "all",
)


def _attributes(record: SecretRecord, key: str, region: str) -> list[str]:
    if key == "name":
        return [record.name]
    if key == "description":
        return [record.description] if record.description else []
    if key == "tag-key":
        return [t["Key"] for t in record.tags]
    if key == "tag-value":
        return [t["Value"] for t in record.tags]
    if key == "primary-region":
        return [region]
    if key == "owning-service":
        return []
    return [
        record.name,
        record.description,
        *(t["Key"] for t in record.tags),
        *(t["Value"] for t in record.tags),
    ]


def _value_matches(record: SecretRecord, key: str, value: str, region: str) -> bool:
    negate = value.startswith("!")
    needle = value[1:] if negate else value
    attributes = _attributes(record, key, region)
    if key in ("description", "all"):
        attributes = [a.lower() for a in attributes]
        needle = needle.lower()
    if key == "all":
        words = [word for attr in attributes for word in attr.replace("/", " ").split()]
        found = any(any(w.startswith(n) for w in words + attributes) for n in needle.split())
    else:
        found = any(a.startswith(needle) for a in attributes)
    return found != negate


def matches(record: SecretRecord, filters: list[tuple[str, list[str]]], region: str) -> bool:
    """Whether ``record`` passes every filter (any value of a filter may match)."""
    return all(
        any(_value_matches(record, key, value, region) for value in values)
        for key, values in filters
    )


def _filters(body: Body) -> list[tuple[str, list[str]]]:
    raw = body.get("Filters")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(f, dict) for f in raw):
        raise SerializationError("Filters must be a list of Key/Values structures")
    parsed: list[tuple[str, list[str]]] = []
    for item in raw:
        key = item.get("Key")
        values = item.get("Values")
        if key not in FILTER_KEYS:
            raise InvalidParameter(
                f"Invalid filter key {key!r}; use one of: {', '.join(FILTER_KEYS)}"
            )
        if not isinstance(values, list) or not values or len(values) > 10:
            raise InvalidParameter("Each filter needs between 1 and 10 Values.")
        if not all(isinstance(v, str) and len(v) <= 512 for v in values):
            raise InvalidParameter("Filter values must be strings of at most 512 characters.")
        parsed.append((key, values))
    return parsed


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidNextToken("The NextToken value is not valid.") from None
    if not decoded.startswith("offset:") or not decoded[7:].isdigit():
        raise InvalidNextToken("The NextToken value is not valid.")
    return int(decoded[7:])


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


async def list_secrets(env: ActionEnv, body: Body) -> dict[str, Any]:
    """ListSecrets."""
    include_deleted = boolean(body, "IncludePlannedDeletion", False)
    limit = integer(body, "MaxResults", 1, 100, 100) or 100
    start = _decode_token(text(body, "NextToken", max_len=4096))
    order = body.get("SortOrder", "asc")
    if order not in ("asc", "desc"):
        raise InvalidParameter("SortOrder must be 'asc' or 'desc'.")
    filters = _filters(body)
    records = []
    for name in await env.store.names():
        record = await env.store.get(name)
        if record is None or (record.deleted and not include_deleted):
            continue
        if matches(record, filters, env.region):
            records.append(record)
    records.sort(key=lambda r: (r.created, r.name), reverse=order == "desc")
    page = records[start : start + limit]
    answer: dict[str, Any] = {"SecretList": [describe(r, list_entry=True) for r in page]}
    if start + limit < len(records):
        answer["NextToken"] = _encode_token(start + limit)
    return answer
