"""Which rotator a secret's ``RotationLambdaARN`` names, and whether Hush can run it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from hush.core.errors import Unsupported
from hush.crypto import SecretBytes
from hush.engines.awssm.errors import InvalidParameter
from hush.engines.awssm.rotators import (
    RANDOM_ROTATOR,
    RandomPasswordRotator,
    Rotator,
    WebhookRotator,
)
from hush.engines.awssm.rotators_mariadb import (
    MARIADB_ALTERNATING,
    MARIADB_SINGLE_USER,
    MariaDBRotator,
)
from hush.engines.awssm.rotators_postgres import ALTERNATING, SINGLE_USER, PostgresRotator
from hush.engines.awssm.store import SecretValue

__all__ = ["BUILT_IN", "check_rotator", "choose_rotator"]

BUILT_IN: Final = (
    RANDOM_ROTATOR,
    SINGLE_USER,
    ALTERNATING,
    MARIADB_SINGLE_USER,
    MARIADB_ALTERNATING,
)


def check_rotator(name: str) -> None:
    """Refuse a ``RotationLambdaARN`` that is neither built in nor an ``https://`` webhook."""
    if name in BUILT_IN or name.startswith("https://"):
        return
    if name.startswith("arn:aws:lambda:"):
        raise Unsupported(
            "Hush cannot run Lambda functions: give an https:// webhook URL as "
            f"RotationLambdaARN, or {RANDOM_ROTATOR} (the default) for random passwords"
        )
    raise InvalidParameter(
        "RotationLambdaARN must be an https:// webhook URL or one of the built-in "
        f"rotators: {', '.join(BUILT_IN)}"
    )


async def choose_rotator(
    name: str,
    current_value: Callable[[str], Awaitable[SecretValue | None]],
    webhook_key: Callable[[], Awaitable[SecretBytes]],
    ca_file: str | None,
) -> Rotator:
    """The rotator ``name`` names; database rotators read other secrets via ``current_value``."""
    if not name or name == RANDOM_ROTATOR:
        return RandomPasswordRotator()
    if name in (SINGLE_USER, ALTERNATING):
        return PostgresRotator(name, current_value)
    if name in (MARIADB_SINGLE_USER, MARIADB_ALTERNATING):
        return MariaDBRotator(name, current_value)
    return WebhookRotator(name, await webhook_key(), ca_file)
