"""The kubernetes auth method: pods log in with their service-account JWT (Vault's ``kubernetes``).

``config`` says where the API server is; ``role/:name`` binds service-account names and
namespaces; ``login`` (role, jwt) asks the API server's TokenReview API whether the JWT is valid
and whose it is (:mod:`.review`), then checks the role's bindings against the API server's
answer. Refusals of the token itself are 403 ``permission denied`` as in Vault, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from hush.auth.kubernetes.config import CONFIG_FIELDS, KubernetesConfig, parse_config
from hush.auth.kubernetes.review import ReviewFailed, ServiceAccount, review_token
from hush.auth.kubernetes.roles import ROLE_FIELDS, KubernetesRole, bound, write_role
from hush.auth.named_roles import RolePaths, RoleStore
from hush.auth.token_fields import address_allowed
from hush.core.errors import InvalidRequest, PermissionDenied
from hush.core.request import Operation, Request, Response
from hush.crypto import SecretBytes
from hush.framework.backend import Backend, BackendContext
from hush.framework.fields import Field, FieldData, FieldType
from hush.framework.path import OperationSpec, Path

__all__ = ["KubernetesBackend"]

CONFIG_KEY: Final = "config"


class KubernetesBackend(Backend):
    """Authenticate Kubernetes service accounts through the TokenReview API."""

    type_name = "kubernetes"
    synopsis = "Authenticate Kubernetes service accounts with their JWT (TokenReview)."
    unauthenticated = ("login",)

    def __init__(self, context: BackendContext) -> None:
        self.roles = RoleStore(context.storage, KubernetesRole)
        super().__init__(context)

    def paths(self) -> Sequence[Path]:
        """Every endpoint, in routing order."""
        return [
            Path(
                "config",
                "Configures the JWT public key and Kubernetes API information.",
                {
                    Operation.READ: OperationSpec(self._read_config, "Read the configuration."),
                    Operation.UPDATE: OperationSpec(self._write_config, "Configure."),
                    Operation.CREATE: OperationSpec(self._write_config, "Configure."),
                },
                CONFIG_FIELDS,
                exists=self._config_exists,
            ),
            *RolePaths(self.roles, ROLE_FIELDS, write_role).paths(),
            Path(
                "login",
                "Authenticates Kubernetes service accounts with Hush.",
                {Operation.UPDATE: OperationSpec(self._login, "Log in with a service account.")},
                {
                    "role": Field(
                        FieldType.LOWER_STRING,
                        "Name of the role against which the login is being attempted.",
                    ),
                    "jwt": Field(
                        FieldType.STRING,
                        "A signed JWT for authenticating a service account.",
                        sensitive=True,
                        max_length=16 * 1024,
                    ),
                },
            ),
        ]

    async def config(self) -> KubernetesConfig | None:
        """The stored configuration, if any."""
        blob = await self.storage.get(CONFIG_KEY)
        return KubernetesConfig.from_bytes(blob) if blob is not None else None

    async def _config_exists(self, request: Request, fields: FieldData) -> bool:
        return await self.storage.get(CONFIG_KEY) is not None

    async def _read_config(self, request: Request, fields: FieldData) -> Response | None:
        config = await self.config()
        return Response(data=config.render()) if config is not None else None

    async def _write_config(self, request: Request, fields: FieldData) -> None:
        await self.storage.put(CONFIG_KEY, parse_config(fields).to_bytes())

    async def _login(self, request: Request, fields: FieldData) -> Response:
        role_name = fields.string("role")
        if not role_name:
            raise InvalidRequest("missing role")
        jwt = fields.string("jwt").strip()
        if not jwt:
            raise InvalidRequest("missing jwt")
        role = await self.roles.get(role_name)
        if role is None:
            raise InvalidRequest(f'invalid role name "{role_name}"')
        if not address_allowed(request.remote_addr, role.token.bound_cidrs):
            raise PermissionDenied
        config = await self.config()
        if config is None:
            raise InvalidRequest("could not load backend configuration")
        token = SecretBytes(jwt.encode())
        account = await self._review(config, role, token)
        if not bound(role.bound_service_account_names, account.name):
            raise PermissionDenied("permission denied: service account name not authorized")
        if not bound(role.bound_service_account_namespaces, account.namespace):
            raise PermissionDenied("permission denied: namespace not authorized")
        alias = (
            account.uid
            if role.alias_name_source == "serviceaccount_uid"
            else f"{account.namespace}/{account.name}"
        )
        metadata = {
            "role": role.name,
            "service_account_name": account.name,
            "service_account_namespace": account.namespace,
            "service_account_uid": account.uid,
            "service_account_secret_name": account.secret_name,
        }
        display = f"{account.namespace}-{account.name}"
        return Response(login=role.token.to_login(display, alias, metadata))

    @staticmethod
    async def _review(
        config: KubernetesConfig, role: KubernetesRole, token: SecretBytes
    ) -> ServiceAccount:
        audiences = (role.audience,) if role.audience else ()
        bearer = config.reviewer() or token
        try:
            account = await review_token(
                config.kubernetes_host, config.ca_pem(), bearer, token, audiences
            )
        except ReviewFailed as exc:
            raise PermissionDenied(f"permission denied: {exc}") from None
        if role.audience and role.audience not in account.audiences:
            raise PermissionDenied("permission denied: invalid audience")
        return account
