"""Helpers for the audit unit tests: requests, an unsealed barrier, reading logs back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from hush.barrier.barrier import Barrier
from hush.barrier.view import StorageView
from hush.core.audit.broker import AuditBroker
from hush.core.audit.verify import VerifyReport, verify_log
from hush.core.request import Auth, Operation, Request, Response
from hush.crypto import SecretBytes, random_bytes
from hush.storage.memory import MemoryStorage

CANARY = "canary-Zq8vT3xW9pL2"
RESPONSE_CANARY = "resp-canary-Hk4nB7cD1e"
TOKEN = "hvs.CAESIJrZsecrettoken"
ACCESSOR = "accessor-8f1c2d"


def make_request(**overrides: Any) -> Request:
    """A realistic authenticated write carrying :data:`CANARY` in its data."""
    fields: dict[str, Any] = {
        "id": "3f1c0a8e-request",
        "operation": Operation.UPDATE,
        "path": "secret/app/db",
        "data": {"password": CANARY, "ttl": 3600, "enabled": True, "tags": ["a", CANARY]},
        "client_token": SecretBytes(TOKEN.encode()),
        "remote_addr": "127.0.0.1",
        "mount_point": "secret/",
        "auth": Auth(token_accessor=ACCESSOR, policies=("default", "dev"), display_name="token"),
    }
    fields.update(overrides)
    return Request(**fields)


def make_response() -> Response:
    """A response carrying :data:`RESPONSE_CANARY` in its data."""
    return Response(data={"value": RESPONSE_CANARY, "version": 3})


async def unsealed_view() -> tuple[MemoryStorage, StorageView]:
    """Physical memory storage and the ``sys/audit/`` view of an unsealed barrier above it."""
    storage = MemoryStorage()
    await storage.open()
    barrier = Barrier(storage)
    key = SecretBytes(random_bytes(32))
    await barrier.initialize(key)
    await barrier.unseal(key)
    return storage, StorageView(barrier, "sys/audit/")


async def new_broker() -> AuditBroker:
    """A set-up broker over fresh storage."""
    _, view = await unsealed_view()
    broker = AuditBroker(view)
    await broker.setup()
    return broker


def verify_file(path: Path, **kwargs: Any) -> VerifyReport:
    """:func:`verify_log` over a file."""
    with path.open("rb") as handle:
        return verify_log(handle, **kwargs)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON log, parsed."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def entries(path: Path) -> list[dict[str, Any]]:
    """Only the request/response entries of a JSON log."""
    return [r for r in read_records(path) if r["type"] in ("request", "response")]
