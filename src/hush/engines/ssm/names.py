"""Parameter names, selectors, labels and tags as AWS Systems Manager accepts them.

Names: letters, digits and ``_.-/``; a name with ``/`` is a hierarchy and starts with ``/``; at
most 15 levels; no ``aws``/``ssm`` prefix (case-insensitive); at most 1011 characters. Selectors
(``name:3``, ``name:label``) pick a version or a label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from hush.engines.ssm.errors import (
    HierarchyLevelLimitExceeded,
    SsmValidation,
    TooManyTags,
)

__all__ = [
    "MAX_LEVELS",
    "Selector",
    "check_label",
    "check_name",
    "check_path",
    "check_tags",
    "label_problem",
    "logical_name",
    "parse_selector",
    "strip_arn",
]

MAX_LEVELS: Final = 15
MAX_NAME: Final = 1011
_NAME_CHARS: Final = re.compile(r"[a-zA-Z0-9_.\-/]+")
_LABEL: Final = re.compile(r"[a-zA-Z0-9_.\-]{1,100}")
_ARN: Final = re.compile(r"arn:aws[\w-]*:ssm:[\w-]*:\d*:parameter/(?P<rest>.+)")
_BAD_NAME: Final = (
    'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a '
    "path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a "
    "mix of letters, numbers and the following 3 symbols .-_"
)


def strip_arn(name: str) -> str:
    """A parameter ARN's name (``.../parameter/a/b`` is ``/a/b``); other names unchanged."""
    found = _ARN.fullmatch(name)
    if found is None:
        return name
    rest = found["rest"]
    return "/" + rest if "/" in rest else rest


def check_name(given: Any) -> str:
    """A valid parameter name (ARNs reduced to names) or AWS's error."""
    if not isinstance(given, str) or not given:
        raise SsmValidation(
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: "
            "Member must not be null"
        )
    name = strip_arn(given)
    if len(name) > MAX_NAME:
        raise SsmValidation(
            "1 validation error detected: Value at 'name' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_NAME}"
        )
    if _NAME_CHARS.fullmatch(name) is None:
        raise SsmValidation(_BAD_NAME)
    if "/" in name and (not name.startswith("/") or "//" in name or name.endswith("/")):
        raise SsmValidation(_BAD_NAME)
    if name.count("/") > MAX_LEVELS:
        raise HierarchyLevelLimitExceeded(
            "A hierarchy can have a maximum of 15 levels. For more information, see "
            "Requirements and Constraints for Parameter Names in the AWS Systems Manager "
            "User Guide."
        )
    first = name.lstrip("/").lower()
    if first.startswith(("aws", "ssm")):
        raise SsmValidation(_BAD_NAME)
    return name


def check_path(path: Any) -> str:
    """A GetParametersByPath ``Path``: ``/`` or a hierarchy (a trailing ``/`` is allowed)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise SsmValidation(
            "The parameter doesn't meet the parameter name requirements. The parameter name "
            'must begin with a forward slash "/".'
        )
    trimmed = path.rstrip("/")
    if trimmed:
        check_name(trimmed)
    return trimmed + "/"


def logical_name(name: str) -> str:
    """The name as it appears in logical paths and ARNs: without its leading ``/``.

    ``/app/db`` and ``app/db`` cannot both exist (the second is not a valid name), so the
    mapping is one-to-one except for top-level ``/db`` and ``db``, which share one ACL path
    exactly as they share one ARN in AWS.
    """
    return name[1:] if name.startswith("/") else name


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed ``name[:version|:label]``."""

    name: str
    version: int | None = None
    label: str | None = None

    @property
    def suffix(self) -> str:
        """``:3`` or ``:label`` as AWS echoes it in ``Selector``; empty without one."""
        if self.version is not None:
            return f":{self.version}"
        return f":{self.label}" if self.label is not None else ""


def parse_selector(text: Any) -> Selector:
    """Split ``name:selector``; a malformed selector is a ValidationException."""
    if not isinstance(text, str) or not text:
        raise SsmValidation("Parameter name must not be empty")
    text = strip_arn(text)
    head, sep, tail = text.partition(":")
    return _with_selector(check_name(head), tail, bool(sep))


def _with_selector(name: str, tail: str, present: bool) -> Selector:
    if not present:
        return Selector(name)
    if not tail or ":" in tail:
        raise SsmValidation(
            f"The parameter selector for {name} is not valid: use name:version or name:label."
        )
    if tail.isdigit():
        return Selector(name, version=int(tail))
    check_label(tail)
    return Selector(name, label=tail)


def label_problem(label: str) -> bool:
    """Whether AWS would list ``label`` in ``InvalidLabels``."""
    return (
        _LABEL.fullmatch(label) is None
        or label[0].isdigit()
        or label.lower().startswith(("aws", "ssm"))
    )


def check_label(label: str) -> str:
    """A label valid in a selector."""
    if label_problem(label):
        raise SsmValidation(f"The label {label[:100]} is not valid.")
    return label


def check_tags(tags: Any) -> dict[str, str]:
    """SSM ``Tags`` (``[{"Key": .., "Value": ..}]``) as a dict, within AWS's limits."""
    if tags is None:
        return {}
    if not isinstance(tags, list):
        raise SsmValidation("Tags must be a list of Key/Value objects")
    result: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key") if isinstance(tag, dict) else None
        value = tag.get("Value") if isinstance(tag, dict) else None
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.startswith("aws:"):
            raise SsmValidation("A tag key must be 1 to 128 characters and not start with aws:")
        if not isinstance(value, str) or len(value) > 256:
            raise SsmValidation("A tag value must be a string of at most 256 characters")
        result[key] = value
    if len(result) > 50:
        raise TooManyTags("You can add up to 50 tags to a parameter.")
    return result
