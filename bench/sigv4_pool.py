"""Pre-signed SigV4 requests for the GetSecretValue scenario (S7).

wrk cannot compute an HMAC-SHA256 signature per request in Lua cheaply, so the bench signs a pool
of requests with botocore's own signer (:class:`botocore.auth.SigV4Auth`, what boto3 uses) and
``bench/lua/signed_pool.lua`` cycles through them. Each pooled request carries a distinct
``X-Amz-Date`` (one per second, centred on the signing moment), so the server derives a signing key
and checks a different signature on consecutive requests; nothing is cached or bypassed on the
server side. The pool is re-signed immediately before every wrk run (:attr:`WrkJob.prepare`), so
every date stays inside AWS's ±15 minute window however long the whole benchmark takes.

The pool file holds one request per line: ``<x-amz-date>\\t<authorization>``; the other headers
(``Content-Type``, ``X-Amz-Target``) and the body are the same for every request and are passed to
the Lua script as arguments.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["AWS_CONTENT_TYPE", "POOL_SIZE", "SignedPool"]

AWS_CONTENT_TYPE = "application/x-amz-json-1.1"
POOL_SIZE = 600  # distinct dates: now - 300 s ... now + 299 s, one per second


class SignedPool:
    """Signs ``POOL_SIZE`` copies of one AWS JSON request into ``path`` on every :meth:`write`."""

    def __init__(
        self,
        path: Path,
        url: str,
        target: str,
        body: str,
        access_key_id: str,
        secret_access_key: str,
        region: str = "us-east-1",
        service: str = "secretsmanager",
    ) -> None:
        """Sign ``POST url`` with ``X-Amz-Target: target`` and ``body`` for the given key pair."""
        self.path = path
        self.url = url
        self.target = target
        self.body = body
        self._signer = SigV4Auth(Credentials(access_key_id, secret_access_key), service, region)
        # wrk sends ``Host: <host>:<port>`` from the URL, which is what botocore signs.
        self.host = urlsplit(url).netloc

    def sign(self, moment: datetime.datetime) -> tuple[str, str]:
        """``(x-amz-date, authorization)`` of the request signed at ``moment``.

        botocore's canonicalisation and HMAC chain, as in ``SigV4Auth.add_auth`` except that the
        date is ``moment`` rather than the current time.
        """
        stamp = moment.strftime("%Y%m%dT%H%M%SZ")
        request = AWSRequest(
            method="POST",
            url=self.url,
            data=self.body.encode(),
            headers={
                "Content-Type": AWS_CONTENT_TYPE,
                "Host": self.host,
                "X-Amz-Date": stamp,
                "X-Amz-Target": self.target,
            },
        )
        request.context["timestamp"] = stamp
        signer = self._signer
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        signed = signer.signed_headers(signer.headers_to_sign(request))
        authorization = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return stamp, authorization

    def write(self) -> None:
        """(Re-)sign the pool around the current time and write it to :attr:`path`."""
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        half = POOL_SIZE // 2
        lines = [
            "\t".join(self.sign(now + datetime.timedelta(seconds=offset)))
            for offset in range(-half, POOL_SIZE - half)
        ]
        self.path.write_text("\n".join(lines) + "\n")
