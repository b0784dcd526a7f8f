"""The core: seal lifecycle and the request pipeline shared by every front end.

Pipeline for one request: sealed check → route (mount table) → authenticate (token) → prepare
(existence check, field validation) → authorise → run handler. Audit wraps this in a later layer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hush.barrier.barrier import SEAL_CONFIG_PATH, Barrier
from hush.barrier.view import StorageView
from hush.core.acl import ACL
from hush.core.cluster_sync import ClusterSync
from hush.core.epoch import AuthorisationEpoch
from hush.core.errors import (
    AlreadyInitialized,
    HushError,
    InvalidRequest,
    MountUnavailable,
    NotInitialized,
    PermissionDenied,
    RouteNotFound,
    Sealed,
)
from hush.core.expiration import ExpirationManager, ExpiryWorker
from hush.core.login import issue_login_token
from hush.core.membership import NodeMembership
from hush.core.metrics import Metrics
from hush.core.mounts import AUTH_TABLE_PATH, MountEntry, MountTable
from hush.core.request import Auth, Operation, Request, Response
from hush.core.scheduler import Scheduler
from hush.core.shares import SealConfig, ShareCollector, encode_shares, validate_split
from hush.core.tokens import UNREAD, TokenEntry, TokenStore, Unread
from hush.core.transit_kms import TransitKms
from hush.core.wrapping import wrap
from hush.crypto import KEY_SIZE, SecretBytes, random_bytes
from hush.framework.backend import Backend, PreparedCall
from hush.framework.registry import Registry
from hush.storage.base import DueEntry, Storage, StorageError, TxnOp

__all__ = ["SEALED_PATHS", "ClusterInfo", "Core", "InitResult", "RelayedProgress"]

CLUSTER_INFO_PATH = "core/cluster"
TOKEN_VIEW_PREFIX = "sys/token/"
# System paths answered while sealed (Vault's behaviour); everything else gets 503.
SEALED_PATHS = frozenset({"init", "unseal", "seal-status", "health", "leader"})
# Tokenless sys/ paths that are audited all the same: unwrapping, and the key ceremonies (rekey
# and root generation, which Vault audits too). Shares, OTPs, nonces and encoded root tokens are
# strings in the entry's data, so every hashing device writes only their HMACs.
_AUDITED_TOKENLESS_SYS = ("wrapping/", "rekey/", "rekey-recovery-key/", "generate-root/")


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``sys/init`` hands back once: the shares and the first root token."""

    shares: list[bytes]
    root_token: SecretBytes
    recovery_shares: list[bytes] | None = None


def _address_allowed(remote_addr: str, cidrs: list[str]) -> bool:
    """Whether a token bound to ``cidrs`` may be used from ``remote_addr`` (unbound: always)."""
    if not cidrs:
        return True
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


@dataclass(frozen=True, slots=True)
class _AuditContext:
    """What the audit entries of one request need to know about its mount."""

    mount_type: str
    request_keys: frozenset[str]
    response_keys: frozenset[str]


