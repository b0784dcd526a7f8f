"""The userpass auth method: named users log in with a password (Vault's ``userpass``).

Endpoints and shapes follow Vault's ``builtin/credential/userpass``: ``users/`` (list),
``users/:username`` (create, read, update, delete), ``users/:username/password``,
``users/:username/policies`` and ``login/:username``. Users live at ``user/<name>`` in the
mount's storage with an argon2id password hash (:mod:`.passwords`) and their token settings.

Every username goes through :func:`canonical_username` exactly once, at the edge of each
handler: Vault lowercases userpass names, and Hush also strips surrounding whitespace, so
``"Bob"``, ``" bob"`` and ``"bob "`` are one user for storage, login and lockout alike.

A failed login says ``invalid username or password`` (400) whether the user is unknown, the
password wrong or the user locked out (:mod:`.lockout`), and takes the same time in each case.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson

from hush.auth.token_fields import TokenSettings, address_allowed, sanitize_policies, token_fields
from hush.auth.userpass import passwords
from hush.auth.userpass.lockout import LockoutPolicy, LockoutTracker, rfc3339
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.request import Operation, Request, Response, list_response
from hush.crypto import SecretBytes
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["LOGIN_FAILED", "UserEntry", "UserpassBackend", "canonical_username"]

USER_PREFIX: Final = "user/"
LOGIN_FAILED: Final = "invalid username or password"
# Vault's GenericNameRegex (ASCII word characters, '.', '@', '-'), written without nested groups
# so OpenAPI rendering stays simple; surrounding whitespace is let through to be stripped.
_USERNAME: Final = r"(?P<username>\s*[A-Za-z0-9_][A-Za-z0-9_.@-]*\s*)"
# Stale lockout counters are swept about once a minute, however often the scheduler ticks.
TIDY_INTERVAL: Final = 60.0
_NAME: Final = re.compile(r"[a-z0-9_][a-z0-9_.@-]*")
_USERNAME_FIELD: Final = Field(FieldType.STRING, "Username for this user.")
# A password this long is certainly not typed; refusing it bounds the hashing work.
_PASSWORD_FIELD: Final = Field(
    FieldType.STRING, "Password for this user.", sensitive=True, max_length=1024
)


def canonical_username(raw: str) -> str:
    """The one spelling of a username used for storage, login and lockout."""
    return raw.strip().lower()


@dataclass(frozen=True, slots=True)
class UserEntry:
    """A stored user: the argon2id hash of their password and their token settings."""

    password_hash: str
    token: TokenSettings

    def to_bytes(self) -> bytes:
        """The storage form."""
        return orjson.dumps({"password_hash": self.password_hash, "token": self.token.to_dict()})

    @classmethod
    def from_bytes(cls, blob: bytes) -> UserEntry:
        """The inverse of :meth:`to_bytes`."""
        raw: dict[str, Any] = orjson.loads(blob)
        return cls(raw["password_hash"], TokenSettings.from_dict(raw.get("token") or {}))


class UserpassBackend(Backend):
    """Users with passwords; a login earns a token with the user's token settings."""

    type_name = "userpass"
    synopsis = "Authenticate users with a username and password."
    unauthenticated = ("login/*",)

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.clock: Callable[[], float] = time.time
        self.lockout = LockoutTracker(self.storage, self.lockout_policy, self.now)
        self._last_tidy = float("-inf")

    def now(self) -> float:
        """The current time from :attr:`clock` (which tests may replace)."""
        return self.clock()

    def lockout_policy(self) -> LockoutPolicy:
        """The mount's current lockout settings (read on every login, so tuning applies)."""
        return LockoutPolicy.from_mount(self.context.config, self.context.options)

    def paths(self) -> Sequence[Path]:
        """Every userpass endpoint, in routing order."""
        name_only = {"username": _USERNAME_FIELD}
        return [
            Path(
                "users/?",
                "List the users.",
                {Operation.LIST: OperationSpec(self._list, "List users.")},
            ),
            Path(
                f"users/{_USERNAME}",
                "Manage users allowed to authenticate.",
                {
                    Operation.CREATE: OperationSpec(self._write, "Create a user."),
                    Operation.UPDATE: OperationSpec(self._write, "Update a user."),
                    Operation.READ: OperationSpec(self._read, "Read a user."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a user."),
                },
                {
                    **name_only,
                    "password": _PASSWORD_FIELD,
                    **token_fields("policies", "ttl", "max_ttl", "bound_cidrs"),
                },
                description="Deleting a user does not revoke the tokens it already earned.",
                exists=self._exists,
            ),
            Path(
                f"users/{_USERNAME}/password",
                "Reset a user's password.",
                {Operation.UPDATE: OperationSpec(self._set_password, "Set the password.")},
                {**name_only, "password": _PASSWORD_FIELD},
            ),
            Path(
                f"users/{_USERNAME}/policies",
                "Update the policies of a user's tokens.",
                {Operation.UPDATE: OperationSpec(self._set_policies, "Set the policies.")},
                {
                    **name_only,
                    "token_policies": token_fields()["token_policies"],
                    **token_fields("policies"),
                },
            ),
            Path(
                f"login/{_USERNAME}",
                "Log in with a username and password.",
                {Operation.UPDATE: OperationSpec(self._login, "Log in.")},
                {
                    "username": Field(FieldType.STRING, "Username of the user."),
                    "password": _PASSWORD_FIELD,
                },
            ),
        ]

    async def initialize(self) -> None:
        """Make the dummy hash now, so the first unknown-user login is not the slow one."""
        await passwords.verify_password(None, SecretBytes(b"warm-up"))

    async def periodic(self, now: float) -> None:
        """Scheduler hook: drop lockout counters that no longer count."""
        if now - self._last_tidy < TIDY_INTERVAL:
            return
        self._last_tidy = now
        await self.lockout.tidy()

    # -- storage ----------------------------------------------------------------------------

    async def user(self, name: str) -> UserEntry | None:
        """The user stored under the canonical ``name``."""
        blob = await self.storage.get(USER_PREFIX + name)
        return UserEntry.from_bytes(blob) if blob is not None else None

    async def _put(self, name: str, entry: UserEntry) -> None:
        await self.storage.put(USER_PREFIX + name, entry.to_bytes())

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        return await self.user(canonical_username(fields.string("username"))) is not None

    # -- user management --------------------------------------------------------------------

    async def _list(self, request: Request, fields: FieldData) -> Response:
        return list_response(await self.storage.list(USER_PREFIX))

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        entry = await self.user(canonical_username(fields.string("username")))
        return Response(data=entry.token.render()) if entry is not None else None

    async def _write(self, request: Request, fields: FieldData) -> None:
        name = canonical_username(fields.string("username"))
        current = await self.user(name)
        if current is None and not fields.string("password"):
            raise InvalidRequest("missing password")
        token = TokenSettings.parse(fields, current.token if current else None)
        password_hash = current.password_hash if current else ""
        if fields.has("password"):
            password_hash = await _new_hash(fields)
        await self._put(name, UserEntry(password_hash, token))
        if current is None:
            # A new user starts with a clean slate, whatever was tried under the name before.
            await self.lockout.clear(name)

    async def _delete(self, request: Request, fields: FieldData) -> None:
        name = canonical_username(fields.string("username"))
        await self.storage.delete(USER_PREFIX + name)
        await self.lockout.clear(name)

    async def _set_password(self, request: Request, fields: FieldData) -> None:
        name = canonical_username(fields.string("username"))
        current = await self.user(name)
        if current is None:
            raise InvalidRequest("username does not exist")
        await self._put(name, replace(current, password_hash=await _new_hash(fields)))

    async def _set_policies(self, request: Request, fields: FieldData) -> None:
        # Vault's path_user_policies.go: both spellings are sanitised; `policies` is mirrored
        # only when it was sent.
        name = canonical_username(fields.string("username"))
        current = await self.user(name)
        if current is None:
            raise InvalidRequest("username does not exist")
        legacy = set(current.token.legacy)
        if fields.has("token_policies"):
            policies = sanitize_policies(fields.strings("token_policies"))
            (legacy.add if fields.has("policies") else legacy.discard)("policies")
        elif fields.has("policies"):
            policies = sanitize_policies(fields.strings("policies"))
            legacy.add("policies")
        else:
            raise InvalidRequest("must provide token_policies")
        token = replace(current.token, policies=policies, legacy=tuple(sorted(legacy)))
        await self._put(name, replace(current, token=token))

    # -- login ------------------------------------------------------------------------------

    async def _login(self, request: Request, fields: FieldData) -> Response:
        name = canonical_username(fields.string("username"))
        if not fields.string("password"):
            raise InvalidRequest("missing password")
        password = SecretBytes(fields.string("password").encode())
        # The same steps run whether or not the user exists: one read, one lockout check, one
        # argon2 verification (against a dummy hash if need be), one counter update.
        entry = await self.user(name)
        async with self.lockout.attempt(name) as attempt:
            matched = await passwords.verify_password(
                entry.password_hash if entry else None, password
            )
            attempt.succeeded = matched and attempt.allowed and entry is not None
        if not attempt.succeeded or entry is None:
            raise InvalidRequest(LOGIN_FAILED)
        if not address_allowed(request.remote_addr, entry.token.bound_cidrs):
            raise PermissionDenied
        if passwords.needs_rehash(entry.password_hash):
            await self._put(
                name, replace(entry, password_hash=await passwords.hash_password(password))
            )
        login = entry.token.to_login(name, name, {"username": name})
        return Response(login=login)

    # -- for sys/locked-users ---------------------------------------------------------------

    async def locked_users(self) -> list[dict[str, Any]]:
        """The users locked out now: name, failures, last failure and when the lockout ends."""
        policy = self.lockout_policy()
        found: list[dict[str, Any]] = []
        for name, record in await self.lockout.locked():
            if await self.user(name) is None:
                continue  # names that never existed are counted but not worth listing
            found.append(
                {
                    "alias_identifier": name,
                    "failed_login_attempts": record.count,
                    "last_failed_login": rfc3339(record.last_failed),
                    "lockout_end": rfc3339(record.last_failed + policy.duration),
                }
            )
        return found

    async def unlock(self, alias: str) -> bool:
        """Lift ``alias``'s lockout (any spelling of the name); whether it was locked."""
        name = canonical_username(alias)
        if not _NAME.fullmatch(name):
            return False
        return await self.lockout.clear(name)


async def _new_hash(fields: FieldData) -> str:
    if not fields.string("password"):
        raise InvalidRequest("missing password")
    return await passwords.hash_password(SecretBytes(fields.string("password").encode()))
