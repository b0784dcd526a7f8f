"""The listener serves HTTPS with the configured certificate, and refuses to start without one."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import hvac
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.server import HushProcess, free_port, start_hush, write_config

LOOPBACK = "127.0.0.1"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1; returns (ca, cert, key) files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Hush test CA"))
        .issuer_name(_name("Hush test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(LOOPBACK))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


def _server_output(config: Path, workdir: Path) -> tuple[int, str]:
    """Run ``hush server -config`` expecting it to exit; return its code and output."""
    done = subprocess.run(
        [sys.executable, "-m", "hush.cli.main", "server", f"-config={config}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[HushProcess, Path]]:
    ca_path, cert_path, key_path = _write_pki(tmp_path)
    port = free_port()
    config = write_config(
        tmp_path,
        port,
        "inmem",
        listener_tls_disable=False,
        listener_tls_cert_file=str(cert_path),
        listener_tls_key_file=str(key_path),
    )
    # httpx (which waits for readiness) takes an SSLContext; hvac/requests take the CA file path.
    context = ssl.create_default_context(cafile=str(ca_path))
    server = start_hush(tmp_path, [f"-config={config}"], port=port, scheme="https", verify=context)
    yield server, ca_path
    server.stop()


def test_https_with_the_ca_initialises_and_reports_health(
    tls_server: tuple[HushProcess, Path],
) -> None:
    server, ca_path = tls_server
    assert server.url.startswith("https://")
    client = hvac.Client(url=server.url, verify=str(ca_path))
    assert client.sys.is_initialized() is False
    init = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.sys.submit_unseal_key(init["keys"][0])
    health = client.sys.read_health_status(method="GET")
    assert health["initialized"] is True and health["sealed"] is False
    client.token = init["root_token"]
    assert "sys/" in client.sys.list_mounted_secrets_engines()["data"]


def test_client_without_the_ca_fails_verification(tls_server: tuple[HushProcess, Path]) -> None:
    server, _ = tls_server
    with pytest.raises(requests.exceptions.SSLError):
        hvac.Client(url=server.url).sys.read_health_status(method="GET")
    with httpx.Client(base_url=server.url) as http, pytest.raises(httpx.ConnectError) as info:
        http.get("/v1/sys/health")
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    # Plain HTTP on the TLS port gets no API answer: the connection is dropped.
    plain_url = f"http://{LOOPBACK}:{server.port}"
    with httpx.Client(base_url=plain_url) as http, pytest.raises(httpx.RemoteProtocolError):
        http.get("/v1/sys/health")


def test_tls_without_a_cert_file_refuses_to_start(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port(), "inmem", listener_tls_disable=False)
    code, output = _server_output(config, tmp_path)
    assert code != 0
    assert "tls_cert_file" in output
    assert "Traceback" not in output


def test_tls_with_a_missing_cert_file_refuses_to_start_clearly(tmp_path: Path) -> None:
    _, _, key_path = _write_pki(tmp_path)
    missing = tmp_path / "no-such-cert.pem"
    config = write_config(
        tmp_path,
        free_port(),
        "inmem",
        listener_tls_disable=False,
        listener_tls_cert_file=str(missing),
        listener_tls_key_file=str(key_path),
    )
    code, output = _server_output(config, tmp_path)
    assert code != 0
    assert str(missing) in output
    assert "Traceback" not in output
