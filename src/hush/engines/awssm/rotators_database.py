"""Database-user rotators: the four rotation steps for a user of a database server.

The secret's value is the JSON AWS's rotation templates use: ``engine``, ``host``, ``port``,
``username``, ``password``, ``dbname`` and, for alternating users, ``masterarn`` (the name or ARN of
another secret on the same mount holding the credentials of a user allowed to create users and
change their passwords). Two strategies:

* single user: setSecret logs in with the AWSCURRENT credentials (or, when a retry finds an earlier
  setSecret already changed the password, with the pending ones) and changes that user's own
  password; clients still holding the old password fail from then on.
* alternating users: two users, ``<name>`` and ``<name>_clone``. Each rotation gives the *other*
  user a new password, logged in as the masterarn user; the clone is created on first use with what
  ``<name>`` may do, so AWSPREVIOUS keeps working until the rotation after next.

createSecret makes the new password (and, alternating, names the other user); testSecret logs in
with the pending credentials; finishSecret has nothing to do in the database. The database-specific
part (log in, change a password, create the clone) is a subclass's: it passes usernames and
passwords to the driver as parameters or quoted identifiers, never formatted into SQL by hand.
A password never reaches a log or an error message; a username does where it helps the operator
("cannot log in to PostgreSQL as 'app'"), as AWS's rotation templates log it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final

import orjson

from hush.engines.awssm.rotators import StepFailed, new_random_value
from hush.engines.awssm.store import SecretValue

__all__ = ["CLONE", "CONNECT_TIMEOUT", "DatabaseUserRotator", "SecretLookup", "credentials_of"]

#: What the alternating-users strategy appends to a username to name the other user.
CLONE: Final = "_clone"
#: Seconds a rotator waits to log in to the database.
CONNECT_TIMEOUT: Final = 5

#: The AWSCURRENT value of a secret on the same mount, by name or ARN.
SecretLookup = Callable[[str], Awaitable[SecretValue | None]]


def credentials_of(value: SecretValue | None, what: str) -> dict[str, Any]:
    """The database credentials JSON in ``value``; StepFailed (naming ``what``) if unusable."""
    if value is None or value.string is None:
        raise StepFailed(f"{what} is not a JSON SecretString with database credentials")
    try:
        parsed = orjson.loads(value.string)
    except orjson.JSONDecodeError:
        raise StepFailed(f"{what} is not valid JSON") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(parsed.get(k), str) and parsed.get(k) for k in ("host", "username", "password")
    ):
        raise StepFailed(f"{what} needs host, username and password")
    return parsed


class DatabaseUserRotator(ABC):
    """Single-user or alternating-users password rotation; subclasses talk to the database."""

    #: The ``RotationLambdaARN`` naming the single-user strategy.
    single_user: ClassVar[str]
    #: The ``RotationLambdaARN`` naming the alternating-users strategy.
    alternating: ClassVar[str]

    def __init__(self, strategy: str, lookup: SecretLookup) -> None:
        """``strategy`` is one of the two rotator names; ``lookup`` reads other secrets."""
        self._strategy = strategy
        self._lookup = lookup

    async def create(self, event: dict[str, Any], current: SecretValue | None) -> SecretValue:
        """createSecret: a new password (for the other user when alternating)."""
        credentials = credentials_of(current, "the AWSCURRENT value")
        fresh = orjson.loads(new_random_value(current).string or "{}")
        if self._strategy == self.alternating:
            username = credentials["username"]
            fresh["username"] = (
                username[: -len(CLONE)] if username.endswith(CLONE) else username + CLONE
            )
        return SecretValue(string=orjson.dumps(fresh).decode())

    async def step(self, event: dict[str, Any], pending: SecretValue) -> None:
        """setSecret changes the password in the database; testSecret logs in with it."""
        step = event["Step"]
        new = credentials_of(pending, "the AWSPENDING value")
        if step == "setSecret":
            await self._set(event["SecretId"], new)
        elif step == "testSecret":
            await self._test_login(new)

    async def _set(self, secret_id: str, new: dict[str, Any]) -> None:
        if self._strategy == self.single_user:
            current = credentials_of(await self._lookup(secret_id), "the AWSCURRENT value")
            await self._set_own_password(current, new)
        else:
            master_id = new.get("masterarn")
            if not isinstance(master_id, str) or not master_id:
                raise StepFailed("setSecret: alternating users need masterarn in the secret")
            master = credentials_of(await self._lookup(master_id), "the masterarn secret")
            await self._set_other_user(master, new)

    @abstractmethod
    async def _test_login(self, credentials: dict[str, Any]) -> None:
        """testSecret: log in with ``credentials`` and run a trivial query."""

    @abstractmethod
    async def _set_own_password(self, current: dict[str, Any], new: dict[str, Any]) -> None:
        """Single user: log in as ``current`` (``new`` on a retry) and set the user's password."""

    @abstractmethod
    async def _set_other_user(self, master: dict[str, Any], new: dict[str, Any]) -> None:
        """Alternating: log in as ``master``; set ``new``'s password, creating the user if new."""
