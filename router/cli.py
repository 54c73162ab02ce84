"""The `ticket-router` command line: one Typer app, each subcommand defined next to its code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from router.client_cli import register as register_client_commands
from scoring.cli import register as register_scoring_commands

app = typer.Typer(
    name="ticket-router",
    help="Intelligent ticket routing: score, route and measure support tickets.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.command()
def version() -> None:
    """Print the installed ticket-router version."""
    from importlib.metadata import version as package_version

    typer.echo(package_version("ticket-router"))


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="gRPC port (default 50051; 0: any).")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Prometheus scrape port (default 9464; 0 disables).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Embedded Redis AOF, SQLite history, default model.")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file.")] = None,
    model: Annotated[
        Path | None, typer.Option(help="Trained model directory (default: the demo model).")
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="Rules file (YAML/TOML) to publish.")] = None,
    cpu: Annotated[
        list[int] | None,
        typer.Option(help="Pin the router's threads to this CPU (repeat for more; Linux). "
                     "One router per core, each on its own, answers fastest."),
    ] = None,
) -> None:
    """Run the routing service until interrupted (Ctrl-C)."""
    import asyncio
    import logging

    from router.serve import Running, data_dir_option
    from router.serve import serve as run_server
    from router.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from router.errors import RouterError

    try:
        settings = load_settings(
            config,
            port=port,
            metrics_port=metrics_port,
            host=host,
            data_dir=data_dir_option(data_dir),
            model_dir=model,
            rules_file=rules,
            cpu_affinity=cpu or None,
        )
    except RouterError as error:  # bad settings: say what to fix, no traceback
        typer.echo(f"ticket-router: {error}", err=True)
        raise typer.Exit(2) from None

    def ready(running: Running) -> None:
        typer.echo(
            f"ticket-router serving gRPC on {settings.host}:{running.port} "
            f"(Redis {running.redis_url}, history {settings.history_url})"
        )

    try:
        asyncio.run(run_server(settings, ready))
    except RouterError as error:  # a refused configuration: say what to fix, no traceback
        typer.echo(f"ticket-router: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def demo(
    tickets: Annotated[int, typer.Option(help="How many demo tickets to stream.")] = 400,
    rate: Annotated[float, typer.Option(help="Tickets submitted per second.")] = 40.0,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data directory (default: `demo` in the user data directory)."),
    ] = None,
) -> None:
    """Start a router on embedded defaults, simulate a team and a ticket stream, summarise."""
    import asyncio

    from router.demo import demo_settings, run_demo

    asyncio.run(run_demo(demo_settings(data_dir), tickets=tickets, rate=rate))


@app.command()
def report(
    database_url: Annotated[
        str | None, typer.Option(help="History database URL (default: the settings').")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file.")] = None,
    since: Annotated[
        str | None, typer.Option(help="First submission time included (ISO 8601; UTC if bare).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="First submission time excluded.")] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Rules file whose sla_policy/escalation sections apply.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory of the HTML report.")] = Path("reports"),
    incident_log: Annotated[
        bool, typer.Option(help="Replay the UCI incident log: risk model vs 80 % timer.")
    ] = False,
    incident_log_path: Annotated[
        Path | None, typer.Option(help="The log (default ../shared/data/uci-incident-eventlog).")
    ] = None,
    risk_threshold: Annotated[
        list[float] | None,
        typer.Option(help="Replay flag threshold, repeatable (default: the escalation policy's)."),
    ] = None,
    rescore_every: Annotated[
        str, typer.Option(help="Replay re-scoring sweep between events, e.g. 1h; 0: events only.")
    ] = "1h",
) -> None:
    """SLA per queue and priority from history: table + HTML report with plots."""
    from router.report import report_command

    report_command(
        config=config,
        database_url=database_url,
        since=since,
        until=until,
        rules=rules,
        out=out,
        incident_log=incident_log,
        incident_log_path=incident_log_path,
        risk_thresholds=risk_threshold or (),
        rescore_every=rescore_every,
    )


register_scoring_commands(app)  # train, evaluate
register_client_commands(app)  # submit, queues, agents, rules


def main() -> None:
    """Entry point for `python -m router`."""
    app()
