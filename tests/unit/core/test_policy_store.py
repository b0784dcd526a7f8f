"""The policy store over a real barrier: CRUD, built-in policies, the epoch and the shared cache."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from hush.barrier.barrier import Barrier
from hush.barrier.view import LogicalStorage, StorageView
from hush.core.acl import DEFAULT_POLICY_TEXT, PolicyError
from hush.core.errors import HushError, InvalidRequest, NotFound
from hush.core.policies import EPOCH_KEY, PolicyStore
from hush.core.request import Operation, Request, Response
from hush.core.system.policies import policy_paths
from hush.crypto import SecretBytes, random_bytes
from hush.framework.backend import Backend, BackendContext
from hush.framework.path import Path
from hush.storage.base import TxnOp
from hush.storage.memory import MemoryStorage

READ_A = 'path "a/*" { capabilities = ["read"] }'
READ_B = 'path "b/*" { capabilities = ["read"] }'


class Recording:
    """A LogicalStorage wrapper that counts reads and records transactions."""

    def __init__(self, inner: LogicalStorage) -> None:
        self.inner = inner
        self.reads: list[str] = []
        self.transactions: list[list[TxnOp]] = []

    async def get(self, path: str) -> bytes | None:
        self.reads.append(path)
        return await self.inner.get(path)

    async def put(self, path: str, value: bytes) -> None:
        await self.inner.put(path, value)

    async def delete(self, path: str) -> None:
        await self.inner.delete(path)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        self.transactions.append(list(ops))
        await self.inner.transaction(ops)


Nodes = Callable[[int], Awaitable[list[tuple[PolicyStore, Recording]]]]


def run(scenario: Callable[[Nodes], Awaitable[None]]) -> None:
    """Run ``scenario`` with a factory of N nodes: N barriers unsealed over one storage."""

    async def main() -> None:
        storage = MemoryStorage()
        await storage.open()
        key = SecretBytes(random_bytes(32))
        await Barrier(storage).initialize(key)

        async def nodes(count: int) -> list[tuple[PolicyStore, Recording]]:
            made = []
            for _ in range(count):
                barrier = Barrier(storage)
                await barrier.unseal(key)
                recording = Recording(StorageView(barrier, "sys/policy/"))
                store = PolicyStore(recording)
                await store.setup()
                made.append((store, recording))
            return made

        await scenario(nodes)
        await storage.close()

    asyncio.run(main())


def test_put_get_list_delete_roundtrip() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, _)] = await nodes(1)
        await store.put("App", READ_A)
        policy = await store.get(" app ")
        assert policy is not None and policy.name == "app" and policy.raw == READ_A
        await store.put("team/ops", READ_B)
        assert await store.list() == ["app", "default", "team/ops", "root"]
        await store.delete("APP")
        assert await store.get("app") is None
        await store.delete("never-existed")
        assert await store.list() == ["default", "team/ops", "root"]

    run(scenario)


def test_default_is_created_at_setup_and_editable_but_not_deletable() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, recording)] = await nodes(1)
        default = await store.get("default")
        assert default is not None and default.raw == DEFAULT_POLICY_TEXT
        await store.setup()  # a second node's setup does not rewrite it
        assert len(recording.transactions) == 1
        await store.put("default", READ_A)
        assert (await store.get("default")) is not None
        with pytest.raises(InvalidRequest, match='cannot delete "default" policy'):
            await store.delete("Default")

    run(scenario)


@pytest.mark.parametrize("name", ["root", "Root", " root", "root ", "\uff52\uff4f\uff4f\uff54"])
def test_root_cannot_be_written_or_deleted_under_any_spelling(name: str) -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, _)] = await nodes(1)
        with pytest.raises(InvalidRequest, match='cannot update "root" policy'):
            await store.put(name, 'path "*" { capabilities = ["read"] }')
        with pytest.raises(InvalidRequest, match='cannot delete "root" policy'):
            await store.delete(name)
        root = await store.get(name)
        assert root is not None and root.name == "root" and root.rules == ()

    run(scenario)


def test_lookalike_names_never_resolve_to_root_in_get_many() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, _)] = await nodes(1)
        names = ["Root", " root", "\uff52\uff4f\uff4f\uff54", "r\u043eot", "ROOT"]
        assert await store.get_many(names) == []
        assert not (await store.acl(names)).root
        assert (await store.acl(["root"])).root

    run(scenario)


def test_bad_policy_is_rejected_and_nothing_changes() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, recording)] = await nodes(1)
        before = await store.epoch()
        with pytest.raises(PolicyError, match="line"):
            await store.put("bad", 'path "a" {\n capabilities = ["read"\n')
        with pytest.raises(InvalidRequest):
            await store.put("", READ_A)
        assert await store.get("bad") is None and await store.epoch() == before
        assert len(recording.transactions) == 1  # only setup's

    run(scenario)


def test_every_change_moves_the_epoch_in_the_same_transaction() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, recording)] = await nodes(1)
        seen = {await store.epoch()}
        await store.put("p", READ_A)
        seen.add(await store.epoch())
        await store.delete("p")
        seen.add(await store.epoch())
        assert len(seen) == 3
        for ops in recording.transactions:
            assert [op.key for op in ops][-1] == EPOCH_KEY and len(ops) == 2

    run(scenario)


def test_get_many_skips_missing_and_serves_from_cache_with_one_read() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, recording)] = await nodes(1)
        await store.put("p", READ_A)
        found = await store.get_many(["p", "missing", "root", "p"])
        assert [p.name for p in found] == ["p", "root"]
        recording.reads.clear()
        await store.get_many(["p", "missing"])
        acl = await store.acl(["p"])
        assert recording.reads.count(EPOCH_KEY) == 2 and set(recording.reads) == {EPOCH_KEY}
        assert acl is await store.acl(["p"])  # the compiled ACL is cached too

    run(scenario)


def test_setup_reads_only_the_default_policy() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, recording)] = await nodes(1)
        for i in range(5):
            await store.put(f"p{i}", READ_A)
        recording.reads.clear()
        await store.setup()
        assert recording.reads == ["acl/default"]

    run(scenario)


def test_a_change_on_another_node_is_never_served_stale() -> None:
    async def scenario(nodes: Nodes) -> None:
        (writer, _), (reader, _) = await nodes(2)
        await writer.put("p", READ_A)
        assert (await reader.acl(["p", "default"])).check("a/x", Operation.READ).allowed
        assert [p.raw for p in await reader.get_many(["p"])] == [READ_A]  # now cached

        await writer.put("p", READ_B)  # changed elsewhere
        assert [p.raw for p in await reader.get_many(["p"])] == [READ_B]
        acl = await reader.acl(["p", "default"])
        assert not acl.check("a/x", Operation.READ).allowed
        assert acl.check("b/x", Operation.READ).allowed

        await writer.delete("p")  # deleted elsewhere
        assert await reader.get_many(["p"]) == []
        assert not (await reader.acl(["p", "default"])).check("b/x", Operation.READ).allowed

        await writer.put("p", READ_A)  # and created again: the cached "missing" goes too
        assert [p.raw for p in await reader.get_many(["p"])] == [READ_A]

    run(scenario)


def test_unparseable_stored_policy_fails_closed() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, recording)] = await nodes(1)
        await recording.inner.put("acl/broken", b'{"name": "broken", "policy": "path {"}')
        with pytest.raises(HushError) as info:
            await store.get_many(["broken"])
        assert info.value.status == 500

    run(scenario)


# --- the sys/ endpoints, through a small local backend ---------------------------------------


class PolicyBackend(Backend):
    """Just the policy endpoints, as the system backend declares them."""

    def __init__(self, store: PolicyStore) -> None:
        self._store = store
        super().__init__(BackendContext(MemoryStorage(), mount_path="sys/", mount_uuid="system"))

    def paths(self) -> Sequence[Path]:
        return policy_paths(lambda: self._store)


async def call(
    backend: Backend, operation: Operation, path: str, data: dict[str, Any] | None = None
) -> Response | None:
    request = Request(id="r", operation=operation, path="sys/" + path, data=data or {})
    request.with_route("sys/", path)
    return await (await backend.prepare(request)).run()


def test_policy_endpoints_speak_vaults_shapes() -> None:
    async def scenario(nodes: Nodes) -> None:
        [(store, _)] = await nodes(1)
        sys = PolicyBackend(store)
        assert await call(sys, Operation.UPDATE, "policy/One", {"policy": READ_A}) is None
        encoded = base64.b64encode(READ_B.encode()).decode()
        await call(sys, Operation.UPDATE, "policies/acl/two", {"policy": encoded})
        await call(sys, Operation.UPDATE, "policy/three", {"rules": READ_A})

        listed = await call(sys, Operation.READ, "policy")
        assert listed is not None and listed.flatten and listed.data is not None
        assert listed.data["policies"] == listed.data["keys"]
        assert listed.data["keys"] == ["default", "one", "three", "two", "root"]
        acl_list = await call(sys, Operation.LIST, "policies/acl/")
        assert acl_list is not None and acl_list.data == {"keys": listed.data["keys"]}

        old = await call(sys, Operation.READ, "policy/one")
        assert old is not None and old.flatten and old.data == {"name": "one", "rules": READ_A}
        new = await call(sys, Operation.READ, "policies/acl/two")
        assert new is not None and new.data == {"name": "two", "policy": READ_B}

        await call(sys, Operation.DELETE, "policies/acl/two")
        with pytest.raises(NotFound):
            await call(sys, Operation.READ, "policies/acl/two")
        with pytest.raises(InvalidRequest, match="not supplied or empty"):
            await call(sys, Operation.UPDATE, "policy/empty", {"policy": ""})
        with pytest.raises(PolicyError, match='unknown capability "raed"'):
            await call(
                sys,
                Operation.UPDATE,
                "policy/x",
                {"policy": 'path "a" { capabilities = ["raed"] }'},
            )
        with pytest.raises(InvalidRequest, match="cannot update"):
            await call(sys, Operation.UPDATE, "policies/acl/root", {"policy": READ_A})
        with pytest.raises(InvalidRequest, match="cannot delete"):
            await call(sys, Operation.DELETE, "policy/default")

    run(scenario)
