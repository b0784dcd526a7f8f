"""GetRandomPassword with every option Secrets Manager has, from the OS's CSPRNG."""

from __future__ import annotations

import secrets
import string
from typing import Any, Final

from hush.engines.awssm.env import Body
from hush.engines.awssm.errors import InvalidParameter
from hush.engines.awssm.validate import boolean, integer, text

__all__ = ["PUNCTUATION", "get_random_password"]

#: The punctuation Secrets Manager draws from.
PUNCTUATION: Final = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def get_random_password(body: Body) -> dict[str, Any]:
    """GetRandomPassword."""
    length = integer(body, "PasswordLength", 1, 4096, 32) or 32
    exclude = set(text(body, "ExcludeCharacters", max_len=4096, min_len=0) or "")
    classes = []
    if not boolean(body, "ExcludeLowercase", False):
        classes.append(string.ascii_lowercase)
    if not boolean(body, "ExcludeUppercase", False):
        classes.append(string.ascii_uppercase)
    if not boolean(body, "ExcludeNumbers", False):
        classes.append(string.digits)
    if not boolean(body, "ExcludePunctuation", False):
        classes.append(PUNCTUATION)
    if boolean(body, "IncludeSpace", False):
        classes.append(" ")
    pools = [[c for c in chars if c not in exclude] for chars in classes]
    pools = [pool for pool in pools if pool]
    if not pools:
        raise InvalidParameter("The password cannot be generated: every character is excluded.")
    require_each = boolean(body, "RequireEachIncludedType", True)
    if require_each and length < len(pools):
        raise InvalidParameter(
            f"PasswordLength must be at least {len(pools)} to include each character type."
        )
    alphabet = [c for pool in pools for c in pool]
    chosen = [secrets.choice(pool) for pool in pools] if require_each else []
    chosen += [secrets.choice(alphabet) for _ in range(length - len(chosen))]
    # Fisher-Yates with the CSPRNG so the required characters land anywhere.
    for i in range(len(chosen) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chosen[i], chosen[j] = chosen[j], chosen[i]
    return {"RandomPassword": "".join(chosen)}
