"""Vault-shaped audit entries built from a :class:`~hush.core.request.Request`, and their rendering.

An entry is a plain ``dict`` in the shape Vault's file device writes (``type``, ``time``, ``auth``,
``request``, ``response``, ``error``), with the values still in clear: each device then hashes its
own copy (:mod:`hush.core.audit.hashing`) and renders it once, as JSON or as JSONx (IBM's XML
rendering of JSON, Vault's ``format=jsonx``). Empty optional fields are left out as Vault's
``omitempty`` tags do, so ``jq`` filters written for Vault logs keep working.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

import orjson

from hush.core.request import Request, Response

__all__ = [
    "ROOT_NAMESPACE",
    "build_event_entry",
    "build_request_entry",
    "build_response_entry",
    "format_time",
    "from_jsonx",
    "to_json_bytes",
    "to_jsonx",
]

ROOT_NAMESPACE: dict[str, str] = {"id": "root"}
_JSONX_NS = "http://www.ibm.com/xmlns/prod/2009/jsonx"
_JSONX_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><json:object xmlns:json="' + _JSONX_NS + '">'
).encode()


# Whole seconds already formatted (the current one, and tokens' issue times): entries of the same
# second reuse the text, so strftime/gmtime run about once a second instead of several times per
# request. Bounded: emptied when it grows past _SECONDS_KEPT.
_seconds: dict[int, str] = {}
_SECONDS_KEPT = 256


def format_time(ns: int | None = None) -> str:
    """A UTC time as Go's RFC3339Nano prints it (``2024-05-01T10:00:00.123456789Z``, zeros cut)."""
    stamp = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(stamp, 1_000_000_000)
    text = _seconds.get(seconds)
    if text is None:
        if len(_seconds) >= _SECONDS_KEPT:
            _seconds.clear()
        text = _seconds[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        return f"{text}.{fraction:09d}".rstrip("0") + "Z"
    return text + "Z"


def _token_text(request: Request) -> str:
    if request.client_token is None:
        return ""
    return request.client_token.reveal().decode("utf-8", "replace")


def _auth_block(request: Request) -> dict[str, Any] | None:
    auth, token = request.auth, request.token_entry
    if auth is None and token is None:
        return None
    policies = list(auth.policies) if auth is not None else list(token.policies if token else [])
    block: dict[str, Any] = {
        "client_token": _token_text(request),
        "accessor": auth.token_accessor if auth is not None else (token.accessor if token else ""),
        "display_name": auth.display_name if auth is not None else "",
        "policies": policies,
        "token_policies": list(token.policies) if token is not None else policies,
        # Vault prints null, not {}, for a token without metadata.
        "metadata": dict(token.meta) if token is not None and token.meta else None,
        "entity_id": auth.entity_id if auth is not None else (token.entity_id if token else ""),
        "token_type": token.type if token is not None else "service",
    }
    if token is not None:
        if not block["display_name"]:
            block["display_name"] = token.display_name
        block["token_ttl"] = token.creation_ttl
        block["token_issue_time"] = format_time(int(token.creation_time) * 1_000_000_000)
    return block


def _request_block(request: Request, mount_type: str) -> dict[str, Any]:
    block: dict[str, Any] = {"id": request.id, "operation": request.operation.value}
    if request.mount_point:
        block["mount_point"] = request.mount_point
    if mount_type:
        block["mount_type"] = mount_type
    block["client_token"] = _token_text(request)
    block["client_token_accessor"] = request.auth.token_accessor if request.auth else ""
    block["namespace"] = dict(ROOT_NAMESPACE)
    block["path"] = request.path
    if request.data:
        block["data"] = request.data
    if request.remote_addr:
        block["remote_address"] = request.remote_addr
    return block


def build_request_entry(request: Request, *, mount_type: str = "") -> dict[str, Any]:
    """The ``type: request`` entry logged before a request is handled (values in clear)."""
    entry: dict[str, Any] = {"time": format_time(), "type": "request"}
    auth = _auth_block(request)
    if auth is not None:
        entry["auth"] = auth
    entry["request"] = _request_block(request, mount_type)
    entry["error"] = ""
    return entry


def build_event_entry(
    event: str,
    data: Mapping[str, Any],
    error: str,
    *,
    event_id: str,
    mount_point: str,
    mount_type: str,
) -> dict[str, Any]:
    """A ``type: event`` entry for something a backend did on its own (no client request).

    It is shaped like a response entry (a ``request`` block naming ``<mount><event>`` with no
    token, the ``data`` in the ``response`` block) so devices hash it by the same rules.
    """
    request: dict[str, Any] = {
        "id": event_id,
        "operation": "update",
        "mount_point": mount_point,
        "mount_type": mount_type,
        "client_token": "",
        "client_token_accessor": "",
        "namespace": dict(ROOT_NAMESPACE),
        "path": mount_point + event,
    }
    return {
        "time": format_time(),
        "type": "event",
        "event": event,
        "request": request,
        "response": {"mount_point": mount_point, "mount_type": mount_type, "data": dict(data)},
        "error": error,
    }


def build_response_entry(
    request: Request, response: Response | None, error: str | None, *, mount_type: str = ""
) -> dict[str, Any]:
    """The ``type: response`` entry logged after a request is handled (values in clear)."""
    entry: dict[str, Any] = {"time": format_time(), "type": "response"}
    auth = _auth_block(request)
    if auth is not None:
        entry["auth"] = auth
    entry["request"] = _request_block(request, mount_type)
    block: dict[str, Any] = {}
    if request.mount_point:
        block["mount_point"] = request.mount_point
    if mount_type:
        block["mount_type"] = mount_type
    if response is not None:
        if response.auth:
            block["auth"] = dict(response.auth)
        if response.lease_id:
            block["secret"] = {"lease_id": response.lease_id}
        data = response.data if response.data is not None else response.raw_body
        if data:
            block["data"] = data
        if response.warnings:
            block["warnings"] = list(response.warnings)
    entry["response"] = block
    entry["error"] = error or ""
    return entry


def _json_default(value: Any) -> Any:
    # Request data may hold bytes or other objects; never fail the audit write over a type.
    # SecretBytes' str() is redacted, so an unexpected secret wrapper prints no secret.
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_json_bytes(entry: Mapping[str, Any]) -> bytes:
    """One entry as compact JSON bytes (no trailing newline)."""
    return orjson.dumps(entry, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def _xml_escape(text: str) -> str:
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
    out = out.replace("\t", "&#9;")
    # XML 1.0 cannot carry other control characters at all, even escaped.
    return "".join(ch if ch >= " " or ch in "\n\r\t" else "\ufffd" for ch in out)


def _jsonx_value(value: Any, name: str | None, out: list[str]) -> None:
    attr = "" if name is None else f' name="{_xml_escape(str(name))}"'
    if isinstance(value, Mapping):
        out.append(f"<json:object{attr}>")
        for key, item in value.items():
            _jsonx_value(item, str(key), out)
        out.append("</json:object>")
    elif isinstance(value, list | tuple):
        out.append(f"<json:array{attr}>")
        for item in value:
            _jsonx_value(item, None, out)
        out.append("</json:array>")
    elif value is None:
        out.append(f"<json:null{attr}/>")
    elif isinstance(value, bool):
        out.append(f"<json:boolean{attr}>{'true' if value else 'false'}</json:boolean>")
    elif isinstance(value, int | float):
        out.append(f"<json:number{attr}>{value}</json:number>")
    elif isinstance(value, str):
        out.append(f"<json:string{attr}>{_xml_escape(value)}</json:string>")
    else:
        _jsonx_value(_json_default(value), name, out)


def to_jsonx(entry: Mapping[str, Any]) -> bytes:
    """One entry as a single line of JSONx (no trailing newline)."""
    parts: list[str] = []
    for key, item in entry.items():
        _jsonx_value(item, str(key), parts)
    return _JSONX_HEAD + "".join(parts).encode() + b"</json:object>"


def _from_element(element: ElementTree.Element) -> Any:
    kind = element.tag.rpartition("}")[2]
    text = element.text or ""
    if kind == "object":
        return {child.get("name", ""): _from_element(child) for child in element}
    if kind == "array":
        return [_from_element(child) for child in element]
    if kind == "string":
        return text
    if kind == "number":
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if kind == "boolean":
        return text == "true"
    if kind == "null":
        return None
    raise ValueError(f"unknown JSONx element {kind!r}")


def from_jsonx(line: bytes) -> Any:
    """Parse one JSONx line back into Python values (refuses DTDs, so no entity expansion)."""
    if b"<!" in line:
        raise ValueError("JSONx line carries a DTD, comment or CDATA section")
    # Safe here: without a DTD there are no entities to expand; expat forbids external ones.
    root = ElementTree.fromstring(line)  # noqa: S314 - DTDs refused above
    return _from_element(root)
