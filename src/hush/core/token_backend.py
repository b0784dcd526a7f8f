"""``auth/token/*``: create, look up, renew and revoke tokens; token roles; tidy."""

from __future__ import annotations

import datetime
import fnmatch
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from hush.barrier.view import StorageView
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.identity import TOKEN_MOUNT_ACCESSOR, entity_for_login
from hush.core.request import Request, Response
from hush.core.system.common import ops
from hush.core.token_roles import MAX_TOKEN_TTL, CreateRequest, TokenRole, plan_token
from hush.core.tokens import TokenEntry, TokenStore
from hush.crypto import SecretBytes
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import Path

if TYPE_CHECKING:
    from hush.core.core import Core

__all__ = ["TokenBackend", "rfc3339"]

_ROLES = "roles/"


def rfc3339(ts: float) -> str:
    """Vault's timestamp format (UTC, nanosecond precision)."""
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def _caller(request: Request) -> TokenEntry:
    if request.token_entry is None:
        raise PermissionDenied
    return request.token_entry


_CREATE_FIELDS = {
    "role_name": Field(FieldType.STRING, "Role to create the token against."),
    "id": Field(FieldType.STRING, "Token value to use (root only).", sensitive=True),
    "policies": Field(FieldType.COMMA_STRING_LIST, "Policies of the token."),
    "meta": Field(FieldType.KV_PAIRS, "Metadata attached to the token."),
    "no_parent": Field(FieldType.BOOL, "Create an orphan (root/sudo only)."),
    "no_default_policy": Field(FieldType.BOOL, "Do not attach the default policy."),
    "renewable": Field(FieldType.BOOL, "Whether the token can be renewed.", default=True),
    "ttl": Field(FieldType.DURATION, "Initial TTL."),
    "lease": Field(FieldType.DURATION, "Deprecated alias of ttl."),
    "type": Field(FieldType.STRING, "service or batch."),
    "explicit_max_ttl": Field(FieldType.DURATION, "Hard cap on the token's lifetime."),
    "display_name": Field(FieldType.STRING, "Name shown in audit and lookups."),
    "num_uses": Field(FieldType.INT, "Uses before the token is revoked (0 = unlimited)."),
    "period": Field(FieldType.DURATION, "Periodic token: TTL reset to this on renewal."),
    "entity_alias": Field(FieldType.STRING, "Entity alias the token acts for (with a role)."),
}
_TOKEN_FIELD = {"token": Field(FieldType.STRING, "The token.", sensitive=True)}
_ACCESSOR_FIELD = {"accessor": Field(FieldType.STRING, "Accessor of the token.")}
_INCREMENT = {"increment": Field(FieldType.DURATION, "Requested extension of the TTL.")}
_ROLE_FIELDS = {
    "role_name": Field(FieldType.STRING, "Name of the role.", required=True),
    "allowed_policies": Field(FieldType.COMMA_STRING_LIST, "Policies tokens may have."),
    "disallowed_policies": Field(FieldType.COMMA_STRING_LIST, "Policies tokens may not have."),
    "allowed_policies_glob": Field(FieldType.COMMA_STRING_LIST, "Allowed policy globs."),
    "disallowed_policies_glob": Field(FieldType.COMMA_STRING_LIST, "Disallowed policy globs."),
    "orphan": Field(FieldType.BOOL, "Tokens are orphans."),
    "renewable": Field(FieldType.BOOL, "Tokens are renewable.", default=True),
    "path_suffix": Field(FieldType.STRING, "Suffix of the token path."),
    "allowed_entity_aliases": Field(FieldType.COMMA_STRING_LIST, "Entity aliases allowed."),
    "token_period": Field(FieldType.DURATION, "Period of tokens."),
    "period": Field(FieldType.DURATION, "Deprecated alias of token_period."),
    "token_explicit_max_ttl": Field(FieldType.DURATION, "Explicit max TTL of tokens."),
    "explicit_max_ttl": Field(FieldType.DURATION, "Deprecated alias."),
    "token_ttl": Field(FieldType.DURATION, "Default TTL of tokens."),
    "token_max_ttl": Field(FieldType.DURATION, "Max TTL of tokens."),
    "token_type": Field(
        FieldType.STRING,
        "service, batch, default-service, default-batch.",
        default="default-service",
        allowed=("service", "batch", "default-service", "default-batch", "default"),
    ),
    "token_no_default_policy": Field(FieldType.BOOL, "Do not attach the default policy."),
    "token_num_uses": Field(FieldType.INT, "Uses per token."),
    "token_bound_cidrs": Field(FieldType.COMMA_STRING_LIST, "CIDRs tokens may be used from."),
    "bound_cidrs": Field(FieldType.COMMA_STRING_LIST, "Deprecated alias."),
}


