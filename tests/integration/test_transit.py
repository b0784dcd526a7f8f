"""The transit engine through hvac against a real dev server: every key type, rotation rules,
derivation, batches, error statuses, export, backup and BYOK import.

Where a wire format matters, the test checks it with ``cryptography`` locally: an exported AES
key opens Hush's ciphertext, a public key from ``read_key`` verifies Hush's signatures, and a key
wrapped per Vault's BYOK scheme encrypts data the test can decrypt with the original key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from typing import Any

import hvac
import hvac.exceptions
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from tests.support.server import HushProcess

MOUNT = "transit"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def payload(value: str) -> bytes:
    """The bytes after ``vault:vN:``."""
    return unb64(value.split(":", 2)[2])


@pytest.fixture(scope="module")
def client(dev_server: HushProcess) -> Iterator[hvac.Client]:
    root = dev_server.client()
    root.sys.enable_secrets_engine("transit", path=MOUNT)
    yield root


@pytest.fixture
def transit(client: hvac.Client) -> Any:
    """The transit API, with the shared keys the tests below use (create is idempotent, so each
    xdist worker gets its own on its own server)."""
    api = client.secrets.transit
    api.create_key("batch")
    for key_type in ("ed25519", "ecdsa-p256", "rsa-2048"):
        api.create_key(f"asym-{key_type}", key_type=key_type)
    return api


def create(client: hvac.Client, name: str, key_type: str, **settings: Any) -> dict[str, Any]:
    """Create a key; hvac's create_key refuses aes128-gcm96 and hmac, so write the path."""
    result = client.write_data(f"{MOUNT}/keys/{name}", data={"type": key_type, **settings})
    assert isinstance(result, dict)
    return result


def error_of(excinfo: pytest.ExceptionInfo[hvac.exceptions.VaultError]) -> str:
    return ", ".join(excinfo.value.errors or [])


# -- every key type ------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"])
def test_symmetric_keys_round_trip(client: hvac.Client, transit: Any, key_type: str) -> None:
    name = f"sym-{key_type}"
    created = create(client, name, key_type, exportable=True)["data"]
    assert created["type"] == key_type and created["supports_encryption"]
    assert created["supports_derivation"] and not created["supports_signing"]
    assert isinstance(created["keys"]["1"], int)
    secret = os.urandom(40)
    encrypted = transit.encrypt_data(name, b64(secret), associated_data=b64(b"aad"))["data"]
    assert encrypted["ciphertext"].startswith("vault:v1:") and encrypted["key_version"] == 1
    blob = payload(encrypted["ciphertext"])
    assert len(blob) == 12 + len(secret) + 16  # nonce || ciphertext || tag
    opened = transit.decrypt_data(name, encrypted["ciphertext"], associated_data=b64(b"aad"))
    assert unb64(opened["data"]["plaintext"]) == secret
    with pytest.raises(hvac.exceptions.InvalidRequest) as wrong_aad:
        transit.decrypt_data(name, encrypted["ciphertext"], associated_data=b64(b"other"))
    assert "message authentication failed" in error_of(wrong_aad)
    wrapped = transit.generate_data_key(name, key_type="wrapped", bits=512)["data"]
    assert "plaintext" not in wrapped
    assert len(unb64(transit.decrypt_data(name, wrapped["ciphertext"])["data"]["plaintext"])) == 64
    plain = transit.generate_data_key(name, key_type="plaintext", bits=128)["data"]
    assert (
        transit.decrypt_data(name, plain["ciphertext"])["data"]["plaintext"] == plain["plaintext"]
    )
    if key_type != "chacha20-poly1305":  # the exported key opens the ciphertext with AES-GCM
        exported = transit.export_key(name, key_type="encryption-key", version=1)["data"]
        key = unb64(exported["keys"]["1"])
        assert len(key) == (16 if key_type == "aes128-gcm96" else 32)
        assert AESGCM(key).decrypt(blob[:12], blob[12:], b"aad") == secret


