"""Rules shared by both KV versions.

Both versions accept the same secret paths, which is what makes the in-place v1 → v2 upgrade safe:
no path either version accepts has an empty, ``.`` or ``..`` segment, so storage keys that do have
one (the v2 layout, see :mod:`hush.engines.kv.v2_store`) can never be mistaken for a secret.
"""

from __future__ import annotations

from hush.core.errors import InvalidRequest

__all__ = ["folder_path", "secret_path"]


def secret_path(path: str) -> str:
    """``path`` if it names a secret; :class:`InvalidRequest` if it is empty or a folder."""
    if not path or path.endswith("/"):
        raise InvalidRequest("a secret path must not be empty or end with '/'")
    return _check_segments(path)


def folder_path(path: str) -> str:
    """``path`` as a folder prefix for listing: ``""`` (the root) or ending with ``/``."""
    if not path:
        return ""
    folder = path if path.endswith("/") else path + "/"
    _check_segments(folder[:-1])
    return folder


def _check_segments(path: str) -> str:
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise InvalidRequest("a secret path must not contain empty, '.' or '..' segments")
    return path
