"""Shamir secret sharing: known answers, a second implementation, and properties.

The vectors in tests/vectors/shamir.json were computed with the bitwise reference below, which
shares no code and no technique with the log/exp tables in hush.barrier.shamir. Each known
answer is checked against both, so a bug would have to appear identically in two unrelated
implementations to go unnoticed.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hush.barrier import shamir

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "shamir.json").read_text(encoding="utf-8")
)
PROPERTIES = settings(deadline=None, max_examples=60)


def reference_mul(a: int, b: int) -> int:
    """Carry-less shift-and-add multiplication in the AES field (no tables)."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11B
        b >>= 1
    return product


def reference_evaluate(coefficients: list[int], x: int) -> int:
    """Sum of c_k * x^k, building the powers of x as it goes (no Horner scheme)."""
    total = 0
    power = 1
    for coefficient in coefficients:
        total ^= reference_mul(coefficient, power)
        power = reference_mul(power, x)
    return total


def reference_shares(secret: bytes, xs: list[int], coefficients: list[bytes]) -> list[bytes]:
    """Shares as y-bytes || x-byte, computed with the reference arithmetic."""
    return [
        bytes(
            reference_evaluate([byte, *higher], x)
            for byte, higher in zip(secret, coefficients, strict=True)
        )
        + bytes([x])
        for x in xs
    ]


def split_case_ids() -> list[str]:
    return [case["name"] for case in VECTORS["split"]]


# --- GF(2^8) known answers ---------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["gf256_multiply"], ids=lambda v: f"{v['a']}*{v['b']}")
def test_field_multiplication_known_answers(vector: dict[str, str]) -> None:
    a, b, product = (int(vector[k], 16) for k in ("a", "b", "product"))
    assert shamir._mul(a, b) == product
    assert shamir._mul(b, a) == product
    assert reference_mul(a, b) == product


@pytest.mark.parametrize("vector", VECTORS["gf256_divide"], ids=lambda v: f"{v['a']}/{v['b']}")
def test_field_division_known_answers(vector: dict[str, str]) -> None:
    a, b, quotient = (int(vector[k], 16) for k in ("a", "b", "quotient"))
    assert shamir._div(a, b) == quotient
    assert reference_mul(quotient, b) == a


def test_table_multiplication_matches_reference_for_every_pair() -> None:
    mismatches = [
        (a, b) for a in range(256) for b in range(256) if shamir._mul(a, b) != reference_mul(a, b)
    ]
    assert mismatches == []


def test_every_nonzero_element_has_an_inverse() -> None:
    for a in range(1, 256):
        assert reference_mul(a, shamir._div(1, a)) == 1


def test_division_by_zero_is_refused() -> None:
    with pytest.raises(ZeroDivisionError):
        shamir._div(1, 0)


# --- split/combine known answers ----------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["split"], ids=split_case_ids())
def test_shares_match_vectors_in_both_implementations(case: dict[str, Any]) -> None:
    secret = bytes.fromhex(case["secret"])
    coefficients = [bytes.fromhex(c) for c in case["coefficients"]]
    expected = [bytes.fromhex(s) for s in case["shares"]]
    assert all(len(c) == case["threshold"] - 1 for c in coefficients)

    assert shamir._shares_from_polynomials(secret, case["x"], coefficients) == expected
    assert reference_shares(secret, case["x"], coefficients) == expected


@pytest.mark.parametrize("case", VECTORS["split"], ids=split_case_ids())
def test_vector_shares_combine_to_the_secret(case: dict[str, Any]) -> None:
    secret = bytes.fromhex(case["secret"])
    shares = [bytes.fromhex(s) for s in case["shares"]]
    threshold = case["threshold"]
    assert shamir.combine(shares[:threshold]) == secret
    assert shamir.combine(list(reversed(shares))[:threshold]) == secret
    assert shamir.combine(shares) == secret


def test_hand_checkable_vector_is_what_the_arithmetic_says() -> None:
    # f(x) = 0x2a + 1*x, and addition is XOR: the shares are 0x2a ^ x.
    case = VECTORS["split"][0]
    assert case["shares"] == [bytes([0x2A ^ x, x]).hex() for x in case["x"]]


def test_every_three_of_five_shares_recover_the_secret() -> None:
    # The exhaustive check of Vault's TestCombine: all ordered choices of 3 out of 5.
    shares = shamir.split(b"test", 5, 3)
    for chosen in itertools.permutations(shares, 3):
        assert shamir.combine(chosen) == b"test"


# --- split behaviour ----------------------------------------------------------------------------


def test_shares_are_secret_length_plus_x_tag() -> None:
    shares = shamir.split(b"test", 5, 3)
    assert len(shares) == 5
    assert all(len(share) == 5 for share in shares)
    xs = [share[-1] for share in shares]
    assert len(set(xs)) == 5
    assert 0 not in xs


def test_all_255_parts_use_every_nonzero_x() -> None:
    shares = shamir.split(b"k", 255, 2)
    assert sorted(share[-1] for share in shares) == list(range(1, 256))
    assert shamir.combine([shares[0], shares[254]]) == b"k"


def test_one_of_one_is_the_secret_unsplit() -> None:
    assert shamir.split(b"root key", 1, 1) == [b"root key"]
    assert shamir.combine([b"root key"]) == b"root key"


