"""The Temporal client's TLS, mTLS and API key from the settings, against a real server.

The dev server speaks plaintext only (`temporal server start-dev` has no TLS flags in
this CLI), so the real-connection tests put a TLS-terminating proxy in front of it: the
proxy presents a server certificate signed by a CA made here, requires a client
certificate from that CA (mutual TLS) and forwards the decrypted HTTP/2 to the dev
server. What reaches the server went through the client's TLS configuration; a client
without the certificate, or trusting another CA, does not get through.

Also: the settings refuse half a TLS configuration; the search-attribute registration
the Kubernetes job runs is idempotent; the worker probe tells polling from idle from
unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf.duration_pb2 import Duration
from pydantic import ValidationError
from temporalio import activity
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest, RegisterNamespaceRequest
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import search_attributes as sa
from runtime.settings import Settings
from runtime.temporal import (
    connect_with,
    register_search_attributes,
    tls_config,
    worker_poll_state,
)

# --- a small PKI -------------------------------------------------------------------


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # trusts nothing here
    other_client_cert: Path  # signed by other_ca
    other_client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(cn: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], *, server: bool
          ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("temporal-frontend"), x509.DNSName("localhost"),
             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(cn)]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate | None = None,
           key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        assert key is not None
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca = _ca("gongfu test CA")
    other = _ca("some other CA")
    server = _leaf("temporal-frontend", ca, server=True)
    client = _leaf("gongfu-worker", ca, server=False)
    stranger = _leaf("gongfu-worker", other, server=False)
    return Pki(ca=_write(d / "ca.crt", ca[0]),
               server_cert=_write(d / "server.crt", server[0]),
               server_key=_write(d / "server.key", key=server[1]),
               client_cert=_write(d / "tls.crt", client[0]),
               client_key=_write(d / "tls.key", key=client[1]),
               other_ca=_write(d / "other-ca.crt", other[0]),
               other_client_cert=_write(d / "other.crt", stranger[0]),
               other_client_key=_write(d / "other.key", key=stranger[1]))


# --- the settings ----------------------------------------------------------------


def _refused(**kw: object) -> str:
    with pytest.raises(ValidationError) as err:
        Settings(**kw)  # type: ignore[arg-type]
    return str(err.value)


def test_settings_refuse_half_a_tls_configuration(pki: Pki) -> None:
    assert "go together" in _refused(temporal_tls=True, temporal_tls_cert_path=pki.client_cert)
    assert "go together" in _refused(temporal_tls=True, temporal_tls_key_path=pki.client_key)
    # TLS material or an API key without TLS: never sent in the clear, never ignored
    for kw in ({"temporal_api_key": "k"}, {"temporal_tls_ca_path": pki.ca},
               {"temporal_tls_server_name": "temporal-frontend"},
               {"temporal_tls_cert_path": pki.client_cert,
                "temporal_tls_key_path": pki.client_key}):
        assert "GONGFU_TEMPORAL_TLS is false" in _refused(**kw)
    missing = _refused(temporal_tls=True, temporal_tls_ca_path=pki.ca.parent / "nope.pem")
    assert "GONGFU_TEMPORAL_TLS_CA_PATH" in missing and "no such file" in missing


def test_a_secret_never_appears_in_the_refusal() -> None:
    message = _refused(temporal_api_key="s3cr3t-api-key",
                       database_url="postgresql+psycopg2://u:pw-s3cr3t@db/x")
    assert "s3cr3t" not in message


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CA_PATH", "CERT_PATH", "KEY_PATH", "SERVER_NAME"):
        monkeypatch.setenv(f"GONGFU_TEMPORAL_TLS_{name}", "")
    monkeypatch.setenv("GONGFU_TEMPORAL_API_KEY", "")
    cfg = Settings()
    assert cfg.temporal_tls_ca_path is None and cfg.temporal_api_key is None
    assert tls_config(cfg) is None


def test_settings_from_the_environment_build_the_client_tls_config(
        pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGFU_TEMPORAL_TLS", "true")
    monkeypatch.setenv("GONGFU_TEMPORAL_TLS_CA_PATH", str(pki.ca))
    monkeypatch.setenv("GONGFU_TEMPORAL_TLS_CERT_PATH", str(pki.client_cert))
    monkeypatch.setenv("GONGFU_TEMPORAL_TLS_KEY_PATH", str(pki.client_key))
    monkeypatch.setenv("GONGFU_TEMPORAL_TLS_SERVER_NAME", "temporal-frontend")
    tls = tls_config(Settings())
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == pki.ca.read_bytes()
    assert tls.client_cert == pki.client_cert.read_bytes()
    assert tls.client_private_key == pki.client_key.read_bytes()
    assert tls.domain == "temporal-frontend"


def test_tls_alone_trusts_the_system_roots_and_off_is_plaintext() -> None:
    assert tls_config(Settings(temporal_tls=True)) == TLSConfig()
    assert tls_config(Settings()) is None


def test_a_file_that_is_not_pem_is_named(pki: Pki, tmp_path: Path) -> None:
    junk = tmp_path / "ca.der"
    junk.write_bytes(b"\x30\x82not pem")
    with pytest.raises(ValueError, match="GONGFU_TEMPORAL_TLS_CA_PATH"):
        tls_config(Settings(temporal_tls=True, temporal_tls_ca_path=junk))


# --- a real connection through TLS ----------------------------------------------------


@contextlib.asynccontextmanager
async def tls_front(upstream: str, pki: Pki) -> AsyncIterator[str]:
    """A TLS (mutual) terminating TCP proxy on 127.0.0.1 in front of `upstream`."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    host, port = upstream.rsplit(":", 1)
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        for t in (pipe(reader, up_writer), pipe(up_reader, writer)):
            task = asyncio.create_task(t)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()