@pytest.mark.parametrize(
    "key_type", ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072"]
)
def test_asymmetric_keys_sign_and_verify(transit: Any, key_type: str) -> None:
    name = f"asym-{key_type}"
    transit.create_key(name, key_type=key_type)  # already there for three of the types
    info = transit.read_key(name)["data"]
    assert info["supports_signing"] and info["type"] == key_type
    public_text = info["keys"]["1"]["public_key"]
    message = b"the message"
    for hash_algorithm in ("sha2-256", "sha2-512"):
        signed = transit.sign_data(name, b64(message), hash_algorithm=hash_algorithm)["data"]
        assert signed["signature"].startswith("vault:v1:") and signed["key_version"] == 1
        verdict = transit.verify_signed_data(
            name, b64(message), signature=signed["signature"], hash_algorithm=hash_algorithm
        )
        assert verdict["data"]["valid"] is True
        tampered = transit.verify_signed_data(
            name, b64(b"another"), signature=signed["signature"], hash_algorithm=hash_algorithm
        )
        assert tampered["data"]["valid"] is False
        _verify_locally(
            key_type, public_text, message, payload(signed["signature"]), hash_algorithm
        )


def _verify_locally(
    key_type: str, public_text: str, message: bytes, signature: bytes, hash_algorithm: str
) -> None:
    algorithm = hashes.SHA256() if hash_algorithm == "sha2-256" else hashes.SHA512()
    if key_type == "ed25519":
        ed25519.Ed25519PublicKey.from_public_bytes(unb64(public_text)).verify(signature, message)
        return
    public = serialization.load_pem_public_key(public_text.encode())
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(algorithm))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.AUTO)
        public.verify(signature, message, pss, algorithm)


def test_ecdsa_jws_marshaling_and_rsa_options(transit: Any) -> None:
    data = b64(b"jws input")
    jws = transit.sign_data("asym-ecdsa-p256", data, marshaling_algorithm="jws")["data"]
    raw = jws["signature"].split(":", 2)[2]
    assert "=" not in raw and len(base64.urlsafe_b64decode(raw + "==")) == 64  # r || s
    assert transit.verify_signed_data(
        "asym-ecdsa-p256", data, signature=jws["signature"], marshaling_algorithm="jws"
    )["data"]["valid"]
    for scheme in ("pss", "pkcs1v15"):
        signed = transit.sign_data("asym-rsa-2048", data, signature_algorithm=scheme)["data"]
        assert transit.verify_signed_data(
            "asym-rsa-2048", data, signature=signed["signature"], signature_algorithm=scheme
        )["data"]["valid"]


def test_rsa_keys_encrypt_and_the_single_rsa_4096_key_works(transit: Any) -> None:
    transit.create_key("rsa4k", key_type="rsa-4096")
    for name in ("asym-rsa-2048", "rsa4k"):
        sealed = transit.encrypt_data(name, b64(b"rsa secret"))["data"]["ciphertext"]
        assert len(payload(sealed)) in (256, 512)
        assert unb64(transit.decrypt_data(name, sealed)["data"]["plaintext"]) == b"rsa secret"
    signed = transit.sign_data("rsa4k", b64(b"m"), hash_algorithm="sha2-384")["data"]["signature"]
    assert transit.verify_signed_data(
        "rsa4k", b64(b"m"), signature=signed, hash_algorithm="sha2-384"
    )["data"]["valid"]


def test_hmac_key_type_and_hmac_of_any_key(client: hvac.Client, transit: Any) -> None:
    create(client, "mac", "hmac", exportable=True)
    for name in ("mac", "asym-ed25519"):
        value = transit.generate_hmac(name, b64(b"data"), algorithm="sha2-512")["data"]["hmac"]
        assert value.startswith("vault:v1:") and len(payload(value)) == 64
        ok = transit.verify_signed_data(name, b64(b"data"), hmac=value, hash_algorithm="sha2-512")
        assert ok["data"]["valid"] is True
        bad = transit.verify_signed_data(name, b64(b"datb"), hmac=value, hash_algorithm="sha2-512")
        assert bad["data"]["valid"] is False
    key = unb64(transit.export_key("mac", key_type="hmac-key")["data"]["keys"]["1"])
    value = transit.generate_hmac("mac", b64(b"data"))["data"]["hmac"]
    assert payload(value) == hmac.new(key, b"data", hashlib.sha256).digest()
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        transit.encrypt_data("mac", b64(b"x"))
    assert "message encryption not supported for key type hmac" in error_of(refused)


