"""TLS: a router with a certificate serves only TLS; the clients and the CLI reach it."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from clients.client import AsyncRouterClient, RouterClient
from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.cli import app as cli_app
from router.serve import Running, running_router
from tests.router.service.conftest import router_settings


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
async def tls_router(
    redis_url: str, data_dir: Path, model_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[Running, Path]]:
    ca, cert, key = write_certificates(tmp_path)
    settings = router_settings(redis_url, data_dir, model_dir, tls_cert_file=cert,
                               tls_key_file=key)
    async with running_router(settings, telemetry=False) as running:
        yield running, ca


async def test_clients_reach_a_tls_router_and_plaintext_is_refused(
    tls_router: tuple[Running, Path],
) -> None:
    running, ca = tls_router
    target = f"127.0.0.1:{running.port}"
    async with AsyncRouterClient(target, tls=True, root_certificates=ca.read_bytes()) as client:
        listed = await client.call("QueueService", "ListQueues", queues_pb.ListQueuesRequest())
    assert "triage" in {queue.name for queue in listed.queues}

    def blocking() -> int:
        with RouterClient(target, tls=True, root_certificates=ca.read_bytes()) as client:
            return len(client.call("QueueService", "ListQueues",
                                   queues_pb.ListQueuesRequest()).queues)

    assert await asyncio.to_thread(blocking) == len(listed.queues)

    async with AsyncRouterClient(target) as plain:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await plain.call("QueueService", "ListQueues", queues_pb.ListQueuesRequest(),
                             timeout=3)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE,
                                   grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_the_cli_reaches_a_tls_router_with_the_ca_file(
    tls_router: tuple[Running, Path], tmp_path: Path
) -> None:
    running, ca = tls_router
    args = ["queues", "--target", f"127.0.0.1:{running.port}"]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args,
                                     env={"TICKET_ROUTER_CA_FILE": str(ca)})
    assert result.exit_code == 0, result.output
    assert "triage" in result.output
    missing = await asyncio.to_thread(CliRunner().invoke, cli_app, args,
                                      env={"TICKET_ROUTER_CA_FILE": str(tmp_path / "none.pem")})
    assert missing.exit_code == 2 and "cannot read" in missing.output
