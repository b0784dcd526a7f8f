"""Seal devices for tests: SoftHSM tokens, moto KMS servers, static keys, and config writing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.server import HushProcess, free_port, start_hush, write_config

__all__ = [
    "SOFTHSM_LIB",
    "MotoServer",
    "SoftHSM",
    "seal_block",
    "start_sealed",
    "wait_logged",
    "wait_unsealed",
]

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"


def seal_block(kind: str, **options: str) -> str:
    """An HCL ``seal`` block (values quoted)."""
    body = "".join(f'  {key} = "{value}"\n' for key, value in options.items())
    return f'seal "{kind}" {{\n{body}}}\n'


def start_sealed(
    workdir: Path,
    seal_blocks: str,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    storage: str = "sqlite",
    **storage_options: str,
) -> HushProcess:
    """Start a config-file server whose config has ``seal_blocks`` appended."""
    port = port or free_port()
    if storage == "sqlite":
        storage_options.setdefault("path", str(workdir / "hush.db"))
    config = write_config(workdir, port, storage, **storage_options)
    config.write_text(config.read_text() + seal_blocks)
    return start_hush(workdir, [f"-config={config}"], port=port, env=env)


def wait_unsealed(server: HushProcess, timeout: float = 20.0) -> dict[str, object]:
    """Poll seal-status until the node is unsealed; fail with its log otherwise."""
    deadline = time.monotonic() + timeout
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.url}/v1/sys/seal-status", timeout=5).json()
        if status.get("sealed") is False:
            return status
        time.sleep(0.2)
    raise AssertionError(f"still sealed after {timeout}s: {status}\n{server.log_text()}")


def wait_logged(server: HushProcess, *texts: str, timeout: float = 30.0) -> str:
    """Poll the server's output until it contains every one of ``texts``; return the output.

    A seal failure is logged by a background attempt some time after the server answers: a
    fixed sleep is too short on a loaded machine.
    """
    deadline = time.monotonic() + timeout
    while True:
        log = server.log_text()
        if all(text in log for text in texts):
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"{texts} not logged within {timeout}s:\n{log}")
        time.sleep(0.1)


@dataclass
class SoftHSM:
    """A SoftHSM2 token in its own directory (``SOFTHSM2_CONF`` points at it)."""

    directory: Path
    label: str = "hush"
    # A canary, not "1234": tests search the server's output for the PIN, and four digits turn up
    # there by chance (a port such as 21234, a PID, a hex request id).
    pin: str = field(default_factory=lambda: f"pin-{uuid.uuid4().hex[:16]}")

    @classmethod
    def create(cls, directory: Path) -> SoftHSM:
        """Initialise a fresh token; skip outside CI if SoftHSM is missing, fail under CI."""
        if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_LIB).exists():
            import pytest

            message = "softhsm2 is not installed (apt-get install softhsm2)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        tokens = directory / "tokens"
        tokens.mkdir(parents=True)
        (directory / "softhsm2.conf").write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        )
        hsm = cls(directory, label=f"hush-{uuid.uuid4().hex[:8]}")
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", hsm.label,
             "--pin", hsm.pin, "--so-pin", "5678"],
            check=True,
            capture_output=True,
            env={**os.environ, **hsm.env},
        )  # fmt: skip
        return hsm

    @property
    def conf(self) -> Path:
        """The ``SOFTHSM2_CONF`` file."""
        return self.directory / "softhsm2.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment variables a process needs to see this token."""
        return {"SOFTHSM2_CONF": str(self.conf)}

    def block(self, key_label: str = "hush-unseal", **extra: str) -> str:
        """A ``seal "pkcs11"`` block for this token."""
        return seal_block(
            "pkcs11",
            lib=SOFTHSM_LIB,
            token_label=self.label,
            pin=self.pin,
            key_label=key_label,
            generate_key="true",
            **extra,
        )


@dataclass
class MotoServer:
    """A moto server process with KMS (the AWS API double)."""

    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, workdir: Path) -> MotoServer:
        """Start ``moto_server`` on a free port and wait for it."""
        port = free_port()
        executable = Path(sys.executable).with_name("moto_server")
        with (workdir / "moto.log").open("wb") as log:
            process = subprocess.Popen(
                [str(executable), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
            )
        server = cls(process, port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(server.url, timeout=1)
                return server
            except httpx.TransportError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError("moto_server did not start")

    @property
    def url(self) -> str:
        """Endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def create_key(self) -> str:
        """A new symmetric KMS key id."""
        import boto3

        client = boto3.client(
            "kms",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return str(client.create_key()["KeyMetadata"]["KeyId"])

    def stop(self) -> None:
        """Terminate the process."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
