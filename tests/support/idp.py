"""A small local identity provider for tests: JWKS, OIDC discovery, authorize and token endpoints.

It runs :class:`http.server.ThreadingHTTPServer` in a daemon thread on a loopback port and signs
tokens with its own RSA and EC keys (PyJWT), so tests can mint GitHub Actions- or GitLab CI-shaped
ID tokens and drive a full authorization-code + PKCE flow without any network. Every request path
it receives is recorded in :attr:`LocalIdP.requests` (tests assert what Hush did or did not fetch).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["AuthorizeRequest", "LocalIdP", "public_pem"]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    """The PEM of a private key's public half."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class AuthorizeRequest:
    """What the authorize endpoint received, keyed by the code it handed out."""

    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    scope: str
    subject: str
    extra_claims: dict[str, Any] = field(default_factory=dict)


class LocalIdP:
    """Serves keys and OIDC endpoints; :meth:`sign` mints tokens with its keys."""

    def __init__(self, client_id: str = "hush-client", client_secret: str = "") -> None:
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_kid = "rsa-1"
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.requests: list[str] = []
        self.codes: dict[str, AuthorizeRequest] = {}
        #: Claims the next authorization adds to its ID token (tests change who logs in).
        self.login_claims: dict[str, Any] = {"sub": "alice", "email": "alice@example.com"}
        #: Overrides of the ID token the token endpoint returns (nonce tampering and so on).
        self.id_token_overrides: dict[str, Any] = {}
        self.publish_ec = True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base address (also the OIDC issuer)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        """Address of the JWKS document."""
        return self.url + "/jwks"

    def start(self) -> LocalIdP:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def jwks(self) -> dict[str, Any]:
        """The published key set (the current RSA key and, unless switched off, EC ``ec-1``)."""
        keys = [self._jwk(self.rsa_key, self.rsa_kid, "RS256")]
        if self.publish_ec:
            keys.append(self._jwk(self.ec_key, "ec-1", "ES256"))
        return {"keys": keys}

    @staticmethod
    def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, alg: str) -> Any:
        algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        return {**jwk, "kid": kid, "alg": alg, "use": "sig"}

    def sign(
        self,
        claims: dict[str, Any],
        *,
        kind: str = "rsa",
        headers: dict[str, Any] | None = None,
        lifetime: int = 300,
    ) -> str:
        """A token signed with the current RSA key or the EC (``ec-1``) key, exp/iat filled in."""
        now = int(time.time())
        body = {"iat": now, "nbf": now, "exp": now + lifetime, **claims}
        if kind == "rsa":
            return jwt.encode(
                body, self.rsa_key, "RS256", headers={"kid": self.rsa_kid, **(headers or {})}
            )
        return jwt.encode(body, self.ec_key, "ES256", headers={"kid": "ec-1", **(headers or {})})

    def rotate_rsa(self, kid: str, key: rsa.RSAPrivateKey | None = None) -> None:
        """Replace the RSA key by ``key`` (a new one by default) published under ``kid`` (the old
        one is withdrawn). Pass a key made beforehand where the rotation itself must be quick."""
        self.rsa_key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_kid = kid

    def github_token(self, repository: str, ref: str, audience: str, **extra: Any) -> str:
        """A token shaped like a GitHub Actions OIDC ID token for ``repository`` at ``ref``."""
        owner = repository.split("/", maxsplit=1)[0]
        claims = {
            "iss": GITHUB_ISSUER,
            "aud": audience,
            "sub": f"repo:{repository}:ref:{ref}",
            "repository": repository,
            "repository_owner": owner,
            "repository_id": "123456",
            "ref": ref,
            "ref_type": "branch",
            "sha": "2b2f8e1c6d5e3f9a0b1c2d3e4f5a6b7c8d9e0f1a",
            "workflow": "deploy",
            "job_workflow_ref": f"{repository}/.github/workflows/deploy.yml@{ref}",
            "event_name": "push",
            "actor": "octocat",
            "run_id": "4242",
            "runner_environment": "github-hosted",
            **extra,
        }
        return self.sign(claims)

    def gitlab_token(self, project_path: str, ref: str, audience: str, **extra: Any) -> str:
        """A token shaped like a GitLab CI ``id_tokens`` JWT for ``project_path`` at ``ref``."""
        claims = {
            "iss": "https://gitlab.example.com",
            "aud": audience,
            "sub": f"project_path:{project_path}:ref_type:branch:ref:{ref}",
            "namespace_path": project_path.rsplit("/", 1)[0],
            "project_path": project_path,
            "project_id": "77",
            "user_login": "ci-bot",
            "pipeline_source": "push",
            "ref": ref,
            "ref_type": "branch",
            "ref_protected": "true",
            "environment": "production",
            "groups_direct": ["platform", "deployers"],
            **extra,
        }
        return self.sign(claims, kind="ec")

    # -- HTTP --------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                idp.requests.append(self.path)
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, idp.discovery())
                elif parts.path == "/jwks":
                    self._json(200, idp.jwks())
                elif parts.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    location = idp.authorize(query)
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                idp.requests.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                status, body = idp.token(form, self.headers.get("Authorization", ""))
                self._json(status, body)

        return Handler

    def discovery(self) -> dict[str, Any]:
        """The OpenID Connect discovery document."""
        return {
            "issuer": self.url,
            "jwks_uri": self.jwks_url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query: dict[str, str]) -> str:
        """Record an authorization request; the redirect back with a fresh code."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = AuthorizeRequest(
            client_id=query.get("client_id", ""),
            redirect_uri=query.get("redirect_uri", ""),
            nonce=query.get("nonce", ""),
            code_challenge=query.get("code_challenge", ""),
            code_challenge_method=query.get("code_challenge_method", ""),
            scope=query.get("scope", ""),
            subject=str(self.login_claims.get("sub", "")),
            extra_claims=dict(self.login_claims),
        )
        back = {"code": code, "state": query.get("state", "")}
        return query.get("redirect_uri", "") + "?" + urlencode(back)

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        """The token endpoint: client authentication, code, redirect URI and PKCE checked."""
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client"}
        request = self.codes.pop(form.get("code", ""), None)
        if request is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != request.redirect_uri:
            return 400, {"error": "invalid_grant"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if request.code_challenge_method != "S256" or challenge != request.code_challenge:
            return 400, {"error": "invalid_grant"}
        claims = {
            "iss": self.url,
            "aud": request.client_id,
            "nonce": request.nonce,
            **request.extra_claims,
            **self.id_token_overrides,
        }
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.sign(claims),
        }