def _tls_settings(address: str, pki: Pki, namespace: str = "default", **kw: object) -> Settings:
    base: dict[str, object] = {
        "temporal_address": address, "temporal_namespace": namespace, "temporal_tls": True,
        "temporal_tls_ca_path": pki.ca, "temporal_tls_cert_path": pki.client_cert,
        "temporal_tls_key_path": pki.client_key, "temporal_tls_server_name": "temporal-frontend"}
    return Settings(**(base | kw))  # type: ignore[arg-type]


def _target(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def test_workers_and_apis_connect_through_mutual_tls(
        dev_env: WorkflowEnvironment, pki: Pki) -> None:
    async with tls_front(_target(dev_env), pki) as address:
        client = await asyncio.wait_for(connect_with(_tls_settings(address, pki)), 30)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
        # an API key rides on the same TLS connection (the dev server does not check it)
        keyed = await asyncio.wait_for(
            connect_with(_tls_settings(address, pki, temporal_api_key="k-123")), 30)
        assert await keyed.count_workflows() is not None


async def _refused_connection(cfg: Settings,
                              match: str = "transport error|connection closed") -> None:
    with pytest.raises(RuntimeError, match=match):  # the bridge's "Failed client connect"
        await asyncio.wait_for(connect_with(cfg), 30)


async def test_without_the_client_certificate_or_with_another_ca_no_connection(
        dev_env: WorkflowEnvironment, pki: Pki) -> None:
    async with tls_front(_target(dev_env), pki) as address:
        # TLS but no client certificate: the frontend (here the proxy) requires one
        await _refused_connection(_tls_settings(address, pki, temporal_tls_cert_path=None,
                                                temporal_tls_key_path=None))
        # a client certificate from a CA the frontend does not trust
        await _refused_connection(_tls_settings(
            address, pki, temporal_tls_cert_path=pki.other_client_cert,
            temporal_tls_key_path=pki.other_client_key))
        # trusting another CA: the frontend's certificate is refused by the client
        await _refused_connection(_tls_settings(address, pki, temporal_tls_ca_path=pki.other_ca),
                                  match="UnknownIssuer")
        # the wrong name: the certificate is for temporal-frontend / localhost
        await _refused_connection(_tls_settings(address, pki,
                                                temporal_tls_server_name="someone-else"),
                                  match="NotValidForName")
        # plaintext to a TLS frontend
        await _refused_connection(Settings(temporal_address=address))


# --- the Kubernetes setup job and the worker probe ------------------------------------


async def test_search_attribute_registration_is_idempotent(
        dev_env: WorkflowEnvironment, pki: Pki) -> None:
    ns = f"tls-{uuid.uuid4().hex[:8]}"
    await dev_env.client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=ns, workflow_execution_retention_period=Duration(seconds=86400)))
    async with tls_front(_target(dev_env), pki) as address:
        client = await connect_with(_tls_settings(address, pki, namespace=ns))
        deadline = asyncio.get_running_loop().time() + 30
        while True:  # the new namespace reaches the frontend's cache within seconds
            try:
                added = await register_search_attributes(client)
                break
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(1)
        assert added == sorted(k.name for k in sa.ALL)
        assert await register_search_attributes(client) == []


