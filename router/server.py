"""Build the gRPC server for a `RouterApp`: services, health, reflection, interceptors, TLS.

`create_server` returns the started server and its port, separate from `serve()` (the
long-running command), so tests bind port 0 and talk to the real server over loopback.
"""

from __future__ import annotations

import ipaddress
import socket

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from router.api.ticket_router.v1 import agent_service_pb2_grpc as agents_grpc
from router.api.ticket_router.v1 import queue_service_pb2_grpc as queues_grpc
from router.api.ticket_router.v1 import rule_service_pb2_grpc as rules_grpc
from router.api.ticket_router.v1 import ticket_service_pb2_grpc
from router.app import RouterApp
from router.auth import KeyRing
from router.errors import FailedPrecondition
from router.interceptors import ServiceInterceptor
from router.metrics import MetricsInterceptor
from router.services import SERVICE_NAMES
from router.services.agents import AgentService
from router.services.queue_service import QueueService
from router.services.rules import RuleService
from router.services.tickets import TicketService
from router.settings import Settings

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Accept messages this large, so an oversized ticket body gets our own clear
INVALID_ARGUMENT (with the limit) rather than the transport's RESOURCE_EXHAUSTED."""


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, key_ring: KeyRing | None) -> None:
    """Refuse to listen beyond loopback without API keys, unless explicitly allowed.

    Raises:
        FailedPrecondition: a public bind address and no keys.
    """
    if is_loopback(settings.host) or key_ring is not None or settings.allow_insecure_public:
        return
    raise FailedPrecondition(
        f"binding {settings.host!r} would expose the API without authentication: configure "
        "api_keys_file (TICKET_ROUTER_API_KEYS_FILE), bind 127.0.0.1, or set "
        "TICKET_ROUTER_ALLOW_INSECURE_PUBLIC=true if a proxy in front authenticates"
    )


def load_key_ring(settings: Settings) -> KeyRing | None:
    """The configured API keys, or None when auth is off."""
    return KeyRing.from_file(settings.api_keys_file) if settings.api_keys_file else None


async def create_server(app: RouterApp, settings: Settings) -> tuple[grpc.aio.Server, int]:
    """Build, bind and start the server; returns it with the bound port.

    Raises:
        FailedPrecondition: public bind without keys. InvalidArgument: a bad keys file.
    """
    key_ring = load_key_ring(settings)
    check_exposure(settings, key_ring)
    interceptors = [MetricsInterceptor(app.metrics), *app.tracing_interceptors,
                    ServiceInterceptor(key_ring)]
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 1),  # several router processes may share one port
            ("grpc.keepalive_time_ms", 60_000),
        ],
    )
    ticket_service_pb2_grpc.add_TicketServiceServicer_to_server(TicketService(app), server)
    agents_grpc.add_AgentServiceServicer_to_server(AgentService(app), server)
    queues_grpc.add_QueueServiceServicer_to_server(QueueService(app), server)
    rules_grpc.add_RuleServiceServicer_to_server(RuleService(app), server)

    health_pb2_grpc.add_HealthServicer_to_server(app.health.servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME),
        server,
    )
    address = f"{settings.host}:{settings.port}"
    if settings.tls_cert_file and settings.tls_key_file:
        credentials = grpc.ssl_server_credentials(
            [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())]
        )
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    await server.start()
    return server, port


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port (for friendlier start-up errors)."""
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0
