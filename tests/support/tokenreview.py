"""A minimal Kubernetes TokenReview API over HTTPS with a throwaway CA, for kubernetes auth tests.

Only ``POST /apis/authentication.k8s.io/v1/tokenreviews`` is served. A review is authenticated
when the token is one of :attr:`FakeTokenReview.accounts` and, if the review asks for audiences,
the token has one of them; the caller must present :attr:`reviewer_jwt` as its bearer when one is
set (else any bearer is accepted, as when the client's own JWT is used). Every bearer seen is kept
in :attr:`bearers`.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Account", "FakeTokenReview", "throwaway_pki"]

REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


@dataclass(frozen=True)
class Account:
    """A service account a known token belongs to."""

    namespace: str
    name: str
    uid: str
    audiences: tuple[str, ...] = ("https://kubernetes.default.svc",)


def throwaway_pki(directory: Path) -> tuple[str, Path, Path]:
    """A CA (PEM text) and a server certificate and key for 127.0.0.1 signed by it (files)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hush-test-k8s-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_path, key_path


class FakeTokenReview:
    """The TokenReview endpoint of a pretend API server."""

    def __init__(self, reviewer_jwt: str = "") -> None:
        self.reviewer_jwt = reviewer_jwt
        self.accounts: dict[str, Account] = {}
        self.bearers: list[str] = []
        self.reviews: list[dict[str, Any]] = []
        self._dir = tempfile.TemporaryDirectory(prefix="hush-k8s-")
        self.ca_pem, cert, key = throwaway_pki(Path(self._dir.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The API server's address."""
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeTokenReview:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and delete the throwaway keys."""
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    def review(self, bearer: str, spec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The API server's answer to one review."""
        self.bearers.append(bearer)
        if self.reviewer_jwt and bearer != self.reviewer_jwt:
            return 401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized"}
        self.reviews.append(spec)
        account = self.accounts.get(str(spec.get("token", "")))
        wanted = spec.get("audiences") or []
        status: dict[str, Any] = {"authenticated": False, "error": "invalid bearer token"}
        if account is not None and (not wanted or set(wanted) & set(account.audiences)):
            status = {
                "authenticated": True,
                "user": {
                    "username": f"system:serviceaccount:{account.namespace}:{account.name}",
                    "uid": account.uid,
                    "groups": [
                        "system:serviceaccounts",
                        f"system:serviceaccounts:{account.namespace}",
                    ],
                },
                "audiences": [a for a in wanted if a in account.audiences]
                or list(account.audiences),
            }
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"audiences": wanted} if wanted else {},
            "status": status,
        }
        return 201, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != REVIEW_PATH:
                    status, body = 404, {"kind": "Status", "reason": "NotFound"}
                else:
                    bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    review = json.loads(raw or b"{}")
                    status, body = api.review(bearer, review.get("spec") or {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