# -- versions ------------------------------------------------------------------------------------


def test_rotation_min_decryption_version_and_rewrap(transit: Any) -> None:
    transit.create_key("rotating")
    old = transit.encrypt_data("rotating", b64(b"v1 data"))["data"]["ciphertext"]
    transit.rotate_key("rotating")
    rotated = transit.rotate_key("rotating")
    assert rotated["data"]["latest_version"] == 3
    assert unb64(transit.decrypt_data("rotating", old)["data"]["plaintext"]) == b"v1 data"
    rewrapped = transit.rewrap_data("rotating", old)["data"]
    assert rewrapped["ciphertext"].startswith("vault:v3:") and rewrapped["key_version"] == 3
    transit.update_key_configuration("rotating", min_decryption_version=2)
    with pytest.raises(hvac.exceptions.InvalidRequest) as too_old:
        transit.decrypt_data("rotating", old)
    assert "ciphertext or signature version is disallowed by policy (too old)" in error_of(too_old)
    opened = transit.decrypt_data("rotating", rewrapped["ciphertext"])["data"]["plaintext"]
    assert unb64(opened) == b"v1 data"
    transit.trim_key("rotating", min_version=2)
    info = transit.read_key("rotating")["data"]
    assert sorted(info["keys"]) == ["2", "3"] and info["min_available_version"] == 2
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.update_key_configuration("rotating", min_decryption_version=1)
    with pytest.raises(hvac.exceptions.InvalidRequest) as too_new:
        transit.decrypt_data("rotating", "vault:v9:" + b64(b"x" * 40))
    assert "version is too new" in error_of(too_new)


def test_derived_keys_need_the_right_context(transit: Any) -> None:
    transit.create_key("derived", derived=True)
    with pytest.raises(hvac.exceptions.InvalidRequest) as missing:
        transit.encrypt_data("derived", b64(b"x"))
    assert "missing 'context' for key derivation" in error_of(missing)
    sealed = transit.encrypt_data("derived", b64(b"x"), context=b64(b"user-1"))["data"]
    opened = transit.decrypt_data("derived", sealed["ciphertext"], context=b64(b"user-1"))
    assert unb64(opened["data"]["plaintext"]) == b"x"
    with pytest.raises(hvac.exceptions.InvalidRequest) as wrong:
        transit.decrypt_data("derived", sealed["ciphertext"], context=b64(b"user-2"))
    assert error_of(wrong) == "cipher: message authentication failed"


def test_convergent_encryption_is_deterministic_per_context(transit: Any) -> None:
    transit.create_key("convergent", derived=True, convergent_encryption=True)
    assert transit.read_key("convergent")["data"]["convergent_encryption"] is True
    one, two, other = (
        transit.encrypt_data("convergent", b64(b"same"), context=b64(ctx))["data"]["ciphertext"]
        for ctx in (b"c1", b"c1", b"c2")
    )
    assert one == two != other
    opened = transit.decrypt_data("convergent", one, context=b64(b"c1"))["data"]["plaintext"]
    assert unb64(opened) == b"same"


def test_encrypt_creates_a_missing_key_of_the_requested_type(transit: Any) -> None:
    sealed = transit.encrypt_data("upserted", b64(b"x"), type="chacha20-poly1305")["data"]
    assert transit.read_key("upserted")["data"]["type"] == "chacha20-poly1305"
    assert transit.decrypt_data("upserted", sealed["ciphertext"])["data"]["plaintext"] == b64(b"x")


# -- batches and errors --------------------------------------------------------------------------


