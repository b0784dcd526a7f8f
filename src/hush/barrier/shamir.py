"""Shamir secret sharing over GF(2^8), share-compatible with Vault's ``shamir`` package.

Each byte of the secret is the constant term of its own random polynomial of degree
``threshold - 1``; a share holds that polynomial evaluated at one x-coordinate for every byte,
followed by the x-coordinate itself (``y-bytes || x``, as Vault lays them out). The field is the
AES field: polynomial basis, reduced by x^8 + x^4 + x^3 + x + 1 (0x11b).

One Hush-specific case: a single share with a threshold of one is the secret itself, unsplit
(``split(secret, 1, 1) == [secret]``, and ``combine`` returns a lone share as is). Vault does the
same one level up, in ``sys/init``, when asked for one key share.

Timing: Python cannot promise constant time. The code avoids branches and early exits that depend
on secret bytes; it multiplies through log/exp tables (as Vault's shamir package did for years),
so secret bytes do index tables, and zero operands are masked out arithmetically rather than
tested with ``if``. X-coordinates are public (each share carries its own), so loops over them may
branch freely.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

__all__ = ["combine", "split"]

_MAX_PARTS = 255
_FIELD_POLYNOMIAL = 0x11B


def _build_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return (exp, log) tables for the generator 0x03 of the AES field."""
    exp = [0] * 255
    log = [0] * 256  # log[0] is never meaningful; products with zero are masked instead.
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        doubled = value << 1
        if doubled & 0x100:
            doubled ^= _FIELD_POLYNOMIAL
        value ^= doubled  # value * 3 == value * 2 + value
    return tuple(exp), tuple(log)


_EXP, _LOG = _build_tables()


def _nonzero_mask(value: int) -> int:
    """0xFF if 0 < value < 256 else 0, computed without a branch."""
    return -((value + 0xFF) >> 8) & 0xFF


def _mul(a: int, b: int) -> int:
    """Multiply two field elements (either may be secret)."""
    product = _EXP[(_LOG[a] + _LOG[b]) % 255]
    return product & _nonzero_mask(a) & _nonzero_mask(b)


def _div(a: int, b: int) -> int:
    """Divide ``a`` by the non-zero, public field element ``b``."""
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(2^8)")
    return _EXP[(_LOG[a] - _LOG[b]) % 255] & _nonzero_mask(a)


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    """Evaluate the polynomial with ``coefficients`` (constant term first) at ``x`` (Horner)."""
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient
    return result


def _shares_from_polynomials(
    secret: bytes, x_coordinates: Sequence[int], higher_coefficients: Sequence[bytes]
) -> list[bytes]:
    """Evaluate one polynomial per secret byte at each x; return shares as ``y-bytes || x``.

    ``higher_coefficients[i]`` holds the coefficients of x^1 .. x^(threshold-1) for byte ``i``.
    Deterministic, so the known-answer tests can drive it with fixed polynomials.
    """
    shares = [bytearray(len(secret) + 1) for _ in x_coordinates]
    for index, (intercept, higher) in enumerate(zip(secret, higher_coefficients, strict=True)):
        coefficients = (intercept, *higher)
        for share, x in zip(shares, x_coordinates, strict=True):
            share[index] = _evaluate(coefficients, x)
    for share, x in zip(shares, x_coordinates, strict=True):
        share[-1] = x
    return [bytes(share) for share in shares]


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it.

    Each share is ``len(secret) + 1`` bytes, the last being its x-coordinate. Requires
    ``2 <= threshold <= parts <= 255`` like Vault, except that ``parts == threshold == 1``
    returns ``[secret]`` unsplit. Raises :class:`ValueError` for an empty secret or bad counts.
    """
    if not secret:
        raise ValueError("cannot split an empty secret")
    if parts == threshold == 1:
        return [bytes(secret)]
    if parts < threshold:
        raise ValueError("parts cannot be less than threshold")
    if parts > _MAX_PARTS:
        raise ValueError("parts cannot exceed 255")
    if threshold < 2:
        raise ValueError("threshold must be at least 2")
    # Distinct random non-zero x-coordinates: Vault takes a random permutation of 1..255.
    x_coordinates = secrets.SystemRandom().sample(range(1, _MAX_PARTS + 1), parts)
    higher_coefficients = [secrets.token_bytes(threshold - 1) for _ in secret]
    return _shares_from_polynomials(secret, x_coordinates, higher_coefficients)


def combine(shares: Sequence[bytes]) -> bytes:
    """Recover the secret from shares produced by :func:`split` (Lagrange interpolation at 0).

    A single share is returned as is (the 1-of-1 case of :func:`split`). With too few shares of a
    larger threshold the result is a wrong value, not an error: Shamir cannot tell.
    Raises :class:`ValueError` for no shares, shares of unequal length, shares shorter than two
    bytes, and duplicate x-coordinates.
    """
    if not shares:
        raise ValueError("less than two parts cannot be used to reconstruct the secret")
    if len(shares) == 1:
        return bytes(shares[0])
    length = len(shares[0])
    if length < 2:
        raise ValueError("parts must be at least two bytes")
    if any(len(share) != length for share in shares):
        raise ValueError("all parts must be the same length")
    x_coordinates = [share[-1] for share in shares]
    if len(set(x_coordinates)) != len(x_coordinates):
        raise ValueError("duplicate part detected")
    if 0 in x_coordinates:
        raise ValueError("invalid part: x-coordinate 0 is not allowed")

    # Lagrange basis at 0 depends only on the public x-coordinates:
    # basis_i = prod_{j != i} x_j / (x_i - x_j), and subtraction is XOR in GF(2^8).
    bases = []
    for i, x_i in enumerate(x_coordinates):
        basis = 1
        for j, x_j in enumerate(x_coordinates):
            if i != j:
                basis = _mul(basis, _div(x_j, x_i ^ x_j))
        bases.append(basis)

    secret = bytearray(length - 1)
    for index in range(length - 1):
        value = 0
        for share, basis in zip(shares, bases, strict=True):
            value ^= _mul(share[index], basis)
        secret[index] = value
    return bytes(secret)
