"""What kubernetes logins hand to identity: the alias name follows ``alias_name_source``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hush.auth.kubernetes import KubernetesBackend
from hush.core.request import Operation
from tests.support.tokenreview import Account, FakeTokenReview
from tests.unit.auth.helpers import call, mount, unsealed_storage


@pytest.fixture(scope="module")
def api() -> Iterator[FakeTokenReview]:
    server = FakeTokenReview(reviewer_jwt="reviewer").start()
    server.accounts["pod-token"] = Account("prod", "web", "uid-123", ("hush",))
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("source", "alias"), [("serviceaccount_uid", "uid-123"), ("serviceaccount_name", "prod/web")]
)
def test_alias_name_source(api: FakeTokenReview, source: str, alias: str) -> None:
    async def scenario() -> None:
        _, barrier = await unsealed_storage()
        backend = await mount(KubernetesBackend, barrier, "kubernetes/")
        await call(
            backend,
            Operation.UPDATE,
            "config",
            {
                "kubernetes_host": api.url,
                "kubernetes_ca_cert": api.ca_pem,
                "token_reviewer_jwt": "reviewer",
            },
        )
        await call(
            backend,
            Operation.UPDATE,
            "role/web",
            {
                "bound_service_account_names": "web",
                "bound_service_account_namespaces": "prod",
                "audience": "hush",
                "alias_name_source": source,
            },
        )
        response = await call(
            backend, Operation.UPDATE, "login", {"role": "web", "jwt": "pod-token"}
        )
        assert response is not None and response.login is not None
        assert response.login.alias_name == alias
        assert response.login.display_name == "prod-web"
        assert response.login.metadata["service_account_uid"] == "uid-123"

    asyncio.run(scenario())
