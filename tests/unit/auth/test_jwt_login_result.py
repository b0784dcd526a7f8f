"""What jwt logins hand to identity: alias name, metadata and group aliases in the LoginResult.

In-process over a real barrier with static PEM keys, so the LoginResult (which the HTTP answer
only partly shows until identity lands) can be inspected directly.
"""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hush.auth.jwt import JWTBackend
from hush.core.errors import InvalidRequest
from hush.core.request import Operation
from tests.unit.auth.helpers import call, mount, unsealed_storage

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def _token(**claims: object) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 60, "aud": "hush", **claims}, KEY, "RS256")


async def _backend() -> JWTBackend:
    _, barrier = await unsealed_storage()
    backend = await mount(JWTBackend, barrier, "jwt/")
    await call(backend, Operation.UPDATE, "config", {"jwt_validation_pubkeys": [PEM]})
    await call(
        backend,
        Operation.UPDATE,
        "role/team",
        {
            "role_type": "jwt",
            "user_claim": "/user/login",
            "user_claim_json_pointer": True,
            "bound_audiences": "hush",
            "groups_claim": "/user/teams",
            "claim_mappings": {"email": "email", "/user/id": "user_id"},
            "token_policies": "reader",
            "token_ttl": "10m",
        },
    )
    return backend


def test_login_fills_alias_metadata_and_group_aliases() -> None:
    async def scenario() -> None:
        backend = await _backend()
        token = _token(email="a@x.io", user={"login": "alice", "id": 7, "teams": ["eng", "ops"]})
        response = await call(backend, Operation.UPDATE, "login", {"role": "team", "jwt": token})
        assert response is not None and response.login is not None
        login = response.login
        assert login.alias_name == "alice" and login.display_name == "alice"
        assert login.group_aliases == ("eng", "ops")
        assert login.metadata == {"email": "a@x.io", "user_id": "7", "role": "team"}
        assert login.policies == ("reader",) and login.ttl == 600

    asyncio.run(scenario())


def test_missing_groups_claim_refuses_the_login() -> None:
    async def scenario() -> None:
        backend = await _backend()
        token = _token(user={"login": "alice"})
        with pytest.raises(InvalidRequest, match='failed to fetch groups: "/user/teams" claim'):
            await call(backend, Operation.UPDATE, "login", {"role": "team", "jwt": token})

    asyncio.run(scenario())


def test_default_role_is_used_when_none_is_named() -> None:
    async def scenario() -> None:
        backend = await _backend()
        with pytest.raises(InvalidRequest, match="missing role"):
            await call(backend, Operation.UPDATE, "login", {"jwt": _token()})
        await call(
            backend,
            Operation.UPDATE,
            "config",
            {"jwt_validation_pubkeys": [PEM], "default_role": "team"},
        )
        token = _token(user={"login": "bob", "teams": "solo"})
        response = await call(backend, Operation.UPDATE, "login", {"jwt": token})
        assert response is not None and response.login is not None
        assert response.login.alias_name == "bob" and response.login.group_aliases == ("solo",)

    asyncio.run(scenario())
