"""Auto-unseal and seal migration: how a node gets its unseal key when a ``seal`` stanza is set.

With Shamir (no seal stanza) operators type unseal shares. With an auto-unseal seal, the unseal
key is stored wrapped by the seal (``core/hsm/barrier-unseal-keys``) and the node unseals itself
at start; operators hold *recovery* shares instead (``core/recovery-key``, also wrapped), which
authorise ``sys/generate-root``, unsealing again after ``sys/seal`` and seal migration, exactly as
in Vault.

Migration (Vault's rules): a store sealed by Shamir whose config now names an auto seal migrates
Shamir → auto, with the old unseal shares (they become the recovery shares). A store sealed by an
auto seal whose stanza is marked ``disabled = "true"`` migrates to Shamir (the recovery shares
become the unseal shares) or, if another seal is active, to that seal. Either way the operator
unseals with ``migrate: true`` and every stored record changes in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hush.barrier import shamir
from hush.barrier.barrier import (
    RECOVERY_CONFIG_PATH,
    RECOVERY_KEY_PATH,
    SEAL_CONFIG_PATH,
    WRAPPED_UNSEAL_KEY_PATH,
)
from hush.barrier.seals import Seal, SealUnavailable, WrappedKey
from hush.core.errors import InvalidRequest, NotInitialized, SealDeviceUnavailable
from hush.core.shares import SealConfig, validate_split
from hush.crypto import KEY_SIZE, DecryptionError, SecretBytes, constant_time_equal, random_bytes
from hush.storage.base import TxnOp

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["RETRY_SECONDS", "SealManager"]

log = logging.getLogger("hush.seal")

SHAMIR = "shamir"
RETRY_SECONDS = 2.0
_UNSEAL_AAD = b"hush:unseal-key"
_RECOVERY_AAD = b"hush:recovery-key"


class SealManager:
    """The node's configured seals, its recovery configuration and its migration state."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self.seal: Seal | None = None
        self.disabled_seal: Seal | None = None
        self.recovery_config: SealConfig | None = None
        self._opened: list[Seal] = []
        self._retry_task: asyncio.Task[None] | None = None

    def configure(self, seal: Seal | None, disabled_seal: Seal | None = None) -> None:
        """Set the active and the disabled (migrating-from) seals from the configuration."""
        self.seal = seal
        self.disabled_seal = disabled_seal

    # -- state -----------------------------------------------------------------------------------

    @property
    def stored_type(self) -> str:
        """The seal type the store was initialised (or last migrated) with."""
        config = self._core.seal_config
        return config.type if config is not None else (self.seal.type if self.seal else SHAMIR)

    @property
    def auto(self) -> bool:
        """Whether the store's unseal key is held by an auto-unseal seal."""
        return self.stored_type != SHAMIR

    @property
    def migration(self) -> bool:
        """Whether the configuration asks for a seal migration (unseal with ``migrate``)."""
        if self._core.seal_config is None:
            return False
        if self.stored_type == SHAMIR:
            return self.seal is not None
        return self.disabled_seal is not None and self.disabled_seal.type == self.stored_type

    def config_problem(self) -> str | None:
        """Why this configuration cannot unseal this store at all, or ``None``."""
        if self._core.seal_config is None or not self.auto or self.migration:
            return None
        if self.seal is None:
            return (
                f'this store is sealed by a "{self.stored_type}" seal but the configuration has '
                f'no seal "{self.stored_type}" stanza; add it (with disabled = "true" to migrate '
                "to Shamir)"
            )
        if self.seal.type != self.stored_type:
            return (
                f'this store is sealed by a "{self.stored_type}" seal but the configuration names '
                f'"{self.seal.type}"; to migrate, keep the old stanza with disabled = "true"'
            )
        return None

    def operator_config(self) -> SealConfig:
        """The shares operators hold: unseal shares (Shamir) or recovery shares (auto)."""
        config = self._core.seal_config
        if config is None:
            raise NotInitialized
        if not self.auto:
            return config
        if self.recovery_config is None or self.recovery_config.secret_shares == 0:
            raise InvalidRequest(
                "this store was initialised without recovery keys, so no operation needing them "
                "(unseal after sys/seal, generate-root, migration) is possible"
            )
        return self.recovery_config

    def status_fields(self) -> dict[str, object]:
        """The seal-status fields that depend on the seal type."""
        body: dict[str, object] = {
            "type": self.stored_type,
            "migration": self.migration,
            "recovery_seal": self.auto,
        }
        if self.auto:
            recovery = self.recovery_config
            body["t"] = recovery.secret_threshold if recovery else 0
            body["n"] = recovery.secret_shares if recovery else 0
            body["recovery_seal_type"] = SHAMIR
        return body

    # -- lifecycle ----------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the recovery configuration (called when storage opens)."""
        blob = await self._core.storage.get(RECOVERY_CONFIG_PATH)
        self.recovery_config = SealConfig.from_json(blob) if blob else None

    async def close(self) -> None:
        """Stop retrying and close the seal devices."""
        if self._retry_task is not None:
            self._retry_task.cancel()
            self._retry_task = None
        opened, self._opened = self._opened, []
        for seal in opened:
            await seal.close()

    async def _open(self, seal: Seal) -> Seal:
        if not any(seal is done for done in self._opened):
            await seal.open()
            self._opened.append(seal)
        return seal

    async def initialize(
        self, recovery_shares: int, recovery_threshold: int
    ) -> tuple[list[bytes], SecretBytes]:
        """``sys/init`` with an auto seal: wrap a new unseal key and recovery key, unseal.

        Returns the recovery shares (none when ``recovery_shares`` is 0, as Vault allows) and
        the first root token.
        """
        if self.seal is None:
            raise InvalidRequest("no auto-unseal seal is configured")
        if recovery_shares or recovery_threshold:
            _validate_recovery(recovery_shares, recovery_threshold)
        seal = await self._seal_or_503(self.seal)
        unseal_key = SecretBytes(random_bytes(KEY_SIZE))
        recovery_key = SecretBytes(random_bytes(KEY_SIZE))
        recovery = SealConfig(recovery_shares, recovery_threshold, SHAMIR)
        config = SealConfig(1, 1, seal.type)
        ops = await self._auto_records(seal, unseal_key, recovery_key, recovery)
        root_token = await self._core.create_store(unseal_key, config, extra=ops)
        self.recovery_config = recovery
        await self._core.unseal_with_key(unseal_key)
        if recovery_shares == 0:
            return [], root_token
        return shamir.split(recovery_key.reveal(), recovery_shares, recovery_threshold), root_token

    async def auto_unseal(self) -> None:
        """Open the stored unseal key with the active seal and unseal (at start, after init)."""
        if self.seal is None or not self.auto or self.migration or not self._core.sealed:
            return
        problem = self.config_problem()
        if problem is not None:
            raise SealUnavailable(problem)
        unseal_key = await self._stored_unseal_key(await self._open(self.seal))
        await self._core.unseal_with_key(unseal_key)

    def start_auto_unseal(self) -> None:
        """Try to auto-unseal now and keep retrying in the background while the seal fails."""
        if self.seal is None and not self.auto:
            return
        if self._core.seal_config is None:
            return
        if self.migration:
            log.warning(
                "seal migration from %s to %s is pending: unseal with migrate=true using the %s",
                self.stored_type,
                self.seal.type if self.seal else SHAMIR,
                "unseal shares" if self.stored_type == SHAMIR else "recovery shares",
            )
            return
        problem = self.config_problem()
        if problem is not None:
            log.error("cannot auto-unseal: %s", problem)
            return
        self._retry_task = asyncio.get_running_loop().create_task(self._retry_loop())

    async def _retry_loop(self) -> None:
        attempt = 0
        while self._core.sealed:
            attempt += 1
            try:
                async with self._core.lock:
                    await self.auto_unseal()
            except SealUnavailable as exc:
                log.warning("auto-unseal failed (attempt %d): %s; retrying", attempt, exc)
            except DecryptionError:
                log.error(
                    "auto-unseal failed (attempt %d): the stored unseal key does not open with "
                    "the configured seal (wrong key?); retrying",
                    attempt,
                )
            except Exception as exc:
                # Storage down, mounts failing to load...: the type only (messages could carry
                # driver details); keep trying like for a missing seal device.
                log.error(
                    "auto-unseal failed (attempt %d): %s; retrying", attempt, type(exc).__name__
                )
            else:
                if not self._core.sealed:
                    log.info("auto-unseal succeeded with %s", self.seal and self.seal.describe())
                    return
            await asyncio.sleep(RETRY_SECONDS)

    # -- operator keys --------------------------------------------------------------------------

    async def verify_operator_key(self, key: SecretBytes) -> bool:
        """Whether ``key`` is the combined unseal key (Shamir) or recovery key (auto)."""
        if not self.auto:
            return await self._core.barrier.verify_unseal_key(key)
        seal = self.seal if self.seal is not None and not self.migration else self.disabled_seal
        if seal is None:
            return False
        stored = await self._stored_recovery_key(await self._seal_or_503(seal))
        return constant_time_equal(stored.reveal(), key.reveal())

    async def unseal_with_operator_key(self, key: SecretBytes, *, migrate: bool) -> None:
        """Finish an unseal from combined shares, migrating when asked and configured."""
        self.check_migrate_flag(migrate)
        if self.migration:
            await self._migrate(key)
            return
        if not self.auto:
            try:
                await self._core.unseal_with_key(key)
            except DecryptionError:
                raise _wrong_key("unseal") from None
            return
        if not await self.verify_operator_key(key):
            raise _wrong_key("recovery")
        seal = await self._seal_or_503(self.seal) if self.seal else None
        if seal is None:
            raise InvalidRequest(self.config_problem() or "no seal configured")
        await self._core.unseal_with_key(await self._stored_unseal_key(seal))

    def check_migrate_flag(self, migrate: bool) -> None:
        """Vault's rule: ``migrate`` is required on every share exactly while migrating."""
        if migrate and not self.migration:
            raise InvalidRequest("can't perform a seal migration, no migration seal found")
        if self.migration and not migrate:
            raise InvalidRequest(
                "a seal migration is pending: unseal with migrate=true "
                "(hush operator unseal -migrate), or remove the migration from the configuration"
            )

    async def install_recovery_key(self, recovery_key: SecretBytes, config: SealConfig) -> None:
        """Store a new recovery key (wrapped by the seal) and its share configuration."""
        if self.seal is None:
            raise InvalidRequest(self.config_problem() or "no auto-unseal seal is configured")
        seal = await self._seal_or_503(self.seal)
        recovery = SealConfig(config.secret_shares, config.secret_threshold, SHAMIR)
        wrapped = await _wrap(seal, recovery_key, _RECOVERY_AAD)
        await self._core.storage.transaction(
            [
                TxnOp("put", RECOVERY_CONFIG_PATH, recovery.to_json()),
                TxnOp("put", RECOVERY_KEY_PATH, wrapped.to_json()),
            ]
        )
        self.recovery_config = recovery

    # -- migration -------------------------------------------------------------------------------

    async def _migrate(self, key: SecretBytes) -> None:
        core = self._core
        old_config = core.seal_config
        assert old_config is not None
        recovery: SealConfig | None
        if self.stored_type == SHAMIR:
            # Shamir -> auto: the old unseal key proves the quorum and becomes the recovery key.
            assert self.seal is not None
            seal = await self._seal_or_503(self.seal)
            new_unseal = SecretBytes(random_bytes(KEY_SIZE))
            try:
                rewrap = await core.barrier.rewrap_ops(key, new_unseal)
            except DecryptionError:
                raise _wrong_key("unseal") from None
            recovery = SealConfig(old_config.secret_shares, old_config.secret_threshold, SHAMIR)
            ops = await self._auto_records(seal, new_unseal, key, recovery)
            config = SealConfig(1, 1, seal.type)
        else:
            assert self.disabled_seal is not None and self.recovery_config is not None
            old_seal = await self._seal_or_503(self.disabled_seal)
            stored_recovery = await self._stored_recovery_key(old_seal)
            if not constant_time_equal(stored_recovery.reveal(), key.reveal()):
                raise _wrong_key("recovery")
            current_unseal = await self._stored_unseal_key(old_seal)
            shares = self.recovery_config.secret_shares
            threshold = self.recovery_config.secret_threshold
            if self.seal is None:
                # auto -> Shamir: the recovery key becomes the unseal key, its shares the shares.
                new_unseal = key
                rewrap = await core.barrier.rewrap_ops(current_unseal, new_unseal)
                recovery = None
                config = SealConfig(shares, threshold, SHAMIR)
                ops = [
                    TxnOp("delete", RECOVERY_CONFIG_PATH),
                    TxnOp("delete", WRAPPED_UNSEAL_KEY_PATH),
                    TxnOp("delete", RECOVERY_KEY_PATH),
                ]
            else:
                # auto -> another auto seal: the same keys, wrapped by the new seal.
                seal = await self._seal_or_503(self.seal)
                new_unseal, rewrap = current_unseal, []
                recovery = self.recovery_config
                config = SealConfig(1, 1, seal.type)
                ops = await self._auto_records(seal, new_unseal, key, recovery)
        await core.storage.transaction(
            [TxnOp("put", SEAL_CONFIG_PATH, config.to_json()), *ops, *rewrap]
        )
        core.seal_config = config
        self.recovery_config = recovery
        self.disabled_seal = None
        log.info("seal migration complete: the store is now sealed by %s", config.type)
        await core.unseal_with_key(new_unseal)

    # -- helpers ---------------------------------------------------------------------------------

    async def _auto_records(
        self, seal: Seal, unseal_key: SecretBytes, recovery_key: SecretBytes, recovery: SealConfig
    ) -> list[TxnOp]:
        wrapped_unseal = await _wrap(seal, unseal_key, _UNSEAL_AAD)
        wrapped_recovery = await _wrap(seal, recovery_key, _RECOVERY_AAD)
        return [
            TxnOp("put", RECOVERY_CONFIG_PATH, recovery.to_json()),
            TxnOp("put", WRAPPED_UNSEAL_KEY_PATH, wrapped_unseal.to_json()),
            TxnOp("put", RECOVERY_KEY_PATH, wrapped_recovery.to_json()),
        ]

    async def _stored_unseal_key(self, seal: Seal) -> SecretBytes:
        return await self._unwrap_stored(seal, WRAPPED_UNSEAL_KEY_PATH, _UNSEAL_AAD)

    async def _stored_recovery_key(self, seal: Seal) -> SecretBytes:
        return await self._unwrap_stored(seal, RECOVERY_KEY_PATH, _RECOVERY_AAD)

    async def _unwrap_stored(self, seal: Seal, path: str, aad: bytes) -> SecretBytes:
        blob = await self._core.storage.get(path)
        if blob is None:
            raise SealUnavailable(f"the store has no {path} record; was it initialised?")
        return await seal.unwrap(WrappedKey.from_json(blob), aad)

    async def _seal_or_503(self, seal: Seal) -> Seal:
        try:
            return await self._open(seal)
        except SealUnavailable as exc:
            log.warning("seal %s unavailable: %s", seal.type, exc)
            raise SealDeviceUnavailable(str(exc)) from None


async def _wrap(seal: Seal, key: SecretBytes, aad: bytes) -> WrappedKey:
    try:
        return await seal.wrap(key, aad)
    except SealUnavailable as exc:
        raise SealDeviceUnavailable(str(exc)) from None


def _validate_recovery(shares: int, threshold: int) -> None:
    try:
        validate_split(shares, threshold)
    except InvalidRequest as exc:
        raise InvalidRequest(
            exc.message.replace("invalid seal configuration", "invalid recovery configuration")
        ) from None


def _wrong_key(kind: str) -> InvalidRequest:
    return InvalidRequest(
        f"Error unsealing: the key shares do not combine to this store's {kind} key; "
        "unseal progress was reset"
    )
