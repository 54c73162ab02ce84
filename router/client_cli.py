"""Client commands of `ticket-router`: submit tickets, manage agents and rules, watch queues.

Every command talks to a running router (`--target`, default 127.0.0.1:50051) with the
Python client; `--api-key` (or TICKET_ROUTER_API_KEY) authenticates. A router serving TLS is
reached with TICKET_ROUTER_CA_FILE (the PEM of the CA that signed its certificate) or
TICKET_ROUTER_TLS=1 (a certificate the system trusts).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import json_format
from rich.console import Console
from rich.live import Live
from rich.table import Table

TargetOption = Annotated[
    str, typer.Option("--target", envvar="TICKET_ROUTER_TARGET", help="Router host:port.")
]
KeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="TICKET_ROUTER_API_KEY", help="API key.")
]
DEFAULT_TARGET = "127.0.0.1:50051"
CA_FILE_ENV, TLS_ENV = "TICKET_ROUTER_CA_FILE", "TICKET_ROUTER_TLS"

agents_app = typer.Typer(help="Register agents and change their status.", no_args_is_help=True)
rules_app = typer.Typer(help="Read, validate, publish and explain routing rules.",
                        no_args_is_help=True)
console = Console()


def _tls() -> dict[str, Any]:
    """TLS from the environment: TICKET_ROUTER_CA_FILE (a PEM CA to trust; implies TLS) or
    TICKET_ROUTER_TLS=1 (the system's roots)."""
    ca_file = os.environ.get(CA_FILE_ENV)
    if ca_file:
        try:
            return {"tls": True, "root_certificates": Path(ca_file).read_bytes()}
        except OSError as error:
            console.print(f"[red]{CA_FILE_ENV}[/]: cannot read {ca_file}: {error.strerror}")
            raise typer.Exit(2) from None
    return {"tls": os.environ.get(TLS_ENV, "").lower() in ("1", "true", "yes")}


def _call(target: str, api_key: str | None, service: str, method: str, request: Any) -> Any:
    from clients.client import RouterClient

    with RouterClient(target, api_key=api_key, **_tls()) as client:
        try:
            return client.call(service, method, request)
        except grpc.RpcError as error:
            console.print(f"[red]{error.code().name}[/]: {error.details()}")  # type: ignore[attr-defined]
            raise typer.Exit(1) from None


def _print(message: Any) -> None:
    console.print_json(json_format.MessageToJson(message, preserving_proto_field_name=True))


def submit(
    ticket_id: Annotated[str, typer.Argument(help="Your id of the ticket (idempotency key).")],
    subject: Annotated[str, typer.Option(help="Subject line.")],
    body: Annotated[str, typer.Option(help="Body text.")] = "",
    channel: Annotated[str, typer.Option(help="email, chat, phone or web.")] = "email",
    tier: Annotated[str, typer.Option(help="Customer tier.")] = "",
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Submit one ticket and print its scores, routing decision and state."""
    from clients.requests import make_ticket
    from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb

    ticket = make_ticket(ticket_id, subject, body, channel=channel, customer_tier=tier)
    _print(_call(target, api_key, "TicketService", "SubmitTicket",
                 tickets_pb.SubmitTicketRequest(ticket=ticket)))


@agents_app.command("upsert")
def upsert_agent(
    agent_id: Annotated[str, typer.Argument(help="Agent id.")],
    queue: Annotated[list[str], typer.Option(help="A queue the agent serves (repeat).")],
    capacity: Annotated[list[str], typer.Option(help="channel=n, e.g. email=5 (repeat).")],
    skill: Annotated[list[str] | None, typer.Option(help="skill=level (repeat).")] = None,
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Create or update an agent."""
    from clients.requests import make_agent
    from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb

    def pairs(values: list[str] | None, what: str) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in (item.split("=", 1) for item in values or [])}
        except ValueError:
            raise typer.BadParameter(f"write {what} as name=number") from None

    agent = make_agent(agent_id, queue, pairs(capacity, "capacity"), pairs(skill, "skill"))
    _print(_call(target, api_key, "AgentService", "UpsertAgent",
                 agents_pb.UpsertAgentRequest(agent=agent)))


@agents_app.command("status")
def agent_status(
    agent_id: Annotated[str, typer.Argument(help="Agent id.")],
    status: Annotated[str, typer.Argument(help="available, away or offline.")],
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Set an agent's status (away/offline hands its offers back at once)."""
    from clients.requests import STATUSES
    from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb

    if status not in STATUSES:
        raise typer.BadParameter(f"use one of {', '.join(STATUSES)}")
    _print(_call(target, api_key, "AgentService", "SetAgentStatus",
                 agents_pb.SetAgentStatusRequest(agent_id=agent_id, status=STATUSES[status])))


def _rules_request(path: Path) -> tuple[str, int]:
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb

    fmt = rules_pb.RULE_FORMAT_TOML if path.suffix == ".toml" else rules_pb.RULE_FORMAT_YAML
    return path.read_text(), fmt


@rules_app.command("get")
def rules_get(
    version: Annotated[int, typer.Option(help="Version (default: the live one).")] = 0,
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Print a published rule set."""
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb

    reply = _call(target, api_key, "RuleService", "GetRules",
                  rules_pb.GetRulesRequest(version=version))
    # verbatim (the console would wrap long lines), so the output can be edited and published
    typer.echo(f"# version {reply.rules.version} (live: {reply.live_version}), "
               f"by {reply.rules.published_by}")
    typer.echo(reply.rules.text, nl=not reply.rules.text.endswith("\n"))


@rules_app.command("validate")
def rules_validate(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML/TOML file.")],
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Check a rules file; print each problem with its line."""
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb

    text, fmt = _rules_request(path)
    reply = _call(target, api_key, "RuleService", "ValidateRules",
                  rules_pb.ValidateRulesRequest(text=text, format=fmt))
    for problem in reply.problems:
        rule = f" (rule {problem.rule_id!r})" if problem.rule_id else ""
        console.print(f"{path}:{problem.line}: {problem.path}{rule}: {problem.message}")
    console.print("[green]valid[/]" if reply.valid else "[red]invalid[/]")
    if not reply.valid:
        raise typer.Exit(1)


@rules_app.command("publish")
def rules_publish(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML/TOML file.")],
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Publish a rules file as the new live version in every router."""
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb

    text, fmt = _rules_request(path)
    reply = _call(target, api_key, "RuleService", "PublishRules",
                  rules_pb.PublishRulesRequest(text=text, format=fmt))
    console.print(f"published version {reply.version}")


@rules_app.command("explain")
def rules_explain(
    ticket_id: Annotated[str, typer.Argument(help="A submitted ticket's id.")],
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Explain how a ticket was routed: rules, scores, candidate agents."""
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb

    _print(_call(target, api_key, "RuleService", "ExplainRouting",
                 rules_pb.ExplainRoutingRequest(ticket_id=ticket_id)))


@rules_app.command("what-if")
def rules_what_if(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Draft YAML/TOML.")],
    since: Annotated[
        str | None, typer.Option(help="First submission time replayed (ISO 8601; UTC if bare).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="First submission time not replayed.")] = None,
    limit: Annotated[int, typer.Option(help="Latest N tickets of the window (0: 10,000).")] = 0,
    examples: Annotated[int, typer.Option(help="Changed tickets listed (0: 10).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the response as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Also write what-if.html with plots into this folder.")
    ] = None,
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Replay past tickets through a draft rules file, without publishing it: queue volumes,
    agent load and predicted SLA breaches, before against after."""
    from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
    from router.errors import InvalidArgument
    from router.report import parse_moment

    text, fmt = _rules_request(path)
    try:
        first, end = parse_moment(since, "since"), parse_moment(until, "until")
    except InvalidArgument as error:
        raise typer.BadParameter(str(error)) from None
    request = rules_pb.SimulateRulesRequest(
        text=text, format=fmt, limit=limit, max_examples=examples,
        since=convert_time(first), until=convert_time(end),
    )
    reply = _call(target, api_key, "RuleService", "SimulateRules", request)
    if out is not None:
        from router.what_if_report import write_what_if_html

        page = write_what_if_html(reply, path.name, out)
        if not as_json:
            console.print(f"HTML report: {page}")
    if as_json:
        _print(reply)
        return
    console.print(what_if_summary(reply))
    console.print(what_if_table(reply))
    for move in reply.moves[:10]:
        console.print(f"  {move.tickets:>6} tickets  {move.from_queue} -> {move.to_queue}")
    for hit in reply.rules:
        console.print(f"  rule {hit.rule_id!r} (line {hit.line}) decides {hit.tickets} tickets")
    for warning in reply.warnings:
        console.print(f"[yellow]warning[/]: {warning}")


def convert_time(moment: Any) -> Any:
    """A Timestamp of an aware datetime, None for None."""
    from router import convert

    return None if moment is None else convert.timestamp(moment.timestamp())


def what_if_summary(reply: Any) -> str:
    """One paragraph: tickets replayed, changes, predicted breaches before and after."""
    if not reply.tickets:
        return "no tickets replayed"
    window = (f"{reply.first_submitted_at.ToDatetime():%Y-%m-%d %H:%M} to "
              f"{reply.last_submitted_at.ToDatetime():%Y-%m-%d %H:%M} UTC")
    text = (f"{reply.tickets} tickets submitted {window}: {reply.queue_changed} to another "
            f"queue, {reply.priority_changed} at another priority.")
    if reply.risk_scored:
        text += (f" Predicted SLA breaches {reply.predicted_breaches_before:.1f} -> "
                 f"{reply.predicted_breaches_after:.1f}.")
    return text


def what_if_table(reply: Any) -> Table:
    """Per queue: tickets, tickets per available agent and predicted breaches, before/after."""
    view = Table(title="what-if: as routed -> with the draft")
    for column in ("queue", "tickets", "change", "agents", "per agent", "predicted breaches"):
        view.add_column(column, justify="left" if column == "queue" else "right")

    def per_agent(tickets: int, agents: int) -> str:
        return f"{tickets / agents:.1f}" if agents else "-"

    for q in reply.queues:
        view.add_row(
            q.queue, f"{q.tickets_before} -> {q.tickets_after}",
            f"{q.tickets_after - q.tickets_before:+d}", str(q.agents_available),
            f"{per_agent(q.tickets_before, q.agents_available)} -> "
            f"{per_agent(q.tickets_after, q.agents_available)}",
            f"{q.predicted_breaches_before:.1f} -> {q.predicted_breaches_after:.1f}",
        )
    return view


def queues(
    watch: Annotated[float, typer.Option(help="Refresh every N seconds (0: print once).")] = 0.0,
    target: TargetOption = DEFAULT_TARGET,
    api_key: KeyOption = None,
) -> None:
    """Show every queue's depth, oldest wait and agents; `--watch 1` keeps it live."""
    from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb

    def table() -> Table:
        names = [q.name for q in _call(target, api_key, "QueueService", "ListQueues",
                                       queues_pb.ListQueuesRequest()).queues]
        view = Table(title=f"queues at {target}")
        for column in ("queue", "waiting", "oldest wait (s)", "available", "busy"):
            view.add_column(column)
        for name in names:
            stats = _call(target, api_key, "QueueService", "GetQueueStats",
                          queues_pb.GetQueueStatsRequest(queue=name)).stats
            view.add_row(name, str(stats.depth),
                         f"{stats.oldest_wait.ToTimedelta().total_seconds():.1f}",
                         str(stats.agents_available), str(stats.agents_busy))
        return view

    if watch <= 0:
        console.print(table())
        return
    with Live(table(), console=console) as live:
        while True:
            time.sleep(watch)
            live.update(table())


def register(app: typer.Typer) -> None:
    """Add the client commands to the main app."""
    app.command()(submit)
    app.command()(queues)
    app.add_typer(agents_app, name="agents")
    app.add_typer(rules_app, name="rules")
