"""KMS keys for other engines: the node's transit KMS layer, reached through its declared paths.

An engine that keeps values under a customer KMS key (the ``awssm`` engine, for a secret's
``KmsKeyId``) asks the core through :class:`~hush.framework.backend.SystemView`; the core runs the
transit mount's own ``kms/describe``, ``kms/encrypt`` and ``kms/decrypt`` endpoints, so the key's
state and usage checks are the ones a KMS client meets. These are internal calls made on behalf
of a request that was already authorised and audited on the calling engine's mount (or of
scheduled rotation): they are not themselves checked against a Vault policy or audited.

The transit mount is ``transit/`` when that is a transit engine, else the first transit mount in
path order — the mount the AWS front end serves KMS on.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Any, Final

from hush.core.errors import Unsupported
from hush.core.mounts import MountTable
from hush.core.request import Operation, Request
from hush.crypto import SecretBytes

__all__ = ["TransitKms"]

_TRANSIT: Final = "transit"
_DEFAULT_MOUNT: Final = "transit/"
# Above KMS's 4096-byte Encrypt limit the transit layer envelope-encrypts (as for SecureStrings).
_KMS_LIMIT: Final = 4096


class TransitKms:
    """Encrypt and decrypt with KMS keys of the node's transit mount."""

    def __init__(self, mounts: MountTable) -> None:
        self._mounts = mounts

    def mount(self) -> str:
        """The transit mount that serves KMS keys (``transit/``, else the first in path order)."""
        entries = self._mounts.entries
        default = entries.get(_DEFAULT_MOUNT)
        if default is not None and default.type == _TRANSIT:
            return _DEFAULT_MOUNT
        candidates = sorted(p for p, e in entries.items() if e.type == _TRANSIT)
        if not candidates:
            raise Unsupported("KMS keys need a transit secrets engine; none is mounted")
        return candidates[0]

    async def _call(self, operation: Operation, path: str, data: dict[str, Any]) -> dict[str, Any]:
        mount = self.mount()
        backend = self._mounts.backends[mount]
        request = Request(id=str(uuid.uuid4()), operation=operation, path=mount + path, data=data)
        prepared = await backend.prepare(request.with_route(mount, path))
        response = await prepared.run()
        return dict(response.data) if response is not None and response.data else {}

    async def key_id(self, reference: str) -> str:
        """The key id ``reference`` (id, key ARN, alias name or alias ARN) names."""
        described = await self._call(Operation.READ, f"kms/describe/{reference}", {})
        return str(described["KeyMetadata"]["KeyId"])

    async def encrypt(
        self, key_id: str, plaintext: SecretBytes, context: Mapping[str, str]
    ) -> bytes:
        """A ciphertext blob of ``plaintext`` under ``key_id``, bound to ``context``."""
        raw = plaintext.reveal()
        sealed = await self._call(
            Operation.UPDATE,
            f"kms/encrypt/{key_id}",
            {
                "Plaintext": base64.b64encode(raw).decode("ascii"),
                "EncryptionContext": dict(context),
                "Envelope": len(raw) > _KMS_LIMIT,
            },
        )
        return base64.b64decode(sealed["CiphertextBlob"])

    async def decrypt(self, key_id: str, blob: bytes, context: Mapping[str, str]) -> SecretBytes:
        """The plaintext of ``blob`` (made by :meth:`encrypt` with the same key and context)."""
        opened = await self._call(
            Operation.UPDATE,
            f"kms/decrypt/{key_id}",
            {
                "CiphertextBlob": base64.b64encode(blob).decode("ascii"),
                "EncryptionContext": dict(context),
            },
        )
        return SecretBytes(base64.b64decode(opened["Plaintext"]))
