"""The keyring: AES-256-GCM data-encryption keys, one per *term*, plus the root key.

The newest term encrypts new writes; every older term still decrypts, so ``sys/rotate`` never has
to re-encrypt existing data. The keyring is serialised with its root key and stored encrypted by
that root key; the root key itself is stored encrypted by the unseal key (see ``barrier.py``).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hush.crypto import KEY_SIZE, SecretBytes, random_bytes

__all__ = ["KeyTerm", "Keyring"]


@dataclass(frozen=True, slots=True)
class KeyTerm:
    """One data-encryption key and the term number that names it inside every ciphertext."""

    term: int
    key: SecretBytes
    install_time: float
    #: ``AESGCM`` keyed once with ``key`` (the barrier's hot path); dropped with the keyring.
    cipher: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Key the cipher once."""
        object.__setattr__(self, "cipher", AESGCM(self.key.reveal()))


@dataclass(slots=True)
class Keyring:
    """All terms ever installed; ``active_term`` encrypts, every term decrypts."""

    terms: dict[int, KeyTerm] = field(default_factory=dict)
    active_term: int = 0

    @classmethod
    def new(cls) -> Keyring:
        """A keyring with a single fresh term 1."""
        ring = cls()
        ring.add_term()
        return ring

    def add_term(self) -> KeyTerm:
        """Install a fresh random key as the next term and make it active."""
        term = KeyTerm(self.active_term + 1, SecretBytes(random_bytes(KEY_SIZE)), time.time())
        self.terms[term.term] = term
        self.active_term = term.term
        return term

    def active(self) -> KeyTerm:
        """The term new writes use."""
        return self.terms[self.active_term]

    def key_for(self, term: int) -> KeyTerm | None:
        """The key of ``term`` or ``None`` if this keyring never had it."""
        return self.terms.get(term)

    def serialise(self) -> bytes:
        """JSON bytes of the whole keyring; contains key material, so only ever stored encrypted."""
        return orjson.dumps(
            {
                "active_term": self.active_term,
                "keys": [
                    {
                        "term": t.term,
                        "key": base64.b64encode(t.key.reveal()).decode(),
                        "install_time": t.install_time,
                    }
                    for t in self.terms.values()
                ],
            }
        )

    @classmethod
    def deserialise(cls, blob: bytes) -> Keyring:
        """Inverse of :meth:`serialise`."""
        raw = orjson.loads(blob)
        ring = cls(active_term=int(raw["active_term"]))
        for item in raw["keys"]:
            term = KeyTerm(
                int(item["term"]),
                SecretBytes(base64.b64decode(item["key"])),
                float(item["install_time"]),
            )
            ring.terms[term.term] = term
        return ring