@activity.defn(name="probe_noop")
async def _noop() -> None:
    return None


async def test_worker_probe_tells_polling_from_idle_from_unreachable(
        dev_env: WorkflowEnvironment) -> None:
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    cfg = Settings(temporal_address=_target(dev_env), task_queue=queue)
    assert await worker_poll_state(cfg) == "idle"
    async with Worker(dev_env.client, task_queue=queue, activities=[_noop]):
        state = "idle"
        for _ in range(20):
            state = await worker_poll_state(cfg)
            if state == "polling":
                break
            await asyncio.sleep(0.5)
        assert state == "polling"
        assert await worker_poll_state(cfg, host="another-pod") == "idle"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    nowhere = Settings(temporal_address=f"127.0.0.1:{free}", task_queue=queue)
    assert await worker_poll_state(nowhere, timeout=5) == "unreachable"


async def test_the_cli_and_the_worker_processes_connect_with_the_tls_settings(
        dev_env: WorkflowEnvironment, pki: Pki, pg_url: str) -> None:
    """`gongfu ops …` and `gongfu worker`, as processes, take the TLS settings from the
    environment (connect_with): through the mutual-TLS front they work; told plaintext,
    the same front refuses them."""
    import os
    import signal
    import sys

    root = Path(__file__).resolve().parent.parent

    async with tls_front(_target(dev_env), pki) as address:
        env = {**os.environ, "GONGFU_TEMPORAL_ADDRESS": address, "GONGFU_DATABASE_URL": pg_url,
               "GONGFU_TEMPORAL_TLS": "true", "GONGFU_TEMPORAL_TLS_CA_PATH": str(pki.ca),
               "GONGFU_TEMPORAL_TLS_CERT_PATH": str(pki.client_cert),
               "GONGFU_TEMPORAL_TLS_KEY_PATH": str(pki.client_key),
               "GONGFU_TEMPORAL_TLS_SERVER_NAME": "temporal-frontend",
               "GONGFU_TASK_QUEUE": "tls-worker", "GONGFU_LOG_FORMAT": "json",
               "GONGFU_DEMO": "true"}

        async def gongfu(*args: str, **extra: str) -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tools.cli", *args, cwd=root, env={**env, **extra},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(proc.communicate(), 90)
            return proc.returncode or 0, out.decode()

        code, out = await gongfu("ops", "stages", "--json")
        assert code == 0 and out.strip().startswith("["), out
        code, out = await gongfu("ops", "stages", GONGFU_TEMPORAL_TLS="false",
                                 GONGFU_TEMPORAL_TLS_CA_PATH="", GONGFU_TEMPORAL_TLS_CERT_PATH="",
                                 GONGFU_TEMPORAL_TLS_KEY_PATH="",
                                 GONGFU_TEMPORAL_TLS_SERVER_NAME="")
        assert code == 1, out

        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tools.cli", "worker", cwd=root, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert worker.stderr is not None
        try:
            line = b""
            while b'"worker.started"' not in line:
                line = await asyncio.wait_for(worker.stderr.readline(), 60)
                assert line, "the worker ended before it started"
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(worker.wait(), 60) == 0
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