def test_batch_with_good_and_bad_items(client: hvac.Client, transit: Any) -> None:
    items = [{"plaintext": b64(b"one")}, {"plaintext": "not base64!"}, {"plaintext": b64(b"3")}]
    # Vault answers a batch with a failed item with 400 and the per-item results.
    with pytest.raises(hvac.exceptions.InvalidRequest) as failed:
        transit.encrypt_data("batch", batch_input=items)
    results = failed.value.json["data"]["batch_results"]
    assert "ciphertext" in results[0] and "ciphertext" in results[2]
    assert results[1]["error"].startswith("illegal base64 data at input byte")
    assert "not base64" not in results[1]["error"]
    accepted = client.write_data(
        f"{MOUNT}/encrypt/batch", data={"batch_input": items, "partial_failure_response_code": 200}
    )["data"]["batch_results"]
    original = accepted[0]["ciphertext"]
    tampered = original[:-4] + ("AAA=" if not original.endswith("AAA=") else "ABA=")
    decrypted = client.write_data(
        f"{MOUNT}/decrypt/batch",
        data={
            "batch_input": [{"ciphertext": accepted[2]["ciphertext"]}, {"ciphertext": tampered}],
            "partial_failure_response_code": 200,
        },
    )["data"]["batch_results"]
    assert unb64(decrypted[0]["plaintext"]) == b"3" and "error" not in decrypted[0]
    assert decrypted[1]["error"] == "cipher: message authentication failed"
    signed = transit.sign_data(
        "asym-ed25519", batch_input=[{"input": b64(b"a")}, {"input": "%%%"}]
    )["data"]["batch_results"]
    assert signed[0]["signature"].startswith("vault:v1:") and "error" in signed[1]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda t: t.decrypt_data("batch", "vault:v1:" + b64(os.urandom(40))), "authentication"),
        (lambda t: t.decrypt_data("batch", "vault:v1:***"), "could not decode base64"),
        (lambda t: t.decrypt_data("batch", "v1:abc"), "no prefix"),
        (lambda t: t.encrypt_data("batch", "@@@"), "illegal base64 data"),
        (lambda t: t.encrypt_data("asym-ed25519", b64(b"x")), "not supported for key type"),
        (lambda t: t.sign_data("batch", b64(b"x")), "does not support signing"),
        (lambda t: t.decrypt_data("nope", "vault:v1:AAAA"), "encryption key not found"),
        (
            lambda t: t.encrypt_data("batch", batch_input=[{"plaintext": ""}] * 10_001),
            "at most 10000",
        ),
    ],
    ids=[
        "tampered",
        "bad-base64",
        "no-prefix",
        "bad-plaintext",
        "wrong-type-encrypt",
        "wrong-type-sign",
        "missing-key",
        "oversized-batch",
    ],
)
def test_bad_requests_are_400_with_a_clear_message(transit: Any, call: Any, fragment: str) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        call(transit)
    assert fragment in error_of(refused)


# -- export, backup, delete, import --------------------------------------------------------------


def test_export_only_when_exportable(client: hvac.Client, transit: Any) -> None:
    transit.create_key("private")
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        transit.export_key("private", key_type="encryption-key")
    assert "not exportable" in error_of(refused)
    public = client.read(f"{MOUNT}/export/public-key/asym-ecdsa-p256")["data"]["keys"]["1"]
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    transit.update_key_configuration("private", exportable=True)
    transit.update_key_configuration("private", exportable=False)  # cannot be unset (Vault)
    assert transit.read_key("private")["data"]["exportable"] is True
    assert transit.export_key("private", key_type="encryption-key", version="latest")["data"]


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa-p384", "rsa-2048"])
def test_exported_signing_keys_match_the_public_keys(
    client: hvac.Client, transit: Any, key_type: str
) -> None:
    name = f"exportable-{key_type}"
    transit.create_key(name, key_type=key_type, exportable=True)
    private_text = transit.export_key(name, key_type="signing-key")["data"]["keys"]["1"]
    public_text = client.read(f"{MOUNT}/export/public-key/{name}")["data"]["keys"]["1"]
    assert public_text.strip() == transit.read_key(name)["data"]["keys"]["1"]["public_key"].strip()
    signature = payload(transit.sign_data(name, b64(b"m"))["data"]["signature"])
    if key_type == "ed25519":  # Go's 64-byte private key: seed || public key
        raw = unb64(private_text)
        assert len(raw) == 64 and b64(raw[32:]) == public_text
        ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32]).public_key().verify(signature, b"m")
        return
    header = "EC PRIVATE KEY" if key_type.startswith("ecdsa") else "RSA PRIVATE KEY"
    assert private_text.startswith(f"-----BEGIN {header}-----")
    private = serialization.load_pem_private_key(private_text.encode(), password=None)
    spki = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki.decode().strip() == public_text.strip()


