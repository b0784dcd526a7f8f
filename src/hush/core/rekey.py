"""``sys/rekey``: replace the unseal key and its shares without touching the data.

Flow (Vault's): ``init`` fixes the new share count and threshold and returns a nonce; ``update``
collects a quorum of *current* shares; on completion new shares are returned. With
``require_verification`` the new key is only installed after a quorum of the *new* shares is sent
to ``verify``, so a typo while distributing shares cannot lock anyone out.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from hush.barrier import shamir
from hush.core.errors import InvalidRequest, NotInitialized, Unsupported
from hush.core.shares import SealConfig, ShareCollector, encode_shares, validate_split
from hush.crypto import KEY_SIZE, SecretBytes, constant_time_equal, random_bytes

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["RekeyOperation"]


class RekeyOperation:
    """One rekey attempt; at most one exists per node at a time."""

    def __init__(
        self,
        core: Core,
        shares: int,
        threshold: int,
        require_verification: bool,
        *,
        recovery: bool = False,
    ) -> None:
        if core.seal_config is None:
            raise NotInitialized
        if core.seals.auto and not recovery:
            raise InvalidRequest(
                "sys/rekey replaces Shamir unseal shares; this store uses an auto-unseal seal "
                f"({core.seal_config.type}), whose unseal key is not split. Rotate the data keys "
                "with sys/rotate, or rekey the recovery keys with sys/rekey-recovery-key"
            )
        if recovery and not core.seals.auto:
            raise InvalidRequest(
                "sys/rekey-recovery-key needs an auto-unseal seal; this store uses Shamir "
                "unseal shares: use sys/rekey"
            )
        validate_split(shares, threshold)
        self._core = core
        self.recovery = recovery
        self.new_config = SealConfig(shares, threshold)
        self.require_verification = require_verification
        # Current shares: unseal shares (sys/rekey) or recovery shares (sys/rekey-recovery-key).
        current = core.seals.operator_config()
        self.collector = ShareCollector(current.secret_threshold, current.share_length)
        self.pending_key: SecretBytes | None = None
        self.verification: ShareCollector | None = None
        self.verification_nonce = ""

    @classmethod
    def start(cls, core: Core, data: dict[str, Any], *, recovery: bool = False) -> RekeyOperation:
        """Validate ``sys/rekey/init`` fields and begin."""
        if data.get("pgp_keys"):
            raise Unsupported("pgp_keys is not supported by Hush yet; omit it to get plain shares")
        if data.get("backup"):
            raise Unsupported("backup requires pgp_keys, which Hush does not support yet")
        return cls(
            core,
            int(data["secret_shares"]),
            int(data["secret_threshold"]),
            bool(data.get("require_verification", False)),
            recovery=recovery,
        )

    def status(self) -> dict[str, Any]:
        """``GET sys/rekey/init``'s body."""
        return {
            "nonce": self.collector.nonce,
            "started": True,
            "t": self.new_config.secret_threshold,
            "n": self.new_config.secret_shares,
            "progress": self.collector.progress,
            "required": self.collector.threshold,
            "pgp_fingerprints": None,
            "backup": False,
            "verification_required": self.require_verification,
            "verification_nonce": self.verification_nonce,
        }

    async def update(self, share: SecretBytes, nonce: str) -> dict[str, Any]:
        """Add a current share; on quorum, create new shares (and install them unless verifying)."""
        if self.pending_key is not None:
            raise InvalidRequest("rekey is awaiting verification of the new shares")
        self.collector.check_nonce(nonce)
        self.collector.add(share)
        if not self.collector.complete:
            return {**self.status(), "complete": False}
        old_key = self.collector.combine()
        if not await self._core.seals.verify_operator_key(old_key):
            self.collector = ShareCollector(self.collector.threshold, self.collector.share_length)
            raise InvalidRequest(
                "rekey: the key shares given do not combine to the current unseal key; "
                "rekey progress was reset"
            )
        new_key = SecretBytes(random_bytes(KEY_SIZE))
        parts = shamir.split(
            new_key.reveal(), self.new_config.secret_shares, self.new_config.secret_threshold
        )
        body: dict[str, Any] = {
            "complete": True,
            "nonce": self.collector.nonce,
            "backup": False,
            "pgp_fingerprints": None,
            "verification_required": self.require_verification,
            **encode_shares(parts),
        }
        if self.require_verification:
            self.pending_key = new_key
            self.verification = ShareCollector(
                self.new_config.secret_threshold, self.new_config.share_length
            )
            self.verification_nonce = str(uuid.uuid4())
            body["verification_nonce"] = self.verification_nonce
        else:
            await self._install(new_key)
        return body

    def verify_status(self) -> dict[str, Any]:
        """``GET sys/rekey/verify``'s body."""
        if self.verification is None:
            raise InvalidRequest("no rekey verification in progress")
        return {
            "nonce": self.verification_nonce,
            "started": True,
            "t": self.new_config.secret_threshold,
            "n": self.new_config.secret_shares,
            "progress": self.verification.progress,
        }

    async def verify(self, share: SecretBytes, nonce: str) -> dict[str, Any]:
        """Add a *new* share; on quorum matching the pending key, install it."""
        if self.verification is None or self.pending_key is None:
            raise InvalidRequest("no rekey verification in progress")
        if not nonce or nonce != self.verification_nonce:
            raise InvalidRequest("provided nonce does not match the current verification nonce")
        self.verification.add(share)
        if not self.verification.complete:
            return {**self.verify_status(), "complete": False}
        combined = self.verification.combine()
        if not constant_time_equal(combined.reveal(), self.pending_key.reveal()):
            self.verification = ShareCollector(
                self.new_config.secret_threshold, self.new_config.share_length
            )
            raise InvalidRequest(
                "rekey verification: the shares do not match the new key; progress was reset"
            )
        await self._install(self.pending_key)
        return {"nonce": self.verification_nonce, "complete": True}

    async def _install(self, new_key: SecretBytes) -> None:
        if self.recovery:
            await self._core.seals.install_recovery_key(new_key, self.new_config)
        else:
            await self._core.replace_unseal_key(new_key, self.new_config)

    def cancel_verification(self) -> None:
        """Restart verification from zero shares (Vault keeps the pending key)."""
        if self.verification is not None:
            self.verification = ShareCollector(
                self.new_config.secret_threshold, self.new_config.share_length
            )
            self.verification_nonce = str(uuid.uuid4())