class _SystemView:
    """What mounted backends may ask of the core (Vault's ``SystemView``), nothing more."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._kms: TransitKms | None = None

    def _transit(self) -> TransitKms:
        # Built on first use: the mount table is made after this view (it is handed the view).
        if self._kms is None:
            self._kms = TransitKms(self._core.mounts)
        return self._kms

    async def kms_key_id(self, reference: str) -> str:
        """The id of the transit KMS key ``reference`` names."""
        return await self._transit().key_id(reference)

    async def kms_encrypt(
        self, key_id: str, plaintext: SecretBytes, context: Mapping[str, str]
    ) -> bytes:
        """Encrypt under a transit KMS key."""
        return await self._transit().encrypt(key_id, plaintext, context)

    async def kms_decrypt(
        self, key_id: str, blob: bytes, context: Mapping[str, str]
    ) -> SecretBytes:
        """Decrypt with a transit KMS key."""
        return await self._transit().decrypt(key_id, blob, context)

    async def kms_denied(self, request: Request, action: str, key_id: str) -> str | None:
        """The transit KMS path the request's caller may not ``update`` (``None``: allowed)."""
        path = f"{self._transit().mount()}kms/{action}/{key_id}"
        entry = request.token_entry
        if entry is None:
            return path
        acl = await self._core.acl_for(entry)
        return None if acl.check(path, Operation.UPDATE, {}).allowed else path

    async def generate_password(self, policy_name: str) -> str:
        """A password from the named password policy (404 when it does not exist)."""
        return await self._core.password_policies.generate(policy_name)

    def lease_ttls(self, config: Mapping[str, Any]) -> tuple[int, int]:
        """The mount's default and max lease TTL as the expiration manager applies them."""
        limits = self._core.expiration.limits(config)
        return limits.default_ttl, limits.max_ttl

    async def audit_event(
        self, mount_path: str, event: str, data: Mapping[str, Any], error: str
    ) -> None:
        """An audit entry for an event of the backend mounted at ``mount_path``."""
        resolved = self._core.mounts.resolve(mount_path)
        await self._core.audit.log_event(
            event,
            data,
            error,
            mount_point=mount_path,
            mount_type=resolved[0].type if resolved is not None else "",
        )


@dataclass(frozen=True, slots=True)
class RelayedProgress:
    """A multi-process node's unseal progress, as its supervisor answers one relayed share."""

    progress: int
    nonce: str
    key: SecretBytes | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """Cluster name and id, chosen at init."""

    name: str
    id: str


