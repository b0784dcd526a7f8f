"""Identity store logic over real storage: login races, external groups, the cached resolution."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hush.barrier.view import StorageView
from hush.core.identity import IdentityResolver, IdentityStore, entity_for_login
from hush.core.identity.backend import IdentityBackend
from hush.core.identity.model import Entity, EntityAlias, Group, GroupAlias
from hush.core.identity.resolve import identity_policy_names
from hush.storage.base import TxnOp
from hush.storage.memory import MemoryStorage


class CountingStorage:
    """Storage that counts reads (to check the cached path costs one)."""

    def __init__(self, inner: MemoryStorage) -> None:
        self.inner = inner
        self.reads = 0

    async def get(self, path: str) -> bytes | None:
        self.reads += 1
        return await self.inner.get(path)

    async def put(self, path: str, value: bytes) -> None:
        await self.inner.put(path, value)

    async def delete(self, path: str) -> None:
        await self.inner.delete(path)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def transaction(self, ops: Sequence[TxnOp]) -> None:
        await self.inner.transaction(ops)


async def _stores(n: int) -> tuple[MemoryStorage, list[IdentityStore]]:
    storage = MemoryStorage()
    await storage.open()
    stores = [IdentityStore(storage) for _ in range(n)]
    for store in stores:
        await store.setup()
    return storage, stores


def test_racing_first_logins_on_two_nodes_make_one_entity() -> None:
    async def scenario() -> None:
        _, (node_a, node_b) = await _stores(2)
        ids = await asyncio.gather(
            *[entity_for_login(s, "auth_userpass_1", "ann", {}) for s in [node_a, node_b] * 5]
        )
        assert len(set(ids)) == 1
        assert await node_a.ids(Entity) == [ids[0]]
        assert len(await node_a.ids(EntityAlias)) == 1

    asyncio.run(scenario())


def test_alias_names_are_exact_and_per_mount() -> None:
    async def scenario() -> None:
        _, (store,) = await _stores(1)
        names = ["ann", "Ann", "ann ", "\uff41nn", "ann\u200b"]
        ids = [await entity_for_login(store, "auth_jwt_1", n, {}) for n in names]
        assert len(set(ids)) == len(names)
        assert await entity_for_login(store, "auth_jwt_2", "ann", {}) not in ids

    asyncio.run(scenario())


def test_external_groups_follow_the_login_claims_of_their_mount_only() -> None:
    async def scenario() -> None:
        _, (store,) = await _stores(1)
        resolver = IdentityResolver(store)
        groups = {
            name: Group(id=f"g-{name}", name=name, type="external", policies=[f"p-{name}"])
            for name in ("ops", "dev", "other")
        }
        ops = []
        for name, group in groups.items():
            accessor = "auth_jwt_2" if name == "other" else "auth_jwt_1"
            alias = GroupAlias(
                id=f"ga-{name}", canonical_id=group.id, mount_accessor=accessor, name=name
            )
            group.alias_id = alias.id
            ops += [
                store.put(group),
                store.put(alias),
                store.index(store.group_alias_factor_key(accessor, name), alias.id),
            ]
        await store.commit(ops)

        other = await entity_for_login(store, "auth_jwt_2", "bo", {}, ["other", "ops"])
        assert (await resolver.resolve(other)).policies == ("p-other",)  # "ops" is mount 1's
        entity = await entity_for_login(store, "auth_jwt_1", "bo", {}, ["ops", "dev", "nope"])
        assert (await resolver.resolve(entity)).policies == ("p-dev", "p-ops")
        entity = await entity_for_login(store, "auth_jwt_1", "bo", {}, ["dev"])
        assert (await resolver.resolve(entity)).policies == ("p-dev",)
        ops_group = await store.get(Group, "g-ops")
        assert ops_group is not None and ops_group.member_entity_ids == []
        assert entity != other and (await resolver.resolve(other)).policies == ("p-other",)

    asyncio.run(scenario())


def test_cached_resolution_costs_one_read_and_sees_changes() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.open()
        counting = CountingStorage(storage)
        store = IdentityStore(counting)
        await store.setup()
        resolver = IdentityResolver(store)
        entity_id = await entity_for_login(store, "auth_userpass_1", "cy", {})
        assert (await resolver.resolve(entity_id)).policies == ()
        counting.reads = 0
        assert (await resolver.resolve(entity_id)).policies == ()
        assert counting.reads == 1
        entity = await store.get(Entity, entity_id)
        assert entity is not None
        entity.policies = ["ops"]
        await store.commit([store.put(entity)])
        assert (await resolver.resolve(entity_id)).policies == ("ops",)

    asyncio.run(scenario())


def test_identity_never_grants_root_whatever_was_stored() -> None:
    assert identity_policy_names(["root", "Root ", "\uff52oot", "ops", "", "a\x00"]) == ["ops"]


def test_every_identity_path_matches_exactly_one_declared_route() -> None:
    storage = MemoryStorage()
    store = IdentityStore(storage)
    backend = IdentityBackend(
        StorageView(storage, "sys/identity/"), store, IdentityResolver(store), lambda: []
    )
    samples = [
        "entity",
        "entity/id",
        "entity/id/",
        "entity/id/abc",
        "entity/name",
        "entity/name/bob",
        "entity/merge",
        "entity/batch-delete",
        "entity-alias",
        "entity-alias/id",
        "entity-alias/id/abc",
        "group",
        "group/id",
        "group/id/abc",
        "group/name",
        "group/name/ops",
        "group-alias",
        "group-alias/id",
        "group-alias/id/abc",
        "lookup/entity",
        "lookup/group",
    ]
    for sample in samples:
        matches = [p.pattern for p in backend.declared_paths if p.match(sample) is not None]
        assert len(matches) == 1, (sample, matches)
    for path in backend.declared_paths:
        assert path.synopsis and all(f.description for f in path.fields.values()), path.pattern
    for unrouted in ("entity/id/a/b", "entity/name/a/b", "lookup/other", "oidc/key/x"):
        assert backend.route(unrouted) is None, unrouted
