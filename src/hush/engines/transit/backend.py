"""The transit secrets engine: encryption as a service with Vault's API (mount type ``transit``).

The endpoints are declared in four modules by responsibility (keys, encryption, signing,
utilities) plus BYOK import; this class wires them to one :class:`KeyStore` and offers
:meth:`TransitBackend.rotate_due` for the scheduler's automatic rotation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hush.core.rotation.due import DueIndex
from hush.engines.transit.byok import ByokPaths
from hush.engines.transit.cipher_paths import CipherPaths
from hush.engines.transit.key_paths import KeyPaths
from hush.engines.transit.kms_alias_paths import KmsAliasPaths
from hush.engines.transit.kms_common import KmsSettings
from hush.engines.transit.kms_data_paths import KmsDataPaths
from hush.engines.transit.kms_key_paths import KmsKeyPaths
from hush.engines.transit.kms_state_paths import KmsStatePaths
from hush.engines.transit.kms_store import KmsStore
from hush.engines.transit.sign_paths import SignPaths
from hush.engines.transit.store import KeyStore, generate_version
from hush.engines.transit.utility_paths import UtilityPaths
from hush.framework.backend import Backend, BackendContext
from hush.framework.path import Path

__all__ = ["TransitBackend"]


class TransitBackend(Backend):
    """Named keys that encrypt, sign and HMAC for clients, who never see the key material."""

    type_name = "transit"
    synopsis = "Encryption as a service: named keys encrypt, sign and HMAC data for clients."

    def __init__(self, context: BackendContext) -> None:
        self.store = KeyStore(context.storage)
        self.byok = ByokPaths(self.store, context.storage)
        # The KMS layer (kms/...): AWS KMS semantics on this mount's transit keys. ARNs carry the
        # mount options' region and account id.
        self.kms = KmsSettings(
            KmsStore(context.storage, self.store),
            DueIndex(context.storage, "kms/due/"),
            region=context.options.get("kms_region", "us-east-1"),
            account=context.options.get("kms_account_id", "000000000000"),
        )
        self.kms_keys = KmsKeyPaths(self.kms)
        self.kms_states = KmsStatePaths(self.kms)
        super().__init__(context)

    def paths(self) -> Sequence[Path]:
        """Every transit endpoint, in routing order (no two patterns match the same path)."""
        return [
            *KeyPaths(self.store).paths(),
            *self.byok.paths(),
            *CipherPaths(self.store).paths(),
            *SignPaths(self.store).paths(),
            *UtilityPaths(self.store).paths(),
            *self.kms_keys.paths(),
            *self.kms_states.paths(),
            *KmsAliasPaths(self.kms).paths(),
            *KmsDataPaths(self.kms).paths(),
        ]

    async def cleanup(self) -> None:
        """Forget cached keys when the mount is sealed or disabled."""
        self.store.forget()

    async def periodic(self, now: float) -> None:
        """Scheduler hook: rotate keys whose ``auto_rotate_period`` has passed and destroy KMS
        keys whose deletion date has come."""
        await self.rotate_due(now)
        await self.kms_states.delete_due(now)

    async def rotate_due(self, now: float) -> list[str]:
        """Rotate every key whose ``auto_rotate_period`` has passed since its latest version.

        Returns the names rotated. Imported keys rotate only when imported with
        ``allow_rotation`` (Vault's rule); a key deleted meanwhile is skipped.
        """
        rotated: list[str] = []
        for name in await self.store.names():
            policy = await self.store.get(name)
            if policy is None or not _due(
                policy.auto_rotate_period, policy.version(policy.latest_version).created, now
            ):
                continue
            if policy.imported and not policy.allow_imported_key_rotation:
                continue
            new = await generate_version(policy.type, policy.key_size)
            # Stamp the version with the scheduler's clock, so the next period counts from `now`.
            new = dataclasses.replace(new, created=max(new.created, now))
            async with self.store.lock(name):
                current = await self.store.get(name)
                if current is None or not _due(
                    current.auto_rotate_period, current.version(current.latest_version).created, now
                ):
                    continue
                await self.store.put(current.rotated(new))
            rotated.append(name)
        return rotated


def _due(period: int, latest_created: float, now: float) -> bool:
    return period > 0 and now >= latest_created + period