class Core:
    """One node's state: storage, barrier, seal progress, tokens, mounts and the system backend."""

    def __init__(
        self,
        storage: Storage,
        *,
        storage_type: str,
        engines: Registry,
        auth_methods: Registry | None = None,
    ) -> None:
        from hush.core.audit import AuditBroker
        from hush.core.autoseal import SealManager
        from hush.core.cubbyhole import CubbyholeBackend
        from hush.core.identity import IdentityResolver, IdentityStore
        from hush.core.identity.backend import IdentityBackend
        from hush.core.password_policies import PasswordPolicyStore
        from hush.core.policies import PolicyStore
        from hush.core.system.backend import SystemBackend
        from hush.core.token_backend import TokenBackend

        self.storage = storage
        self.storage_type = storage_type
        self.barrier = Barrier(storage)
        self.tokens = TokenStore(StorageView(self.barrier, TOKEN_VIEW_PREFIX))
        self.epoch = AuthorisationEpoch(self.barrier)
        self.password_policies = PasswordPolicyStore(
            StorageView(self.barrier, "sys/password_policy/")
        )
        self.mounts = MountTable(
            self.barrier, engines, commit=self.epoch.commit, system=_SystemView(self)
        )
        self.auth_mounts = MountTable(
            self.barrier,
            auth_methods or Registry("auth method"),
            table_path=AUTH_TABLE_PATH,
            view_prefix="auth/",
            reserved=("token/",),
            commit=self.epoch.commit,
        )
        self.policies = PolicyStore(StorageView(self.barrier, "sys/policy/"))
        identity_view = StorageView(self.barrier, "sys/identity/")
        self.identity = IdentityStore(identity_view)
        # Identity keeps its own stored epoch (read on every resolve), so a change made on one
        # node applies on every node's next request without the authorisation epoch.
        self.identity_resolver = IdentityResolver(self.identity)
        self.identity_backend = IdentityBackend(
            identity_view,
            self.identity,
            self.identity_resolver,
            # A lambda, not the bound method: the table replaces its dict on every load.
            lambda: self.auth_mounts.entries.values(),  # noqa: PLW0108
        )
        self.audit = AuditBroker(
            StorageView(self.barrier, "sys/audit/"),
            commit=lambda ops: self.epoch.commit(ops, "sys/audit/"),
        )
        self.scheduler = Scheduler(
            lambda: [*self.mounts.backends.items(), *self.auth_mounts.backends.items()]
        )
        self.node = NodeMembership(
            storage, StorageView(self.barrier, "sys/"), lambda: __import__("hush").__version__
        )
        self.node.background.append(self.scheduler)
        # Told about every unseal (with the unseal key) and every seal this node performs on its
        # own initiative: a multi-process node's supervisor hands them to the other workers.
        self.unseal_listeners: list[Callable[[SecretBytes], None]] = []
        self.seal_listeners: list[Callable[[], Awaitable[None]]] = []
        # Set in a worker process: shares are collected by the supervisor for the whole node.
        self.share_relay: Callable[[SecretBytes, int, int], Awaitable[RelayedProgress]] | None = (
            None
        )
        self.relayed_progress: tuple[int, str] | None = None
        self.unseal_reset_listeners: list[Callable[[], None]] = []
        self.seal_config: SealConfig | None = None
        self.cluster: ClusterInfo | None = None
        self.unseal_progress: ShareCollector | None = None
        self.expiration = ExpirationManager(self)
        self.seals = SealManager(self)
        self.system: Backend = SystemBackend(self)
        self.token_backend = TokenBackend(self)
        self.cubbyhole = CubbyholeBackend(self)
        self.tokens.on_revoke.append(self.cubbyhole.destroy)
        self.metrics = Metrics()
        self.expiry = ExpiryWorker(self.expiration, self.tokens, self.metrics)
        # Lease expiry, like the scheduler, runs only on the node holding the background lock.
        self.node.background.append(self.expiry)
        self._bump_epoch_on_unseal = False
        self.tokens.on_create.append(self.expiration.register_token)
        self.tokens.on_revoke.append(self.expiration.tokens_revoked)
        self.unauthenticated_metrics = False
        self.log_level = logging.INFO
        self.started_at = time.time()
        self.remount_history: dict[str, tuple[str, str]] = {}
        # The barrier opens before tokens, policies and mounts are loaded; requests are served
        # (and the node reports unsealed) only once all of them are, never in between.
        self._serving = False
        self._lock = asyncio.Lock()
        self.cluster_sync = ClusterSync(
            barrier=self.barrier,
            epoch=self.epoch,
            tokens=self.tokens,
            token_prefix=TOKEN_VIEW_PREFIX,
            tables=(self.mounts, self.auth_mounts),
            audit=self.audit,
            lock=self._lock,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open storage and read the seal configuration (the node starts sealed)."""
        await self.storage.open()
        blob = await self.storage.get(SEAL_CONFIG_PATH)
        self.seal_config = SealConfig.from_json(blob) if blob else None
        await self.seals.load()

    async def close(self) -> None:
        """Seal (a shutdown: not announced to seal listeners), close seal devices and storage."""
        await self.seal(announce=False)
        await self.seals.close()
        await self.storage.close()

    @property
    def lock(self) -> asyncio.Lock:
        """Serialises seal-state changes (unseal, seal, init, mount changes)."""
        return self._lock

    @property
    def sealed(self) -> bool:
        """Whether the node is sealed: barrier closed, or opened but not yet ready to serve."""
        return self.barrier.sealed or not self._serving

    @property
    def initialized(self) -> bool:
        """Whether ``sys/init`` has run (read at open, updated by init)."""
        return self.seal_config is not None

    async def refresh_initialized(self) -> None:
        """Re-read the seal configuration while none is known.

        Another worker process (or node) on the same store may have run ``sys/init`` since this
        one opened; its status endpoints must not keep answering "not initialised".
        """
        if self.seal_config is not None:
            return
        try:
            blob = await self.storage.get(SEAL_CONFIG_PATH)
        except StorageError:  # status endpoints answer from what is known; never fail on this
            return
        if blob and self.seal_config is None:
            self.seal_config = SealConfig.from_json(blob)

    async def initialize(self, shares: int, threshold: int) -> InitResult:
        """Create keys and the first root token; the node stays sealed, as Vault's does."""
        validate_split(shares, threshold)
        # Store-wide: two nodes (or workers) initialising at once must not both write keys.
        async with self._lock, self.storage.exclusive(SEAL_CONFIG_PATH):
            if self.seal_config is not None or await self.barrier.initialized():
                raise AlreadyInitialized("Vault is already initialized")
            from hush.barrier import shamir

            unseal_key = SecretBytes(random_bytes(KEY_SIZE))
            parts = shamir.split(unseal_key.reveal(), shares, threshold)
            root_token = await self.create_store(unseal_key, SealConfig(shares, threshold))
            return InitResult(parts, root_token)

    async def initialize_auto(self, recovery_shares: int, recovery_threshold: int) -> InitResult:
        """Initialise with the configured auto-unseal seal; the node comes up unsealed."""
        async with self._lock:
            if self.seal_config is not None or await self.barrier.initialized():
                raise AlreadyInitialized("Vault is already initialized")
            recovery, root_token = await self.seals.initialize(recovery_shares, recovery_threshold)
            return InitResult([], root_token, recovery)

    async def create_store(
        self, unseal_key: SecretBytes, config: SealConfig, extra: list[TxnOp] | None = None
    ) -> SecretBytes:
        """Write keys, seal config, cluster info and the first root token; stays sealed."""
        await self.barrier.initialize(
            unseal_key, extra=[TxnOp("put", SEAL_CONFIG_PATH, config.to_json()), *(extra or [])]
        )
        self.seal_config = config
        await self.barrier.unseal(unseal_key)
        try:
            cluster = ClusterInfo(f"hush-cluster-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()))
            await self.barrier.put(
                CLUSTER_INFO_PATH, orjson.dumps({"name": cluster.name, "id": cluster.id})
            )
            await self.tokens.setup()
            root_token, _ = await self.tokens.create_root()
        finally:
            self.barrier.seal()
            self.tokens.teardown()
        return root_token

    async def unseal_with_key(self, unseal_key: SecretBytes, *, announce: bool = True) -> None:
        """Unseal with the combined unseal key and bring mounts and tokens up."""
        await self.barrier.unseal(unseal_key)
        try:
            await self._post_unseal()
        except Exception:
            # Not seal(): callers (unseal with shares, auto-unseal, init) hold the lock already.
            await self._drop_keys()
            raise
        self._serving = True
        self.metrics.sealed.set(0)
        if announce:
            for listener in self.unseal_listeners:
                listener(unseal_key)

    async def _post_unseal(self) -> None:
        if self._bump_epoch_on_unseal:
            # First unseal after a snapshot restore: every other node reloads what it cached.
            await self.epoch.commit([])
            self._bump_epoch_on_unseal = False
        # Read before loading anything: a change landing meanwhile makes the next request
        # reload, never the other way round.
        await self.cluster_sync.mark_loaded()
        await self.tokens.setup()
        await self.policies.setup()
        await self.identity.setup()
        await self.audit.setup()
        blob = await self.barrier.get(CLUSTER_INFO_PATH)
        if blob is not None:
            raw = orjson.loads(blob)
            self.cluster = ClusterInfo(str(raw["name"]), str(raw["id"]))
        await self.mounts.load()
        await self.auth_mounts.load()
        # Heartbeats, and background work once this node wins the background lock.
        self.node.start()

    async def submit_unseal_share(self, share: SecretBytes, *, migrate: bool = False) -> None:
        """Add one share; unseal once the threshold is reached. Wrong quorum resets progress.

        The shares are unseal shares (Shamir) or recovery shares (auto-unseal seal, or a seal
        migration away from one); ``migrate`` must be set exactly when a migration is pending.
        """
        async with self._lock:
            if self.unseal_progress is None:
                # A new attempt: another node may have initialised or rekeyed the shared store.
                blob = await self.storage.get(SEAL_CONFIG_PATH)
                self.seal_config = SealConfig.from_json(blob) if blob else None
            if self.seal_config is None:
                raise NotInitialized
            if not self.sealed:
                return
            self.seals.check_migrate_flag(migrate)
            config = self.seals.operator_config()
            if self.share_relay is not None:
                await self._submit_relayed_share(share, config, migrate=migrate)
                return
            progress = self.unseal_progress or ShareCollector(
                config.secret_threshold, config.share_length
            )
            progress.add(share)
            # Only an accepted share starts an attempt: a refused first share leaves no nonce.
            self.unseal_progress = progress
            if not progress.complete:
                return
            self.unseal_progress = None
            await self.seals.unseal_with_operator_key(progress.combine(), migrate=migrate)

    async def _submit_relayed_share(
        self, share: SecretBytes, config: SealConfig, *, migrate: bool
    ) -> None:
        """Hand the share to the supervisor, which keeps the node's progress (under ``_lock``)."""
        assert self.share_relay is not None
        result = await self.share_relay(share, config.secret_threshold, config.share_length)
        self.relayed_progress = (result.progress, result.nonce) if result.progress else None
        if result.error is not None:
            raise InvalidRequest(result.error)
        if result.key is None:
            return
        self.relayed_progress = None
        await self.seals.unseal_with_operator_key(result.key, migrate=migrate)

    async def unseal_from_peer(self, unseal_key: SecretBytes) -> None:
        """Unseal with a key another worker of this node unsealed with (no-op if unsealed)."""
        async with self._lock:
            if self.sealed:
                await self.unseal_with_key(unseal_key, announce=False)

    def reset_unseal(self) -> None:
        """Discard the shares collected so far."""
        self.unseal_progress = None
        self.relayed_progress = None
        for listener in self.unseal_reset_listeners:
            listener()

    async def seal(self, *, announce: bool = True) -> None:
        """Drop every key and stop all backends (audit devices checkpoint first)."""
        if announce:
            for seal_listener in self.seal_listeners:
                await seal_listener()
        async with self._lock:
            await self._drop_keys()

    async def _drop_keys(self) -> None:
        self._serving = False
        await self.node.stop()
        await self.scheduler.stop()
        await self.expiry.stop()
        await self.mounts.unload()
        await self.auth_mounts.unload()
        if not self.barrier.sealed:
            await self.audit.teardown()
        self.tokens.teardown()
        self.identity.teardown()
        self.identity_resolver.invalidate()
        self.barrier.seal()
        self.unseal_progress = None
        self.cluster = None
        self.cluster_sync.forget()
        self.metrics.sealed.set(1)

    async def restore_store(self, entries: list[tuple[str, bytes]], due: list[DueEntry]) -> None:
        """Seal, replace the whole store atomically, and come back as the snapshot left it.

        The first unseal afterwards moves the authorisation epoch, so the other nodes sharing
        the store reload their mount tables, audit devices and keyring.
        """
        await self.seal()
        async with self._lock:
            await self.storage.replace_all(entries, due)
            blob = await self.storage.get(SEAL_CONFIG_PATH)
            self.seal_config = SealConfig.from_json(blob) if blob else None
            await self.seals.load()
            self._bump_epoch_on_unseal = True
        self.seals.start_auto_unseal()

    async def replace_unseal_key(self, unseal_key: SecretBytes, config: SealConfig) -> None:
        """Protect the root key under ``unseal_key`` and store ``config``, atomically (rekey)."""
        await self.storage.transaction(
            [TxnOp("put", SEAL_CONFIG_PATH, config.to_json()), *self.barrier.rekey_ops(unseal_key)]
        )
        self.seal_config = config
        # A worker's supervisor must unseal replacement workers with the new key from now on.
        for listener in self.unseal_listeners:
            listener(unseal_key)

    def init_response(self, result: InitResult) -> dict[str, object]:
        """``sys/init``'s answer body."""
        body: dict[str, object] = {
            **encode_shares(result.shares),
            "root_token": result.root_token.reveal().decode(),
        }
        if result.recovery_shares:
            recovery = encode_shares(result.recovery_shares)
            body["recovery_keys"] = recovery["keys"]
            body["recovery_keys_base64"] = recovery["keys_base64"]
        return body

    # -- request pipeline --------------------------------------------------------------------

    def _route(self, path: str) -> tuple[Backend, str, str] | None:
        if path == "sys" or path.startswith("sys/"):
            return self.system, "sys/", path[4:]
        if path == "auth/token" or path.startswith("auth/token/"):
            return self.token_backend, "auth/token/", path[len("auth/token/") :]
        if path == "cubbyhole" or path.startswith("cubbyhole/"):
            return self.cubbyhole, "cubbyhole/", path[len("cubbyhole/") :]
        if path == "identity" or path.startswith("identity/"):
            return self.identity_backend, "identity/", path[len("identity/") :]
        if path.startswith("auth/"):
            found_auth = self.auth_mounts.resolve(path[len("auth/") :])
            if found_auth is None:
                return None
            auth_entry, auth_backend, auth_rest = found_auth
            return auth_backend, "auth/" + auth_entry.path, auth_rest
        found = self.mounts.resolve(path)
        if found is None:
            return None
        entry, backend, rest = found
        return backend, entry.path, rest

    async def authenticate(
        self, request: Request, stored: bytes | Unread | None = UNREAD
    ) -> TokenEntry:
        """The live token entry for the request's token, or 403.

        ``stored`` is the token entry's stored value when the pipeline already read it. A front
        end that verified other credentials itself (the AWS front end checks SigV4 and names the
        access key's identity) sends no token and sets ``token_entry`` instead.
        """
        if request.client_token is None and request.token_entry is not None:
            return request.token_entry
        if request.client_token is None or len(request.client_token) == 0:
            raise PermissionDenied
        entry = await self.tokens.lookup(request.client_token, stored=stored)
        if entry is None or not _address_allowed(request.remote_addr, entry.bound_cidrs):
            raise PermissionDenied
        if entry.mount_accessor and not self._auth_mount_live(entry.mount_accessor):
            # Its auth method was disabled (or re-enabled anew): Vault revokes such tokens;
            # this also covers batch tokens, which no revocation can reach.
            raise PermissionDenied
        return entry

    def _auth_mount_live(self, accessor: str) -> bool:
        return any(e.accessor == accessor for e in self.auth_mounts.entries.values())

    async def identity_policies(self, entry: TokenEntry) -> list[str]:
        """The policies a token's entity and its groups add now; a disabled entity is refused.

        Resolved on every request (one cached read), so identity changes apply to existing
        tokens at once, as Vault's ``identity_policies`` do.
        """
        if not entry.entity_id:
            return []
        resolved = await self.identity_resolver.resolve(entry.entity_id)
        if resolved.disabled:
            raise PermissionDenied
        return list(resolved.policies)

    async def acl_for(self, entry: TokenEntry, epoch: int | None = None) -> ACL:
        """The ACL of a token's policies plus its identity policies, from fresh caches."""
        policies = [*entry.policies, *await self.identity_policies(entry)]
        return await self.policies.acl(policies, epoch)

    async def handle(self, request: Request) -> Response | None:
        """Run one logical request through the pipeline."""
        path = request.path
        is_sys = path == "sys" or path.startswith("sys/")
        if self.sealed and not (is_sys and path[4:] in SEALED_PATHS):
            raise Sealed
        # The seal-lifecycle endpoints answer from memory (as Vault's do): health checks keep
        # working, and cost nothing, while storage is away.
        lifecycle = is_sys and path[4:] in SEALED_PATHS
        epoch: int | None = None
        stored_token: bytes | Unread | None = UNREAD
        if not (self.sealed or lifecycle):
            epoch, stored_token = await self.cluster_sync.read_epoch_and_token(request.client_token)
            epoch = await self.cluster_sync.sync(epoch)
        routed = self._route(path)
        audit = _AuditContext(
            routed[0].type_name if routed is not None else "", *self._non_hmac_keys(routed)
        )
        if routed is not None and routed[0].is_unauthenticated(routed[2]):
            backend, mount_point, rest = routed
            request.with_route(mount_point, rest)
            if backend is self.system and not rest.startswith(_AUDITED_TOKENLESS_SYS):
                # Like Vault, the seal-lifecycle endpoints (init, unseal, health) are not audited.
                return await (await backend.prepare(request)).run()
            try:
                call = await backend.prepare(request)
            except HushError as exc:
                await self._audit_outcome(request, audit, None, exc.message)
                raise
            return await self._run_audited(request, audit, call)
        try:
            call = await self._authorise(request, routed, epoch, stored_token)
        except HushError as exc:
            await self._audit_outcome(request, audit, None, exc.message)
            raise
        return await self._run_audited(request, audit, call)

    async def _run_audited(
        self, request: Request, audit: _AuditContext, call: PreparedCall
    ) -> Response | None:
        # Fail-closed: if no enabled device records the request, the handler never runs.
        await self.audit.log_request(
            request, mount_type=audit.mount_type, non_hmac_request_keys=audit.request_keys
        )
        if request.token_entry is not None and not await self.tokens.record_use(
            request.token_entry
        ):
            # Another node or worker spent the last use between lookup and now.
            denied = PermissionDenied()
            await self._audit_outcome(request, audit, None, denied.message)
            raise denied
        try:
            response = await call.run()
            if response is not None and response.secret is not None:
                await self._register_lease(call, response)
            if response is not None and response.login is not None:
                mount = self.auth_mounts.entries[request.mount_point[len("auth/") :]]
                response.auth = await issue_login_token(self, request, mount, response.login)
            if request.wrap_ttl is not None:
                response = await wrap(self, request, response, request.wrap_ttl)
        except HushError as exc:
            await self._audit_outcome(request, audit, None, exc.message)
            raise
        await self._audit_outcome(request, audit, response, None)
        return response

    async def _register_lease(self, call: PreparedCall, response: Response) -> None:
        """Lease a dynamic secret; if that fails, revoke the secret rather than leak it."""
        secret = response.secret
        assert secret is not None
        try:
            await self.expiration.register_secret(call.request, response)
        except Exception:
            await call.backend.revoke_secret(secret.secret_type, dict(secret.internal_data))
            raise

    async def _audit_outcome(
        self, request: Request, audit: _AuditContext, response: Response | None, error: str | None
    ) -> None:
        await self.audit.log_response(
            request,
            response,
            error,
            mount_type=audit.mount_type,
            non_hmac_request_keys=audit.request_keys,
            non_hmac_response_keys=audit.response_keys,
        )

    def _non_hmac_keys(
        self, routed: tuple[Backend, str, str] | None
    ) -> tuple[frozenset[str], frozenset[str]]:
        if routed is None:
            return frozenset(), frozenset()
        entry = self.mounts.entries.get(routed[1]) or self.auth_mounts.entries.get(
            routed[1].removeprefix("auth/")
        )
        if entry is None:
            return frozenset(), frozenset()
        config = entry.config
        return (
            frozenset(config.get("audit_non_hmac_request_keys") or ()),
            frozenset(config.get("audit_non_hmac_response_keys") or ()),
        )

    async def _authorise(
        self,
        request: Request,
        routed: tuple[Backend, str, str] | None,
        epoch: int | None,
        stored_token: bytes | Unread | None = UNREAD,
    ) -> PreparedCall:
        """Token check, routing, validation and ACL; no side effects, so it can be refused."""
        entry = await self.authenticate(request, stored_token)
        request.token_entry = entry
        request.auth = Auth(
            token_accessor=entry.accessor,
            policies=tuple(entry.policies),
            display_name=entry.display_name,
            entity_id=entry.entity_id,
            root=entry.is_root,
        )
        acl = await self.acl_for(entry, epoch)
        if routed is None:
            # Vault answers 403 rather than 404 when the caller could not reach the path anyway.
            if not acl.check(request.path, request.operation, request.data).allowed:
                raise PermissionDenied
            raise RouteNotFound(request.path)
        backend, mount_point, rest = routed
        if mount_point in self.mounts.upgrading:
            raise MountUnavailable(
                "Upgrading from non-versioned to versioned data. This mount will be unavailable "
                "for a brief period and will resume service shortly."
            )
        request.with_route(mount_point, rest)
        call = await backend.prepare(request)
        decision = acl.check(request.path, call.operation, request.data, wrap_ttl=request.wrap_ttl)
        if not decision.allowed:
            raise PermissionDenied
        if backend.requires_sudo(rest) and not (decision.root or decision.sudo):
            raise PermissionDenied
        request.auth.sudo = decision.sudo or decision.root
        return call

    async def mount(self, entry: MountEntry) -> None:
        """Enable a secrets engine."""
        async with self.cluster_sync.changing(self.mounts):
            await self.mounts.mount(entry)

    async def tune_mount(
        self,
        path: str,
        *,
        config: dict[str, Any],
        options: dict[str, str] | None,
        description: str | None,
    ) -> None:
        """Change a mount's settings (restarting its backend when options change)."""
        async with self.cluster_sync.changing(self.mounts):
            await self.mounts.tune(path, config=config, options=options, description=description)

    async def remount(self, source: str, target: str) -> None:
        """Move a mount to a new path."""
        async with self.cluster_sync.changing(self.mounts):
            await self.mounts.remount(source, target)

    async def optional_token(self, request: Request) -> TokenEntry | None:
        """The caller's live token entry, or ``None`` (for endpoints that work without one)."""
        if request.client_token is None or len(request.client_token) == 0:
            return None
        return await self.tokens.lookup(request.client_token)

    async def mount_auth(self, entry: MountEntry) -> None:
        """Enable an auth method at ``auth/<entry.path>``."""
        async with self.cluster_sync.changing(self.auth_mounts):
            await self.auth_mounts.mount(entry)

    async def unmount_auth(self, path: str) -> bool:
        """Disable an auth method, revoke every token its logins minted, delete its data.

        Tokens are revoked first (Vault's order) and once more after the mount is gone, for
        logins that raced the first pass; the mount-accessor check refuses any left over.
        """
        if path not in self.auth_mounts.entries:
            return False
        await self.tokens.revoke_prefix("auth/" + path)
        async with self.cluster_sync.changing(self.auth_mounts):
            removed = await self.auth_mounts.unmount(path)
        await self.tokens.revoke_prefix("auth/" + path)
        return removed

    async def tune_auth(
        self, path: str, *, config: dict[str, Any], description: str | None
    ) -> None:
        """Change an auth method's TTLs, description or lockout settings."""
        async with self.cluster_sync.changing(self.auth_mounts):
            await self.auth_mounts.tune(path, config=config, options=None, description=description)

    async def unmount(self, path: str) -> bool:
        """Disable a secrets engine and delete its data, after revoking its leases (as Vault)."""
        entry = self.mounts.entries.get(path)
        if entry is not None:
            await self.expiration.revoke_prefix(path)
        async with self.cluster_sync.changing(self.mounts):
            return await self.mounts.unmount(path)
