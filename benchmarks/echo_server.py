"""The ceiling for `benchmarks/submit.py`: a grpc.aio TicketService that only echoes.

`SubmitTicket` returns one canned `SubmitTicketResponse` shaped like a real one (scores with
probabilities, a decision), so the ceiling pays the same transport, HTTP/2 and protobuf costs
as the router and nothing else: no interceptors, scoring, rules, Redis or history.

    python benchmarks/echo_server.py [--port 0] [--cpu N]

prints `echo serving on 127.0.0.1:PORT` when ready and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import grpc

from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.api.ticket_router.v1 import ticket_service_pb2_grpc as tickets_grpc
from router.cpu_affinity import pin_process

READY_PREFIX = "echo serving on "
"""What the server prints (then `host:port`) once it accepts calls."""


def canned_response() -> tickets_pb.SubmitTicketResponse:
    """A response the size and shape of a routed ticket's."""
    return tickets_pb.SubmitTicketResponse(
        created=True,
        state=pb.TICKET_STATE_OFFERED,
        scores=pb.Scores(
            category="billing",
            category_confidence=0.91,
            category_probabilities={
                "billing": 0.91, "technical": 0.04, "account": 0.03, "shipping": 0.01,
                "sales": 0.01,
            },
            priority=pb.PRIORITY_P2,
            priority_probabilities={"P1": 0.1, "P2": 0.6, "P3": 0.2, "P4": 0.1},
            sla_risk=0.12,
            model_version="echo",
        ),
        decision=pb.RoutingDecision(
            queue="billing",
            priority=pb.PRIORITY_P2,
            rule_version=1,
            reason=pb.ROUTING_REASON_CATEGORY_MAP,
        ),
        agent_id="billing-1",
    )


class EchoTicketService(tickets_grpc.TicketServiceServicer):
    """SubmitTicket answers at once with the canned response; other methods are unimplemented."""

    def __init__(self) -> None:
        self.response = canned_response()

    async def SubmitTicket(  # noqa: N802 - the generated servicer names the RPC
        self, request: tickets_pb.SubmitTicketRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.SubmitTicketResponse:
        return self.response


async def start_echo_server(host: str = "127.0.0.1", port: int = 0) -> tuple[grpc.aio.Server, int]:
    """Start the echo server; returns it with its bound port."""
    server = grpc.aio.server()
    tickets_grpc.add_TicketServiceServicer_to_server(EchoTicketService(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server, bound


async def serve(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server, bound = await start_echo_server(host, port)
    print(f"{READY_PREFIX}{host}:{bound}", flush=True)
    await stop.wait()
    await server.stop(grace=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, action="append", default=None,
                        help="pin the server's threads to this CPU, as a router's cpu_affinity")
    args = parser.parse_args()
    if args.cpu:
        pin_process(args.cpu)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