@pytest.mark.parametrize(
    ("parts", "threshold", "message"),
    [
        (0, 0, "threshold must be at least 2"),
        (2, 3, "parts cannot be less than threshold"),
        (1000, 3, "parts cannot exceed 255"),
        (256, 256, "parts cannot exceed 255"),
        (10, 1, "threshold must be at least 2"),
        (3, 1, "threshold must be at least 2"),
    ],
)
def test_split_rejects_bad_counts(parts: int, threshold: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shamir.split(b"test", parts, threshold)


@pytest.mark.parametrize(("parts", "threshold"), [(3, 2), (1, 1)])
def test_split_rejects_an_empty_secret(parts: int, threshold: int) -> None:
    with pytest.raises(ValueError, match="cannot split an empty secret"):
        shamir.split(b"", parts, threshold)


# --- combine errors -----------------------------------------------------------------------------


def test_combine_rejects_no_shares() -> None:
    with pytest.raises(ValueError, match="less than two parts"):
        shamir.combine([])


def test_combine_rejects_shares_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="all parts must be the same length"):
        shamir.combine([b"foo", b"ba"])


def test_combine_rejects_one_byte_shares() -> None:
    with pytest.raises(ValueError, match="parts must be at least two bytes"):
        shamir.combine([b"f", b"b"])


def test_combine_rejects_duplicate_shares() -> None:
    with pytest.raises(ValueError, match="duplicate part detected"):
        shamir.combine([b"foo", b"foo"])


def test_combine_rejects_x_coordinate_zero() -> None:
    # split never produces x = 0; a share claiming it would be taken as the secret itself.
    with pytest.raises(ValueError, match="x-coordinate 0"):
        shamir.combine([b"ab\x00", b"cd\x01"])


def test_combine_errors_do_not_contain_share_bytes() -> None:
    shares = shamir.split(b"SECRET-MATERIAL", 3, 2)
    for bad in ([shares[0], shares[0]], [shares[0], shares[1][:-2]]):
        with pytest.raises(ValueError) as caught:
            shamir.combine(bad)
        assert shares[0].hex() not in str(caught.value)
        assert "SECRET" not in str(caught.value)


# --- properties ---------------------------------------------------------------------------------


@st.composite
def split_setups(draw: st.DrawFn) -> tuple[bytes, int, int]:
    secret = draw(st.binary(min_size=1, max_size=48))
    threshold = draw(st.integers(min_value=2, max_value=12))
    parts = draw(st.integers(min_value=threshold, max_value=16))
    return secret, parts, threshold


@PROPERTIES
@given(setup=split_setups(), data=st.data())
def test_any_threshold_subset_recovers_the_secret(
    setup: tuple[bytes, int, int], data: st.DataObject
) -> None:
    secret, parts, threshold = setup
    shares = shamir.split(secret, parts, threshold)
    size = data.draw(st.integers(min_value=threshold, max_value=parts), label="subset size")
    subset = data.draw(st.permutations(shares), label="order")[:size]
    assert shamir.combine(subset) == secret


@PROPERTIES
@given(
    secret=st.binary(min_size=32, max_size=32),
    threshold=st.integers(min_value=3, max_value=10),
    data=st.data(),
)
def test_fewer_than_threshold_shares_give_a_different_value(
    secret: bytes, threshold: int, data: st.DataObject
) -> None:
    # With 32 random coefficient bytes per missing share, a match has probability 2^-256.
    shares = shamir.split(secret, threshold + 2, threshold)
    size = data.draw(st.integers(min_value=2, max_value=threshold - 1), label="subset size")
    subset = data.draw(st.permutations(shares), label="order")[:size]
    recovered = shamir.combine(subset)
    assert len(recovered) == len(secret)
    assert recovered != secret


@PROPERTIES
@given(secret=st.binary(min_size=1, max_size=32), data=st.data())
def test_a_repeated_x_coordinate_is_rejected(secret: bytes, data: st.DataObject) -> None:
    shares = shamir.split(secret, 5, 3)
    original = data.draw(st.sampled_from(shares), label="repeated share")
    # Same x, any y bytes: still a duplicate part.
    forged = data.draw(st.binary(min_size=len(secret), max_size=len(secret))) + original[-1:]
    with pytest.raises(ValueError, match="duplicate part detected"):
        shamir.combine([*shares, forged])


@PROPERTIES
@given(
    secret=st.binary(min_size=1, max_size=32),
    cut=st.integers(min_value=1, max_value=33),
    data=st.data(),
)
def test_shares_of_the_wrong_length_are_rejected(
    secret: bytes, cut: int, data: st.DataObject
) -> None:
    shares = shamir.split(secret, 4, 2)
    victim = data.draw(st.integers(min_value=0, max_value=3), label="victim")
    extra = data.draw(st.booleans(), label="lengthen instead of shorten")
    altered = list(shares)
    if extra:
        altered[victim] = bytes(cut) + shares[victim]
    else:
        altered[victim] = shares[victim][min(cut, len(shares[victim]) - 1) :]
    with pytest.raises(ValueError, match=r"same length|at least two bytes"):
        shamir.combine(altered)
