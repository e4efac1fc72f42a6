"""A real redis-server speaking TLS only, for the ``rediss://`` tests: a throwaway CA, a server
certificate for 127.0.0.1 (IP SAN) and a client certificate, made with the ``openssl`` CLI in
a temporary directory; plus a second CA that signed nothing the server presents."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.store_support import RedisServer

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
# P-256 keys: generated in milliseconds, unlike RSA.
_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class TlsFiles:
    """PEM paths: the CA, the server's and the client's pairs, and an unrelated CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _ca(cwd: Path, name: str) -> None:
    _openssl(
        cwd, "req", "-x509", *_KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem",
        "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def _leaf(cwd: Path, name: str, ext: str) -> None:
    """A key pair signed by ``ca``, with the X.509 extensions ``ext``."""
    _openssl(cwd, "req", *_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={name}")  # fmt: skip
    (cwd / f"{name}.ext").write_text(ext)
    _openssl(
        cwd, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
    )  # fmt: skip


def make_tls_files(directory: Path) -> TlsFiles:
    """Create the CA, server (127.0.0.1) and client certificates under ``directory``."""
    _ca(directory, "ca")
    _ca(directory, "other-ca")
    _leaf(
        directory,
        "server",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature\n",
    )
    _leaf(directory, "client", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")
    return TlsFiles(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.pem",
    )


class TlsRedisServer(RedisServer):
    """A redis-server on a TLS port only (``--port 0``); ``auth_clients`` asks for a client
    certificate signed by the CA (redis-server's ``--tls-auth-clients``)."""

    def __init__(self, files: TlsFiles, *, auth_clients: bool = True) -> None:
        super().__init__()
        self.files = files
        self.auth_clients = auth_clients

    @property
    def url(self) -> str:
        """``rediss://127.0.0.1:<port>/0``."""
        return f"rediss://127.0.0.1:{self.port}/0"

    def listen_args(self) -> list[str]:
        """TLS on its port, plain TCP off."""
        return [
            "--port", "0", "--tls-port", str(self.port),
            "--tls-cert-file", str(self.files.server_cert),
            "--tls-key-file", str(self.files.server_key),
            "--tls-ca-cert-file", str(self.files.ca),
            "--tls-auth-clients", "yes" if self.auth_clients else "no",
        ]  # fmt: skip

    def client_args(self) -> dict[str, object]:
        """TLS with the CA and the client certificate."""
        return {
            "ssl": True,
            "ssl_ca_certs": str(self.files.ca),
            "ssl_certfile": str(self.files.client_cert),
            "ssl_keyfile": str(self.files.client_key),
        }


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """Throwaway certificates, made once per test module."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def _serve(files: TlsFiles, auth_clients: bool) -> Iterator[TlsRedisServer]:
    server = TlsRedisServer(files, auth_clients=auth_clients)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def tls_server(tls_files: TlsFiles) -> Iterator[TlsRedisServer]:
    """A TLS-only redis-server that requires a client certificate, stopped by PID afterwards."""
    yield from _serve(tls_files, auth_clients=True)


@pytest.fixture
def tls_server_any_client(tls_files: TlsFiles) -> Iterator[TlsRedisServer]:
    """A TLS-only redis-server that asks no client certificate, stopped by PID afterwards."""
    yield from _serve(tls_files, auth_clients=False)
