"""``batch_input``: reading batch items and answering with Vault's per-item results.

Vault's encrypt, decrypt and rewrap (``batchRequestResponse``) answer a batch in which any item
failed with **400** and the full ``batch_results`` body (each failed item has its own ``error``),
unless ``partial_failure_response_code`` is given and at least one item succeeded, in which case
that code is used. Sign, verify and HMAC batches answer 200 with per-item errors. Hush does the
same, and refuses batches of more than :data:`MAX_BATCH_ITEMS` items with a plain 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from hush.core.errors import InvalidRequest
from hush.core.request import Response
from hush.framework.fields import Field, FieldType

__all__ = [
    "BATCH_FIELD",
    "MAX_BATCH_ITEMS",
    "PARTIAL_FAILURE_FIELD",
    "batch_items",
    "batch_response",
    "item_int",
    "item_string",
]

MAX_BATCH_ITEMS: Final = 10_000

BATCH_FIELD: Final = Field(
    FieldType.RAW,
    "List of items to process in one request; results keep the input order.",
)
PARTIAL_FAILURE_FIELD: Final = Field(
    FieldType.INT,
    "HTTP status to answer with when some, but not all, batch items fail (default 400).",
)


def batch_items(raw: Any) -> list[Mapping[str, Any]] | None:
    """The batch as a list of objects, ``None`` when absent; a malformed batch is one 400."""
    if raw is None:
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InvalidRequest("failed to parse batch input: batch_input must be a list of objects")
    if not raw:
        raise InvalidRequest("missing batch input to process")
    if len(raw) > MAX_BATCH_ITEMS:
        raise InvalidRequest(
            f"batch_input has {len(raw)} items; at most {MAX_BATCH_ITEMS} are allowed per request"
        )
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise InvalidRequest(f"failed to parse batch input: [{index}] expected a map")
    return list(raw)


def item_string(item: Mapping[str, Any], index: int, key: str) -> str:
    """A string member of a batch item ("" when absent or null)."""
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(
            f"failed to parse batch input: '[{index}].{key}' expected type 'string', "
            f"got unconvertible type '{type(value).__name__}'"
        )
    return value


def item_int(item: Mapping[str, Any], index: int, key: str) -> int:
    """An integer member of a batch item (0 when absent); numeric strings are accepted."""
    value = item.get(key)
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 19:
        return int(value.strip())
    raise InvalidRequest(
        f"failed to parse batch input: '[{index}].{key}' expected type 'int', "
        f"got unconvertible type '{type(value).__name__}'"
    )


def batch_response(
    results: list[dict[str, Any]], *, partial_failure_code: int | None = None, strict: bool = True
) -> Response:
    """``batch_results``, answered with Vault's status rules when ``strict`` (encrypt family)."""
    response = Response(data={"batch_results": results})
    failed = any(r.get("error") for r in results)
    if not strict or not failed:
        return response
    succeeded = any(not r.get("error") for r in results)
    response.status = 400
    if partial_failure_code is not None and succeeded:
        if 200 <= partial_failure_code <= 599:  # Vault takes 1..599; below 200 is no answer
            response.status = partial_failure_code
        else:
            response.warnings.append(
                "invalid HTTP response code override from partial_failure_response_code, "
                "reverting to 400"
            )
    return response
