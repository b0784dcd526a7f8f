"""AppRole login: ``login`` with a role ID and (when the role binds one) a secret ID.

Every refusal says ``invalid role or secret ID`` (400): an unknown role ID, a missing, wrong,
spent or expired secret ID, and a login from outside the secret ID's or role's CIDR blocks all
look alike, so the answer never confirms that part of a credential is right. (Vault names the
source address in its CIDR refusals and says ``missing secret_id``; that tells a caller holding
only a role ID, or calling from the wrong network, that the role ID is valid.) Address checks
run before a use is spent, so a caller from the wrong network cannot burn a secret ID's uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from hush.auth.approle.model import SecretIdEntry
from hush.auth.approle.secret_id_paths import SECRET_ID_FIELD
from hush.auth.approle.store import AppRoleStore
from hush.auth.token_fields import address_allowed, normalize_addresses
from hush.core.errors import InvalidRequest
from hush.core.request import Operation, Request, Response
from hush.crypto import SecretBytes
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["LOGIN_FAILED", "LoginPath"]

LOGIN_FAILED: Final = "invalid role or secret ID"


class LoginPath:
    """The one unauthenticated endpoint of an AppRole mount."""

    def __init__(self, store: AppRoleStore, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    def paths(self) -> list[Path]:
        """Declared endpoints."""
        return [
            Path(
                "login",
                "Issue a token based on the credentials supplied.",
                {Operation.UPDATE: OperationSpec(self._login, "Log in with AppRole.")},
                {
                    "role_id": Field(
                        FieldType.STRING, "Unique identifier of the role.", max_length=4096
                    ),
                    "secret_id": SECRET_ID_FIELD,
                },
                description="The role ID is always required; the secret ID when the role "
                "binds one (bind_secret_id, the default).",
            )
        ]

    async def _login(self, request: Request, fields: FieldData) -> Response:
        role_id = fields.string("role_id").strip()
        if not role_id:
            raise InvalidRequest("missing role_id")
        role = await self.store.role_by_id(role_id)
        if role is None:
            raise InvalidRequest(LOGIN_FAILED)
        remote = request.remote_addr

        def check_addresses(entry: SecretIdEntry | None) -> None:
            cidrs = entry.cidr_list if entry is not None else ()
            if not address_allowed(remote, cidrs) or not address_allowed(
                remote, role.secret_id_bound_cidrs
            ):
                raise InvalidRequest(LOGIN_FAILED)

        token = role.token
        metadata: dict[str, str] = {}
        if role.bind_secret_id:
            secret_id = fields.string("secret_id").strip()
            if not secret_id:
                raise InvalidRequest(LOGIN_FAILED)
            entry = await self.store.consume(
                role, SecretBytes(secret_id.encode()), self.clock(), check_addresses
            )
            if entry is None:
                raise InvalidRequest(LOGIN_FAILED)
            metadata = dict(entry.metadata)
            if entry.token_bound_cidrs:
                bound = normalize_addresses(entry.token_bound_cidrs, "token_bound_cidrs")
                token = replace(token, bound_cidrs=bound)
        else:
            check_addresses(None)
        # Vault always adds the role name, for later filtering.
        metadata["role_name"] = role.name
        # Vault's AppRole sets no display name; the core names the token after the mount.
        return Response(login=token.to_login("", role.role_id, metadata))
