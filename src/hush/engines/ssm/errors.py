"""Typed errors of the ``ssm`` engine, each naming its AWS Systems Manager error type.

The AWS front end answers ``aws_type`` as ``__type``; the Vault front end uses the HTTP status.
Messages name parameters and versions, never values.
"""

from __future__ import annotations

from hush.core.errors import Conflict, InvalidRequest, NotFound

__all__ = [
    "HierarchyLevelLimitExceeded",
    "InvalidAllowedPattern",
    "InvalidFilter",
    "InvalidKeyId",
    "InvalidNextToken",
    "InvalidPolicyAttribute",
    "InvalidPolicyType",
    "InvalidResourceId",
    "InvalidResourceType",
    "ParameterAlreadyExists",
    "ParameterMaxVersionLimitExceeded",
    "ParameterNotFound",
    "ParameterPatternMismatch",
    "ParameterVersionLabelLimitExceeded",
    "ParameterVersionNotFound",
    "SsmValidation",
    "TooManyTags",
]


class SsmValidation(InvalidRequest):
    """A request member fails AWS's constraints (``ValidationException``)."""

    aws_type = "ValidationException"


class ParameterNotFound(NotFound):
    """No such parameter (``ParameterNotFound``)."""

    aws_type = "ParameterNotFound"


class ParameterVersionNotFound(NotFound):
    """The parameter exists but not the selected version (``ParameterVersionNotFound``)."""

    aws_type = "ParameterVersionNotFound"


class ParameterAlreadyExists(Conflict):
    """PutParameter without Overwrite on an existing name (``ParameterAlreadyExists``)."""

    aws_type = "ParameterAlreadyExists"


class HierarchyLevelLimitExceeded(InvalidRequest):
    """A name deeper than 15 levels (``HierarchyLevelLimitExceededException``)."""

    aws_type = "HierarchyLevelLimitExceededException"


class ParameterPatternMismatch(InvalidRequest):
    """The value does not match AllowedPattern (``ParameterPatternMismatchException``)."""

    aws_type = "ParameterPatternMismatchException"


class InvalidAllowedPattern(InvalidRequest):
    """AllowedPattern is not a valid regular expression (``InvalidAllowedPatternException``)."""

    aws_type = "InvalidAllowedPatternException"


class ParameterMaxVersionLimitExceeded(Conflict):
    """The 100-version limit would drop a labelled version (AWS's same-named error)."""

    aws_type = "ParameterMaxVersionLimitExceeded"


class ParameterVersionLabelLimitExceeded(InvalidRequest):
    """More than 10 labels on a version (``ParameterVersionLabelLimitExceeded``)."""

    aws_type = "ParameterVersionLabelLimitExceeded"


class InvalidPolicyType(InvalidRequest):
    """A parameter policy of unknown type or shape (``InvalidPolicyTypeException``)."""

    aws_type = "InvalidPolicyTypeException"


class InvalidPolicyAttribute(InvalidRequest):
    """A parameter policy attribute out of range (``InvalidPolicyAttributeException``)."""

    aws_type = "InvalidPolicyAttributeException"


class InvalidFilter(InvalidRequest):
    """A filter key, option or value AWS refuses (``InvalidFilterKey``/``Option``/``Value``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.aws_type = kind


class InvalidNextToken(InvalidRequest):
    """A NextToken this server did not issue (``InvalidNextToken``)."""

    aws_type = "InvalidNextToken"


class InvalidResourceId(InvalidRequest):
    """Tagging a parameter that does not exist (``InvalidResourceId``)."""

    aws_type = "InvalidResourceId"


class InvalidResourceType(InvalidRequest):
    """Tagging a resource type other than Parameter (``InvalidResourceType``)."""

    aws_type = "InvalidResourceType"


class TooManyTags(InvalidRequest):
    """More than 50 tags on a parameter (``TooManyTagsError``)."""

    aws_type = "TooManyTagsError"


class InvalidKeyId(InvalidRequest):
    """A SecureString's KeyId names no usable KMS key (``InvalidKeyId``)."""

    aws_type = "InvalidKeyId"
