"""Declarative endpoints: ``Path``, ``Field``, ``Backend`` and the plug-in registry."""

from hush.framework.backend import Backend, BackendContext, PreparedCall
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = [
    "Backend",
    "BackendContext",
    "Field",
    "FieldData",
    "FieldType",
    "OperationSpec",
    "Path",
    "PreparedCall",
]