def test_backup_restore_and_delete(transit: Any) -> None:
    transit.create_key("not-backed-up")
    transit.create_key("saved", exportable=True, allow_plaintext_backup=True)
    sealed = transit.encrypt_data("saved", b64(b"kept"))["data"]["ciphertext"]
    backup = transit.backup_key("saved")["data"]["backup"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        transit.delete_key("saved")
    assert "deletion is not allowed" in error_of(refused)
    transit.update_key_configuration("saved", deletion_allowed=True)
    transit.delete_key("saved")
    with pytest.raises(hvac.exceptions.InvalidPath):
        transit.read_key("saved")
    transit.restore_key(backup)
    assert unb64(transit.decrypt_data("saved", sealed)["data"]["plaintext"]) == b"kept"
    transit.restore_key(backup, name="saved-copy")
    assert "restore_info" in transit.read_key("saved-copy")["data"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.backup_key("not-backed-up")  # no allow_plaintext_backup
    assert {"saved", "saved-copy"} <= set(transit.list_keys()["data"]["keys"])
    document = json.loads(unb64(backup))
    document["policy"]["versions"]["1"]["key"] = b64(b"short")  # a crafted, broken key
    with pytest.raises(hvac.exceptions.InvalidRequest) as crafted:
        transit.restore_key(b64(json.dumps(document).encode()), name="crafted")
    assert "backup is not valid" in error_of(crafted)


def _wrap_for_import(client: hvac.Client, target: bytes) -> str:
    """Vault's BYOK: RSA-OAEP(SHA-256) of an ephemeral AES key, then KWP of the target."""
    pem = client.read(f"{MOUNT}/wrapping_key")["data"]["public_key"]
    wrapping = serialization.load_pem_public_key(pem.encode())
    assert isinstance(wrapping, rsa.RSAPublicKey) and wrapping.key_size == 4096
    ephemeral = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return b64(wrapping.encrypt(ephemeral, oaep) + aes_key_wrap_with_padding(ephemeral, target))


def test_byok_import_round_trip(client: hvac.Client, transit: Any) -> None:
    known = os.urandom(32)
    client.write_data(
        f"{MOUNT}/keys/imported/import",
        data={"ciphertext": _wrap_for_import(client, known), "type": "aes256-gcm96"},
    )
    info = transit.read_key("imported")["data"]
    assert info["imported_key"] is True
    sealed = transit.encrypt_data("imported", b64(b"from outside"))["data"]["ciphertext"]
    blob = payload(sealed)
    assert AESGCM(known).decrypt(blob[:12], blob[12:], None) == b"from outside"
    with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
        transit.rotate_key("imported")
    assert "does not allow rotation" in error_of(refused)
    signer = ed25519.Ed25519PrivateKey.generate()
    der = signer.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    client.write_data(
        f"{MOUNT}/keys/imported-ed/import",
        data={"ciphertext": _wrap_for_import(client, der), "type": "ed25519"},
    )
    signature = transit.sign_data("imported-ed", b64(b"hi"))["data"]["signature"]
    signer.public_key().verify(payload(signature), b"hi")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.write_data(f"{MOUNT}/keys/garbage/import", data={"ciphertext": b64(b"x" * 600)})


# -- keyless helpers and settings ----------------------------------------------------------------


def test_random_hash_and_settings(client: hvac.Client, transit: Any) -> None:
    assert (
        len(
            bytes.fromhex(
                transit.generate_random_bytes(n_bytes=24, output_format="hex")["data"][
                    "random_bytes"
                ]
            )
        )
        == 24
    )
    assert transit.hash_data(b64(b"abc"))["data"]["sum"] == hashlib.sha256(b"abc").hexdigest()
    sha512 = transit.hash_data(b64(b"abc"), algorithm="sha2-512", output_format="base64")
    assert unb64(sha512["data"]["sum"]) == hashlib.sha512(b"abc").digest()
    transit.update_key_configuration("batch", auto_rotate_period="24h")
    assert transit.read_key("batch")["data"]["auto_rotate_period"] == 86400
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.update_key_configuration("batch", auto_rotate_period="5m")
    client.write_data(f"{MOUNT}/cache-config", data={"size": 500})
    assert client.read(f"{MOUNT}/cache-config")["data"]["size"] == 500
