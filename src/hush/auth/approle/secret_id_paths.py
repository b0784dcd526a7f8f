"""Secret IDs: generating (``role/:role_name/secret-id``, ``…/custom-secret-id``), listing their
accessors, looking up and destroying them by value or accessor, and ``tidy/secret-id``, with
the rules and messages of Vault's ``path_role.go`` and ``path_tidy_user_id.go``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Final

from hush.auth.approle.model import Role, SecretIdEntry, cidr_blocks, cidrs_subset, parse_metadata
from hush.auth.approle.settings import ROLE_NAME, ROLE_NAME_FIELD
from hush.auth.approle.store import AppRoleStore
from hush.core.errors import InvalidRequest, NotFound
from hush.core.request import Operation, Request, Response, list_response
from hush.crypto import SecretBytes
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["SECRET_ID_FIELD", "SecretIdPaths"]

SECRET_ID_FIELD: Final = Field(
    FieldType.STRING, "SecretID belonging to the role.", sensitive=True, max_length=4096
)
_ACCESSOR_FIELD: Final = Field(FieldType.STRING, "Accessor of the SecretID.", max_length=4096)
_GENERATE_FIELDS: Final = {
    "role_name": ROLE_NAME_FIELD,
    "metadata": Field(
        FieldType.RAW,
        "Metadata tied to the SecretID: a JSON object of strings (as a string or an object), "
        "or comma separated key=value pairs. Set as the token's metadata at login.",
    ),
    "cidr_list": Field(
        FieldType.COMMA_STRING_LIST,
        "CIDR blocks from which this SecretID may log in; a subset of the role's.",
    ),
    "token_bound_cidrs": Field(
        FieldType.COMMA_STRING_LIST,
        "CIDR blocks from which the issued tokens may be used; a subset of the role's.",
    ),
    "num_uses": Field(
        FieldType.INT, "Number of logins this SecretID allows (0: the role's setting)."
    ),
    "ttl": Field(FieldType.DURATION, "Lifetime of this SecretID (0: the role's setting)."),
}
_TIDY_STARTED: Final = (
    "Tidy operation successfully started. Any information from the operation will be printed "
    "to Vault's server logs."
)


class SecretIdPaths:
    """Issuing, inspecting and revoking a role's secret IDs."""

    def __init__(
        self, store: AppRoleStore, max_lease_ttl: Callable[[], int], clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.max_lease_ttl = max_lease_ttl
        self.clock = clock

    def paths(self) -> list[Path]:
        """Declared endpoints, in routing order."""
        by_value = {"role_name": ROLE_NAME_FIELD, "secret_id": SECRET_ID_FIELD}
        by_accessor = {"role_name": ROLE_NAME_FIELD, "secret_id_accessor": _ACCESSOR_FIELD}
        return [
            Path(
                f"role/{ROLE_NAME}/secret-id/?",
                "Generate a SecretID against this role, or list the accessors of its SecretIDs.",
                {
                    Operation.UPDATE: OperationSpec(self._generate, "Generate a SecretID."),
                    Operation.LIST: OperationSpec(self._list, "List SecretID accessors."),
                },
                _GENERATE_FIELDS,
            ),
            Path(
                f"role/{ROLE_NAME}/custom-secret-id",
                "Assign a SecretID of choice against the role.",
                {Operation.UPDATE: OperationSpec(self._custom, "Assign a SecretID.")},
                {**_GENERATE_FIELDS, "secret_id": SECRET_ID_FIELD},
            ),
            Path(
                f"role/{ROLE_NAME}/secret-id/lookup",
                "Read the properties of an issued secret_id.",
                {Operation.UPDATE: OperationSpec(self._lookup, "Look up a SecretID.")},
                by_value,
            ),
            Path(
                f"role/{ROLE_NAME}/secret-id/destroy",
                "Invalidate an issued secret_id.",
                {
                    Operation.UPDATE: OperationSpec(self._destroy, "Destroy a SecretID."),
                    Operation.DELETE: OperationSpec(self._destroy, "Destroy a SecretID."),
                },
                by_value,
            ),
            Path(
                f"role/{ROLE_NAME}/secret-id-accessor/lookup",
                "Read an issued secret_id, using its accessor.",
                {Operation.UPDATE: OperationSpec(self._lookup_accessor, "Look up by accessor.")},
                by_accessor,
            ),
            Path(
                f"role/{ROLE_NAME}/secret-id-accessor/destroy",
                "Delete an issued secret_id, using its accessor.",
                {
                    Operation.UPDATE: OperationSpec(self._destroy_accessor, "Destroy by accessor."),
                    Operation.DELETE: OperationSpec(self._destroy_accessor, "Destroy by accessor."),
                },
                by_accessor,
            ),
            Path(
                "tidy/secret-id",
                "Trigger the clean-up of expired SecretID entries.",
                {Operation.UPDATE: OperationSpec(self._tidy, "Tidy SecretIDs.")},
            ),
        ]

    async def _role(self, fields: FieldData) -> Role:
        name = fields.string("role_name")
        role = await self.store.role(name)
        if role is None:
            raise InvalidRequest(f'role "{name}" does not exist')
        return role

    async def _generate(self, request: Request, fields: FieldData) -> Response:
        return await self._issue(fields, SecretBytes(str(uuid.uuid4()).encode()))

    async def _custom(self, request: Request, fields: FieldData) -> Response:
        if not fields.string("secret_id"):
            raise InvalidRequest("missing secret_id")
        return await self._issue(fields, SecretBytes(fields.string("secret_id").encode()))

    async def _issue(self, fields: FieldData, secret_id: SecretBytes) -> Response:
        name = fields.string("role_name")
        role = await self.store.role(name)
        if role is None:
            raise NotFound(f'role "{name}" does not exist')
        if not role.bind_secret_id:
            raise InvalidRequest("bind_secret_id is not set on the role")
        cidr_list = cidr_blocks(fields.strings("cidr_list"), "failed to validate CIDR blocks")
        _require_subset(cidr_list, role.secret_id_bound_cidrs)
        token_cidrs = cidr_blocks(
            fields.strings("token_bound_cidrs"), "failed to validate token CIDR blocks"
        )
        _require_subset(token_cidrs, role.token.bound_cidrs)
        num_uses = _bounded(fields, "num_uses", role.secret_id_num_uses)
        ttl = _bounded(fields, "ttl", role.secret_id_ttl)
        # Vault's deriveSecretIDTTL: never beyond the mount's maximum lease TTL.
        ttl = min(ttl, self.max_lease_ttl())
        now = self.clock()
        entry = SecretIdEntry(
            accessor=str(uuid.uuid4()),
            num_uses=num_uses,
            ttl=ttl,
            creation_time=now,
            expiration_time=now + ttl if ttl else 0.0,
            last_updated_time=now,
            metadata=parse_metadata(fields.raw("metadata")),
            cidr_list=cidr_list,
            token_bound_cidrs=token_cidrs,
        )
        await self.store.register(role, secret_id, entry)
        return Response(
            data={
                "secret_id": secret_id.reveal().decode(),
                "secret_id_accessor": entry.accessor,
                "secret_id_ttl": ttl,
                "secret_id_num_uses": num_uses,
            }
        )

    async def _list(self, request: Request, fields: FieldData) -> Response:
        return list_response(await self.store.accessors(await self._role(fields)))

    async def _lookup(self, request: Request, fields: FieldData) -> Response | None:
        role = await self._role(fields)
        entry = await self.store.lookup(role, _secret(fields))
        return Response(data=entry.render()) if entry is not None else None

    async def _destroy(self, request: Request, fields: FieldData) -> None:
        role = await self._role(fields)
        await self.store.destroy(role, _secret(fields))

    async def _lookup_accessor(self, request: Request, fields: FieldData) -> Response:
        role = await self._role(fields)
        accessor = _accessor(fields)
        entry = await self.store.lookup_accessor(role, accessor)
        if entry is None:
            raise NotFound(f'failed to find accessor entry for secret_id_accessor: "{accessor}"')
        return Response(data=entry.render())

    async def _destroy_accessor(self, request: Request, fields: FieldData) -> None:
        role = await self._role(fields)
        accessor = _accessor(fields)
        if not await self.store.destroy_accessor(role, accessor):
            raise InvalidRequest(
                f'failed to find accessor entry for secret_id_accessor: "{accessor}"'
            )

    async def _tidy(self, request: Request, fields: FieldData) -> Response:
        # Vault tidies in the background and answers 202 at once; the batches here are short,
        # so Hush finishes before answering (same status and warning).
        await self.store.tidy(self.clock())
        return Response(warnings=[_TIDY_STARTED], status=202)


def _require_subset(secret_blocks: tuple[str, ...], role_blocks: tuple[str, ...]) -> None:
    if not cidrs_subset(secret_blocks, role_blocks):
        raise InvalidRequest(
            "failed to verify subset relationship between CIDR blocks on the role "
            f"{list(role_blocks)} and CIDR blocks on the secret ID {list(secret_blocks)}"
        )


def _bounded(fields: FieldData, name: str, role_limit: int) -> int:
    """A per-secret-ID ``num_uses``/``ttl``: the role's value, or a tighter one (Vault's rule)."""
    if not fields.has(name):
        return role_limit
    value = fields.integer(name)
    if value < 0:
        raise InvalidRequest(f"{name} cannot be negative")
    if role_limit > 0 and (value == 0 or value > role_limit):
        if name == "ttl":
            raise InvalidRequest("ttl cannot be longer than the role's secret_id_ttl")
        raise InvalidRequest("num_uses cannot be higher than the role's secret_id_num_uses")
    return value


def _secret(fields: FieldData) -> SecretBytes:
    if not fields.string("secret_id"):
        raise InvalidRequest("missing secret_id")
    return SecretBytes(fields.string("secret_id").encode())


def _accessor(fields: FieldData) -> str:
    if not fields.string("secret_id_accessor"):
        raise InvalidRequest("missing secret_id_accessor")
    return fields.string("secret_id_accessor")
