"""The one typed settings object: environment variables, an optional TOML file, named defaults.

Precedence, highest first: explicit overrides (command-line flags), environment variables
(`TICKET_ROUTER_*`, plus the conventional `REDIS_URL` and `DATABASE_URL`), the TOML file given
with `--config` or `TICKET_ROUTER_CONFIG`, then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, NonNegativeInt
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "TICKET_ROUTER_"
"""Prefix of every environment variable that sets a field, e.g. `TICKET_ROUTER_PORT`."""

CONFIG_ENV = "TICKET_ROUTER_CONFIG"
"""Environment variable naming a TOML settings file."""

DEFAULT_PORT = 50051
"""The conventional gRPC port."""

DEFAULT_METRICS_PORT = 9464
"""The OpenTelemetry Prometheus exporter's conventional port."""

DEFAULT_OFFER_TIMEOUT_S = 30.0
"""How long an agent has to accept an offer before it goes back to the front of its queue."""

DEFAULT_SLA_RESCORE_INTERVAL_S = 30.0
"""How often the live SLA sweep re-scores one ticket (the work is shared by all routers)."""

DEFAULT_HEALTH_CHECK_INTERVAL_S = 1.0
"""How often a router pings its Redis to set its grpc.health.v1 status (SERVING or not)."""

DEFAULT_MAX_BODY_CHARS = 50_000
"""Longest ticket body accepted; longer ones are refused with INVALID_ARGUMENT."""

DEFAULT_MAX_INFLIGHT_SUBMISSIONS = 128
"""SubmitTicket and ScoreTicket calls one router works on at once; more are refused at once."""

DEFAULT_HISTORY_WRITER_NICE = 10
"""The history writer's niceness: it yields a shared core to routing calls, catching up later."""


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/ticket-router`, else `~/.local/share/ticket-router`."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ticket-router"


class Settings(BaseSettings):
    """Everything a router process is configured by. Frozen once built."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address the gRPC server binds.")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(
        DEFAULT_METRICS_PORT, ge=0, le=65535, description="Prometheus scrape port; 0 disables."
    )
    metrics_enabled: bool = Field(
        True,
        description="Record metrics (OpenTelemetry SDK, exporters); false records nothing, "
        "e.g. `TICKET_ROUTER_METRICS_ENABLED=false` to measure what metrics cost.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Embedded Redis AOF files, the SQLite history and the default model.",
    )
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", f"{ENV_PREFIX}REDIS_URL", "redis_url"),
        description="Redis to share with other routers; unset starts a private embedded one.",
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", f"{ENV_PREFIX}DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of the history database; unset uses SQLite in data_dir.",
    )
    model_dir: Path | None = Field(
        None, description="Trained model artefact; unset trains or loads the default model."
    )
    rules_file: Path | None = Field(None, description="Routing rules (YAML or TOML) to publish.")
    offer_timeout_s: float = Field(DEFAULT_OFFER_TIMEOUT_S, gt=0)
    sla_rescore_interval_s: float = Field(
        DEFAULT_SLA_RESCORE_INTERVAL_S,
        gt=0,
        description="Each waiting or unanswered ticket's SLA risk is re-scored at most this often.",
    )
    health_check_interval_s: float = Field(
        DEFAULT_HEALTH_CHECK_INTERVAL_S,
        gt=0,
        description="How often the router pings Redis: NOT_SERVING (grpc.health.v1) while it "
        "does not answer, SERVING again once it does.",
    )
    max_body_chars: int = Field(DEFAULT_MAX_BODY_CHARS, gt=0)
    max_inflight_submissions: int = Field(
        DEFAULT_MAX_INFLIGHT_SUBMISSIONS,
        ge=0,
        description="SubmitTicket and ScoreTicket calls one router works on at once; more are "
        "refused with RESOURCE_EXHAUSTED and a retry delay (0: no limit).",
    )
    history_writer_nice: int = Field(
        DEFAULT_HISTORY_WRITER_NICE,
        ge=0,
        le=19,
        description="How much the history writer process lowers its CPU priority (nice), so "
        "that on a busy machine routing calls get a core before history catches up.",
    )
    cpu_affinity: list[NonNegativeInt] | None = Field(
        None,
        description="CPUs this router's threads run on (Linux; unset: any). One router per core, "
        "each pinned to its own, answers faster: its threads hand the GIL over on one core.",
    )
    api_keys_file: Path | None = Field(
        None, description="TOML/YAML file of API keys and their roles; unset disables auth."
    )
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    allow_insecure_public: bool = Field(
        False, description="Allow binding a non-loopback address without API keys."
    )

    @property
    def history_url(self) -> str:
        """The history database URL, defaulting to SQLite in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'history.sqlite3'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get(CONFIG_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from flags (`overrides`, `None` values ignored), env and a TOML file.

    Raises:
        InvalidArgument: the file is missing or a value is invalid.
    """
    from pydantic import ValidationError

    from router.errors import InvalidArgument

    given = {key: value for key, value in overrides.items() if value is not None}
    previous = os.environ.get(CONFIG_ENV)
    if config_file is not None:
        if not config_file.is_file():
            raise InvalidArgument(f"settings file {config_file} does not exist", field="config")
        os.environ[CONFIG_ENV] = str(config_file)
    try:
        return Settings(**given)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise InvalidArgument(f"invalid settings: {problems}") from error
    finally:
        if config_file is not None:
            if previous is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = previous
