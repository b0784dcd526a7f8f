"""The hash chain of a file audit device: its state, its records and their signatures.

Every line a chained device writes carries ``"hush_chain": {"seq": N, "prev": H}``, where ``H``
is the hex SHA-256 of the previous line's exact bytes (prefix and newline included). Two records
of Hush's own sit in the chain beside Vault's ``request``/``response`` entries:

* ``device_start`` opens a segment (a new file, or a file whose tail does not provably
  continue the chain; the worker processes of one node share one chain, see
  :mod:`hush.core.audit.shared_file`). It names the chain id and the device's Ed25519 public
  key, and its ``prev`` links to the chain's last known line (empty for a new chain).
* ``checkpoint`` is written on seal, before a reopen and every 1000 lines of the file; its
  signature lets a verifier holding the public key tell the chain was written by the device, not
  recomputed.

Both are signed over :func:`signed_message`, which covers every field of the record except the
signature itself, so no byte of them can change unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hush.crypto import SecretBytes, random_bytes

__all__ = [
    "CHECKPOINT",
    "CHECKPOINT_EVERY",
    "DEVICE_START",
    "ChainState",
    "chain_record",
    "line_hash",
    "signed_message",
    "verify_signature",
]

CHECKPOINT = "checkpoint"
DEVICE_START = "device_start"
CHECKPOINT_EVERY = 1000
_DOMAIN = b"hush-audit-chain-v1\n"


def line_hash(line: bytes) -> str:
    """Hex SHA-256 of one line's exact bytes (what the next line's ``prev`` must be)."""
    return hashlib.sha256(line).hexdigest()


def signed_message(record: dict[str, Any]) -> bytes:
    """The bytes a ``device_start`` or ``checkpoint`` signature covers."""
    chain = record.get("hush_chain") or {}
    fields = [
        str(record.get("type", "")),
        str(record.get("time", "")),
        str(record.get("chain_id", "")),
        str(record.get("public_key", "")),
        str(chain.get("seq", "")),
        str(chain.get("prev", "")),
    ]
    return _DOMAIN + "\n".join(fields).encode()


def verify_signature(public_key_b64: str, record: dict[str, Any]) -> bool:
    """Whether ``record``'s signature is valid under the base64 Ed25519 ``public_key_b64``."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(str(record.get("signature", "")), validate=True)
        key.verify(signature, signed_message(record))
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chain_record(kind: str, time: str, state: ChainState) -> dict[str, Any]:
    """A signed ``device_start`` or ``checkpoint`` record taking the next place in the chain."""
    record: dict[str, Any] = {
        "type": kind,
        "time": time,
        "chain_id": state.chain_id,
        "public_key": state.public_key,
        "hush_chain": state.next_link(),
    }
    record["signature"] = state.sign(signed_message(record))
    return record


@dataclass(slots=True)
class ChainState:
    """Where one device's chain stands; persisted (behind the barrier) at every checkpoint.

    ``seq`` is the sequence number of the last line written (-1 before the first) and
    ``last_hash`` that line's hash (empty before the first).
    """

    chain_id: str
    signing_key: SecretBytes
    seq: int = -1
    last_hash: str = ""

    @classmethod
    def new(cls) -> ChainState:
        """A fresh chain: random id, new Ed25519 key, nothing written yet."""
        key = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(chain_id=random_bytes(16).hex(), signing_key=SecretBytes(key))

    @property
    def public_key(self) -> str:
        """The base64 raw Ed25519 public key."""
        key = Ed25519PrivateKey.from_private_bytes(self.signing_key.reveal()).public_key()
        return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature of ``message``."""
        key = Ed25519PrivateKey.from_private_bytes(self.signing_key.reveal())
        return base64.b64encode(key.sign(message)).decode()

    def next_link(self) -> dict[str, Any]:
        """The ``hush_chain`` value of the next line."""
        return {"seq": self.seq + 1, "prev": self.last_hash}

    def advance(self, line: bytes) -> None:
        """Record that ``line`` (the one :meth:`next_link` was for) is now on disk."""
        self.seq += 1
        self.last_hash = line_hash(line)

    def copy(self) -> ChainState:
        """An independent snapshot (for persisting while writes go on)."""
        return ChainState(self.chain_id, self.signing_key, self.seq, self.last_hash)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, only ever stored through the barrier (it holds the signing key)."""
        return {
            "chain_id": self.chain_id,
            "signing_key": base64.b64encode(self.signing_key.reveal()).decode(),
            "seq": self.seq,
            "last_hash": self.last_hash,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChainState:
        """Inverse of :meth:`to_dict`."""
        return cls(
            chain_id=str(raw["chain_id"]),
            signing_key=SecretBytes(base64.b64decode(raw["signing_key"])),
            seq=int(raw["seq"]),
            last_hash=str(raw["last_hash"]),
        )
