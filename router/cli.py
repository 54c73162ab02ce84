"""The `ticket-router` command line: one Typer app, each subcommand defined next to its code."""

from __future__ import annotations

import typer

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


def main() -> None:
    """Entry point for `python -m router`."""
    app()