class TokenBackend(Backend):
    """The token auth method, always mounted at ``auth/token/``."""

    type_name = "token"
    synopsis = "The token store: create, look up, renew and revoke tokens."
    sudo_paths: ClassVar[tuple[str, ...]] = ("revoke-orphan", "accessors/", "accessors")

    def __init__(self, core: Core) -> None:
        self._core = core
        super().__init__(
            BackendContext(
                StorageView(core.barrier, "sys/token-roles/"),
                mount_path="auth/token/",
                mount_uuid="token",
            )
        )

    @property
    def tokens(self) -> TokenStore:
        """The core's token store."""
        return self._core.tokens

    # -- rendering ---------------------------------------------------------------------------

    def auth_block(self, token: SecretBytes | None, entry: TokenEntry) -> dict[str, Any]:
        """Vault's ``auth`` object for a token just created or renewed."""
        return {
            "client_token": token.reveal().decode() if token is not None else "",
            "accessor": entry.accessor,
            "policies": list(entry.policies),
            "token_policies": list(entry.policies),
            "identity_policies": None,
            "metadata": entry.meta or None,
            "lease_duration": entry.ttl_remaining(time.time()),
            "renewable": entry.renewable,
            "entity_id": entry.entity_id,
            "token_type": entry.type,
            "orphan": entry.orphan,
            "mfa_requirement": None,
            "num_uses": entry.num_uses,
        }

    def lookup_data(self, token: SecretBytes | None, entry: TokenEntry) -> dict[str, Any]:
        """Vault's lookup body; ``id`` only when the caller presented the token itself."""
        now = time.time()
        data: dict[str, Any] = {
            "accessor": entry.accessor,
            "creation_time": int(entry.creation_time),
            "creation_ttl": entry.creation_ttl,
            "display_name": entry.display_name,
            "entity_id": entry.entity_id,
            "expire_time": rfc3339(entry.expire_time) if entry.expire_time else None,
            "explicit_max_ttl": entry.explicit_max_ttl,
            "id": token.reveal().decode() if token is not None else "",
            "issue_time": rfc3339(entry.creation_time),
            "meta": entry.meta or None,
            "num_uses": entry.num_uses,
            "orphan": entry.orphan,
            "path": entry.path,
            "policies": list(entry.policies),
            "renewable": entry.renewable,
            "ttl": entry.ttl_remaining(now),
            "type": entry.type,
        }
        if entry.period:
            data["period"] = entry.period
        if entry.role:
            data["role"] = entry.role
        if entry.bound_cidrs:
            data["bound_cidrs"] = list(entry.bound_cidrs)
        return data

    # -- helpers -----------------------------------------------------------------------------

    async def _with_identity(self, data: dict[str, Any], entry: TokenEntry) -> dict[str, Any]:
        """Add ``identity_policies`` to a lookup body when the token's entity has any (Vault)."""
        if entry.entity_id:
            resolved = await self._core.identity_resolver.resolve(entry.entity_id)
            if resolved.policies:
                data["identity_policies"] = list(resolved.policies)
        return data

    async def _by_token(self, fields: FieldData) -> tuple[SecretBytes, TokenEntry]:
        raw = fields.string("token")
        if not raw:
            raise InvalidRequest("missing token")
        token = SecretBytes(raw.encode())
        entry = await self.tokens.lookup(token)
        if entry is None:
            raise InvalidRequest("bad token")
        return token, entry

    async def _by_accessor(self, fields: FieldData) -> TokenEntry:
        accessor = fields.string("accessor")
        if not accessor:
            raise InvalidRequest("missing accessor")
        entry = await self.tokens.lookup_accessor(accessor)
        if entry is None:
            raise InvalidRequest("invalid accessor")
        return entry

    async def _role(self, name: str) -> TokenRole | None:
        blob = await self.storage.get(_ROLES + name)
        return TokenRole.from_json(blob) if blob else None

    async def _entity_for_alias(self, alias_name: str, role: TokenRole | None) -> str:
        """Vault's ``entity_alias``: the token acts for the entity of that token-store alias.

        Only through a role whose ``allowed_entity_aliases`` (globs, case-insensitive as in
        Vault) list the name; the alias is compared exactly, so ``Alice`` never lands on
        ``alice``'s entity.
        """
        if role is None:
            raise InvalidRequest("'entity_alias' is only allowed in combination with token role")
        allowed = [pattern.lower() for pattern in role.allowed_entity_aliases]
        if not any(fnmatch.fnmatchcase(alias_name.lower(), pattern) for pattern in allowed):
            raise InvalidRequest("invalid 'entity_alias' value")
        return await entity_for_login(self._core.identity, TOKEN_MOUNT_ACCESSOR, alias_name, {})

    async def renew(self, entry: TokenEntry, increment: int) -> TokenEntry:
        """Extend a token's TTL within its caps (explicit max TTL, system max, period)."""
        if entry.type == "batch":
            raise InvalidRequest("batch tokens cannot be renewed")
        if not entry.renewable:
            raise InvalidRequest("lease is not renewable")
        now = time.time()
        ttl = entry.period or increment or entry.creation_ttl
        expire = now + ttl
        caps = [entry.creation_time + MAX_TOKEN_TTL] if not entry.period else []
        if entry.explicit_max_ttl:
            caps.append(entry.creation_time + entry.explicit_max_ttl)
        if entry.parent_hash:
            # A child never outlives its parent, after renewal as at creation.
            parent = await self.tokens.lookup_hash(entry.parent_hash)
            if parent is None:
                raise InvalidRequest("the parent of this token is no longer valid")
            if parent.expire_time:
                caps.append(parent.expire_time)
        expire = min([expire, *caps])
        if expire <= now:
            raise InvalidRequest("past the max TTL, cannot renew")
        entry.expire_time = expire
        await self.tokens.save(entry)
        await self._core.expiration.token_renewed(entry)
        return entry

    def _self_token(self, request: Request) -> SecretBytes:
        if request.client_token is None:
            raise PermissionDenied
        return request.client_token

    # -- handlers ----------------------------------------------------------------------------

    async def _create(self, request: Request, fields: FieldData, *, orphan: bool) -> Response:
        parent = _caller(request)
        role_name = fields.string("role_name")
        role = await self._role(role_name) if role_name else None
        if role_name and role is None:
            raise InvalidRequest(f'unknown role "{role_name}"')
        wish = CreateRequest(
            policies=fields.strings("policies") if fields.has("policies") else None,
            meta={str(k): str(v) for k, v in fields.mapping("meta").items()},
            display_name=fields.string("display_name"),
            ttl=fields.integer("ttl") or fields.integer("lease"),
            explicit_max_ttl=fields.integer("explicit_max_ttl"),
            period=fields.integer("period"),
            num_uses=fields.integer("num_uses"),
            renewable=fields.boolean("renewable"),
            no_default_policy=fields.boolean("no_default_policy"),
            no_parent=fields.boolean("no_parent"),
            token_type=fields.string("type"),
            custom_id=fields.string("id"),
        )
        sudo = request.auth is not None and (request.auth.root or request.auth.sudo)
        entry = plan_token(parent, wish, role, sudo=sudo, orphan=orphan)
        if fields.string("entity_alias"):
            entry.entity_id = await self._entity_for_alias(fields.string("entity_alias"), role)
        try:
            token = await self.tokens.create(entry, wish.custom_id or None)
        except ValueError:
            raise InvalidRequest("cannot create a token with this id") from None
        self._core.metrics.tokens_created.labels(entry.type).inc()
        return Response(auth=self.auth_block(token, entry))

    def paths(self) -> Sequence[Path]:
        """Every ``auth/token/`` endpoint."""

        async def create(request: Request, fields: FieldData) -> Response:
            """Create a child token (or an orphan with no_parent as root/sudo)."""
            return await self._create(request, fields, orphan=False)

        async def create_orphan(request: Request, fields: FieldData) -> Response:
            """Create an orphan token."""
            return await self._create(request, fields, orphan=True)

        async def lookup(request: Request, fields: FieldData) -> Response:
            """Look up a token given in the body."""
            token, entry = await self._by_token(fields)
            return Response(data=await self._with_identity(self.lookup_data(token, entry), entry))

        async def lookup_self(request: Request, fields: FieldData) -> Response:
            """Look up the calling token."""
            entry = _caller(request)
            data = self.lookup_data(self._self_token(request), entry)
            return Response(data=await self._with_identity(data, entry))

        async def lookup_accessor(request: Request, fields: FieldData) -> Response:
            """Look up a token by accessor (the token itself is not returned)."""
            entry = await self._by_accessor(fields)
            return Response(data=await self._with_identity(self.lookup_data(None, entry), entry))

        async def renew(request: Request, fields: FieldData) -> Response:
            """Renew a token given in the body."""
            token, entry = await self._by_token(fields)
            entry = await self.renew(entry, fields.integer("increment"))
            return Response(auth=self.auth_block(token, entry))

        async def renew_self(request: Request, fields: FieldData) -> Response:
            """Renew the calling token."""
            entry = await self.renew(_caller(request), fields.integer("increment"))
            return Response(auth=self.auth_block(self._self_token(request), entry))

        async def renew_accessor(request: Request, fields: FieldData) -> Response:
            """Renew a token by accessor."""
            entry = await self.renew(await self._by_accessor(fields), fields.integer("increment"))
            return Response(auth=self.auth_block(None, entry))

        async def revoke(request: Request, fields: FieldData) -> None:
            """Revoke a token and all its children."""
            raw = fields.string("token")
            if not raw:
                raise InvalidRequest("missing token")
            entry = await self.tokens.lookup(SecretBytes(raw.encode()))
            if entry is not None:  # Vault answers 204 for unknown tokens too.
                await self._revoke(entry)

        async def revoke_self(request: Request, fields: FieldData) -> None:
            """Revoke the calling token and all its children."""
            await self._revoke(_caller(request))

        async def revoke_accessor(request: Request, fields: FieldData) -> None:
            """Revoke a token by accessor, with its children."""
            await self._revoke(await self._by_accessor(fields))

        async def revoke_orphan(request: Request, fields: FieldData) -> None:
            """Revoke a token but keep its children (they become orphans). Needs sudo."""
            _, entry = await self._by_token(fields)
            if entry.type == "batch":
                raise InvalidRequest("batch tokens cannot be revoked")
            await self.tokens.revoke_orphan(entry)

        async def list_accessors(request: Request, fields: FieldData) -> Response:
            """List every token accessor. Needs sudo."""
            return Response(data={"keys": await self.tokens.accessors()})

        async def list_roles(request: Request, fields: FieldData) -> Response | None:
            """List token roles."""
            keys = [k for k in await self.storage.list(_ROLES) if not k.endswith("/")]
            return Response(data={"keys": keys}) if keys else None

        async def read_role(request: Request, fields: FieldData) -> Response | None:
            """Read a token role."""
            role = await self._role(fields.string("role_name"))
            return Response(data=role.describe()) if role else None

        async def write_role(request: Request, fields: FieldData) -> None:
            """Create or update a token role."""
            name = fields.string("role_name")
            if "/" in name or not name.strip():
                raise InvalidRequest("role name must be non-empty and contain no '/'")
            role = TokenRole(
                name=name,
                allowed_policies=fields.strings("allowed_policies"),
                disallowed_policies=fields.strings("disallowed_policies"),
                allowed_policies_glob=fields.strings("allowed_policies_glob"),
                disallowed_policies_glob=fields.strings("disallowed_policies_glob"),
                orphan=fields.boolean("orphan"),
                renewable=fields.boolean("renewable"),
                path_suffix=fields.string("path_suffix"),
                allowed_entity_aliases=fields.strings("allowed_entity_aliases"),
                token_period=fields.integer("token_period") or fields.integer("period"),
                token_explicit_max_ttl=fields.integer("token_explicit_max_ttl")
                or fields.integer("explicit_max_ttl"),
                token_ttl=fields.integer("token_ttl"),
                token_max_ttl=fields.integer("token_max_ttl"),
                token_type=fields.string("token_type"),
                token_no_default_policy=fields.boolean("token_no_default_policy"),
                token_num_uses=fields.integer("token_num_uses"),
                token_bound_cidrs=fields.strings("token_bound_cidrs")
                or fields.strings("bound_cidrs"),
            )
            await self.storage.put(_ROLES + name, role.to_json())

        async def delete_role(request: Request, fields: FieldData) -> None:
            """Delete a token role."""
            await self.storage.delete(_ROLES + fields.string("role_name"))

        async def tidy(request: Request, fields: FieldData) -> Response:
            """Remove expired tokens and dangling indexes."""
            counts = await self.tokens.tidy()
            return Response(
                data=counts,
                warnings=[
                    "Tidy operation successfully started. Any information from the "
                    "operation will be printed to Hush's server logs."
                ],
                status=202,
            )

        role_field = {"role_name": Field(FieldType.STRING, "Name of the role.")}
        return [
            Path("create", "Create a token.", ops(update=create), fields=_CREATE_FIELDS),
            Path(
                "create-orphan",
                "Create an orphan token.",
                ops(update=create_orphan),
                fields=_CREATE_FIELDS,
            ),
            Path(
                "create/(?P<role_name>[^/]+)",
                "Create a token against a role.",
                ops(update=create),
                fields=_CREATE_FIELDS,
            ),
            Path(
                "lookup", "Look up a token.", ops(update=lookup, read=lookup), fields=_TOKEN_FIELD
            ),
            Path(
                "lookup-self",
                "Look up the calling token.",
                ops(read=lookup_self, update=lookup_self),
                fields=_TOKEN_FIELD,
            ),
            Path(
                "lookup-accessor",
                "Look up a token by accessor.",
                ops(update=lookup_accessor),
                fields=_ACCESSOR_FIELD,
            ),
            Path("renew", "Renew a token.", ops(update=renew), fields=_TOKEN_FIELD | _INCREMENT),
            Path(
                "renew-self",
                "Renew the calling token.",
                ops(update=renew_self),
                fields=_TOKEN_FIELD | _INCREMENT,
            ),
            Path(
                "renew-accessor",
                "Renew a token by accessor.",
                ops(update=renew_accessor),
                fields=_ACCESSOR_FIELD | _INCREMENT,
            ),
            Path(
                "revoke",
                "Revoke a token and its children.",
                ops(update=revoke),
                fields=_TOKEN_FIELD,
            ),
            Path("revoke-self", "Revoke the calling token.", ops(update=revoke_self)),
            Path(
                "revoke-accessor",
                "Revoke a token by accessor.",
                ops(update=revoke_accessor),
                fields=_ACCESSOR_FIELD,
            ),
            Path(
                "revoke-orphan",
                "Revoke a token, orphaning its children.",
                ops(update=revoke_orphan),
                fields=_TOKEN_FIELD,
            ),
            Path("accessors/?", "List token accessors.", ops(list=list_accessors)),
            Path("roles/?", "List token roles.", ops(list=list_roles)),
            Path(
                "roles/(?P<role_name>[^/]+)",
                "Manage a token role.",
                ops(read=read_role, create=write_role, update=write_role, delete=delete_role),
                fields=_ROLE_FIELDS | role_field,
            ),
            Path("tidy", "Clean up token storage.", ops(update=tidy)),
        ]

    async def _revoke(self, entry: TokenEntry) -> None:
        if entry.type == "batch":
            raise InvalidRequest("batch tokens cannot be revoked")
        await self.tokens.revoke_tree(entry)
