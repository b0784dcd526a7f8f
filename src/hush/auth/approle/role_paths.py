"""Role management: ``role/`` (list), ``role/:role_name`` (CRUD), ``role/:role_name/role-id`` and
the per-setting sub-paths declared in :mod:`hush.auth.approle.settings`, with the rules and
messages of Vault's ``builtin/credential/approle/path_role.go``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from hush.auth.approle.model import Role, cidr_blocks
from hush.auth.approle.settings import (
    BIND_FIELD,
    NUM_USES_FIELD,
    ROLE_NAME,
    ROLE_NAME_FIELD,
    SECRET_CIDRS_FIELD,
    SECRET_TTL_FIELD,
    RoleSetting,
    role_settings,
)
from hush.auth.approle.store import AppRoleStore
from hush.auth.token_fields import TokenSettings, token_fields
from hush.core.errors import InvalidRequest, NotFound
from hush.core.request import Operation, Request, Response, list_response
from hush.core.ttl import go_duration
from hush.crypto import random_bytes
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["RolePaths"]

_TOKEN_TYPE_COMPAT: Final = {"default-service": "service", "default-batch": "batch"}


class RolePaths:
    """Creating, reading, listing, tuning and deleting roles."""

    def __init__(self, store: AppRoleStore, max_lease_ttl: Callable[[], int]) -> None:
        self.store = store
        self.max_lease_ttl = max_lease_ttl

    def paths(self) -> list[Path]:
        """Declared endpoints, in routing order."""
        role_fields = {
            "role_name": ROLE_NAME_FIELD,
            "bind_secret_id": BIND_FIELD,
            "bound_cidr_list": Field(
                FieldType.COMMA_STRING_LIST, 'Deprecated: use "secret_id_bound_cidrs" instead.'
            ),
            "secret_id_bound_cidrs": SECRET_CIDRS_FIELD,
            "secret_id_num_uses": NUM_USES_FIELD,
            "secret_id_ttl": SECRET_TTL_FIELD,
            "role_id": Field(FieldType.STRING, "Identifier of the role. Defaults to a UUID."),
            "local_secret_ids": Field(
                FieldType.BOOL, "Make the role's secret IDs cluster local (creation only)."
            ),
            **token_fields("policies", "period"),
        }
        paths = [
            Path(
                "role/?",
                "Lists all the roles registered with the backend.",
                {Operation.LIST: OperationSpec(self._list, "List roles.")},
            ),
            Path(
                f"role/{ROLE_NAME}",
                "Register a role with the backend.",
                {
                    Operation.CREATE: OperationSpec(self._write, "Create a role."),
                    Operation.UPDATE: OperationSpec(self._write, "Update a role."),
                    Operation.READ: OperationSpec(self._read, "Read a role."),
                    Operation.DELETE: OperationSpec(self._delete, "Delete a role."),
                },
                role_fields,
                exists=self._exists,
            ),
            Path(
                f"role/{ROLE_NAME}/role-id",
                "Returns the 'role_id' of the role.",
                {
                    Operation.READ: OperationSpec(self._read_role_id, "Read the role ID."),
                    Operation.UPDATE: OperationSpec(self._write_role_id, "Set the role ID."),
                },
                {"role_name": ROLE_NAME_FIELD, "role_id": role_fields["role_id"]},
            ),
        ]
        for setting in role_settings():
            operations = {
                Operation.READ: OperationSpec(
                    functools.partial(self._setting_read, setting), "Read the setting."
                )
            }
            if setting.update is not None:
                operations[Operation.UPDATE] = OperationSpec(
                    functools.partial(self._setting_update, setting), "Set the setting."
                )
            if setting.reset is not None:
                operations[Operation.DELETE] = OperationSpec(
                    functools.partial(self._setting_reset, setting), "Reset to the default."
                )
            paths.append(
                Path(
                    f"role/{ROLE_NAME}/{setting.suffix}",
                    setting.synopsis,
                    operations,
                    {"role_name": ROLE_NAME_FIELD, **setting.fields},
                )
            )
        return paths

    async def _exists(self, request: Request, fields: FieldData) -> bool:
        return await self.store.role(fields.string("role_name")) is not None

    async def _list(self, request: Request, fields: FieldData) -> Response:
        return list_response(await self.store.role_names())

    async def _read(self, request: Request, fields: FieldData) -> Response | None:
        role = await self.store.role(fields.string("role_name"))
        return Response(data=role.render()) if role is not None else None

    async def _delete(self, request: Request, fields: FieldData) -> None:
        role = await self.store.role(fields.string("role_name"))
        if role is not None:
            await self.store.delete_role(role)

    async def _write(self, request: Request, fields: FieldData) -> Response | None:
        name = fields.string("role_name").lower()
        warnings: list[str] = []

        def change(current: Role | None) -> Role:
            creating = current is None
            role = current or Role(name=name, role_id="", hmac_key=random_bytes(32).hex())
            token = TokenSettings.parse(fields, role.token)
            if fields.has("token_type") and token.type in _TOKEN_TYPE_COMPAT:
                adjusted = _TOKEN_TYPE_COMPAT[token.type]
                warnings.append(f"{token.type} has no useful meaning; adjusting to {adjusted}")
                token = replace(token, type=adjusted)
            changes: dict[str, Any] = {"token": token}
            if fields.has("local_secret_ids"):
                if not creating:
                    raise InvalidRequest(
                        "local_secret_ids can only be modified during role creation"
                    )
                changes["local_secret_ids"] = fields.boolean("local_secret_ids")
            if fields.has("role_id"):
                changes["role_id"] = fields.string("role_id")
            elif creating:
                changes["role_id"] = str(uuid.uuid4())
            if not changes.get("role_id", role.role_id):
                raise InvalidRequest("invalid role_id supplied, or failed to generate a role_id")
            if fields.has("bind_secret_id") or creating:
                changes["bind_secret_id"] = fields.boolean("bind_secret_id")
            for cidr_name in ("secret_id_bound_cidrs", "bound_cidr_list"):
                if fields.has(cidr_name):
                    changes["secret_id_bound_cidrs"] = cidr_blocks(
                        fields.strings(cidr_name), "invalid CIDR blocks"
                    )
                    break
            if fields.has("secret_id_num_uses"):
                if fields.integer("secret_id_num_uses") < 0:
                    raise InvalidRequest("secret_id_num_uses cannot be negative")
                changes["secret_id_num_uses"] = fields.integer("secret_id_num_uses")
            if fields.has("secret_id_ttl"):
                changes["secret_id_ttl"] = fields.integer("secret_id_ttl")
            self._check_token_limits(token, warnings)
            return replace(role, **changes)

        await self.store.write_role(name, change)
        return Response(warnings=warnings) if warnings else None

    def _check_token_limits(self, token: TokenSettings, warnings: list[str]) -> None:
        limit = self.max_lease_ttl()
        if token.period > limit:
            raise InvalidRequest(
                f'period of "{go_duration(token.period)}" is greater than the backend\'s '
                f'maximum lease TTL of "{go_duration(limit)}"'
            )
        if token.max_ttl > limit:
            warnings.append(
                "token_max_ttl is greater than the backend mount's maximum TTL value; issued "
                "tokens' max TTL value will be truncated"
            )

    async def _read_role_id(self, request: Request, fields: FieldData) -> Response | None:
        role = await self.store.role(fields.string("role_name"))
        return Response(data={"role_id": role.role_id}) if role is not None else None

    async def _write_role_id(self, request: Request, fields: FieldData) -> None:
        if not fields.string("role_id"):
            raise InvalidRequest("missing role_id")
        new_id = fields.string("role_id")
        await self._update(fields, lambda role: replace(role, role_id=new_id))

    async def _update(
        self, fields: FieldData, change: Callable[[Role], Role], *, missing_ok: bool = False
    ) -> None:
        def apply(current: Role | None) -> Role:
            assert current is not None  # write_role(must_exist=True) never passes None
            return change(current)

        name = fields.string("role_name")
        updated = await self.store.write_role(name, apply, must_exist=True)
        if updated is None and not missing_ok:
            # Vault answers an update of a missing role with logical.ErrUnsupportedPath.
            raise NotFound("unsupported path")

    async def _setting_read(
        self, setting: RoleSetting, request: Request, fields: FieldData
    ) -> Response | None:
        role = await self.store.role(fields.string("role_name"))
        return Response(data=setting.read(role)) if role is not None else None

    async def _setting_update(
        self, setting: RoleSetting, request: Request, fields: FieldData
    ) -> None:
        update = setting.update
        assert update is not None
        if setting.suffix == "period":
            self._check_token_limits(replace(TokenSettings(), period=_period(fields)), [])
        await self._update(fields, lambda role: update(role, fields))

    async def _setting_reset(
        self, setting: RoleSetting, request: Request, fields: FieldData
    ) -> None:
        reset = setting.reset
        assert reset is not None
        await self._update(fields, reset, missing_ok=True)


def _period(fields: FieldData) -> int:
    name = "token_period" if fields.has("token_period") else "period"
    return fields.integer(name) if fields.has(name) else 0
