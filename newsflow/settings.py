"""All settings in one place.

Precedence, highest first: explicit arguments (CLI flags), ``NEWSFLOW_*`` environment
variables, the config file (``NEWSFLOW_CONFIG``, else ``./newsflow.toml`` when present),
then the defaults below.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from newsflow.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///newsflow.db"
CONFIG_ENV = "NEWSFLOW_CONFIG"
DEFAULT_CONFIG_FILE = Path("newsflow.toml")
DEFAULT_USER_AGENT = "newsflow/0.1 (news-ingestion pipeline; polite feed reader)"
DEFAULT_SCHEDULE_INTERVAL = 300
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,\-#LW]+")


class Settings(BaseSettings):
    """newsflow's settings; each field can be set as ``NEWSFLOW_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="forbid")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL or a path to a SQLite file; postgresql:// URLs use psycopg 3.",
    )
    taxonomy: Path | None = Field(
        None, description="Topic taxonomy (YAML); the built-in one when unset."
    )
    # A task run costs the flow's process and Prefect's server tens of milliseconds of CPU,
    # growing with the runs recorded: at 100k HTML pages, batches of 500 took the flow from
    # 1.38x to 1.05x the bare loop (bench/results.md).
    batch_size: int = Field(500, ge=1, le=100_000, description="Articles per task and commit.")
    db_retry_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Seconds to keep retrying a locked or unreachable database before a batch "
        "fails (it is then stored by the next run).",
    )
    db_read_retry_seconds: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="The same for the read-only commands (query, show, topics, stats, sources "
        "list): someone is waiting at the terminal, so they give up sooner.",
    )
    manifest_name: str = Field(
        "manifest.yaml", description="Per-directory file with metadata for plain-text articles."
    )
    backfill_concurrency: int = Field(
        2, ge=1, le=64, description="Batches a backfill stores at the same time."
    )
    workers: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Processes that parse, extract, sign and tag articles during ingest, "
        "backfill and polls (unset: one per CPU; 1: all in the main process). The pool starts "
        "only when an input has more than one batch of records, or when a poll has done a "
        "few seconds of that work in the main process.",
    )
    # Near-duplicate detection (processing/neardup.py). The first three shape the stored
    # signatures and LSH buckets: change them only for a new database. The last two are the
    # decision and can change at any time.
    neardup_enabled: bool = Field(
        True, description="Link near copies (syndicated, republished) to their original."
    )
    neardup_shingle_words: int = Field(
        5, ge=1, le=20, description="Words per shingle (the unit of text compared)."
    )
    neardup_num_perm: int = Field(
        128, ge=8, le=1024, description="MinHash permutations (signature length)."
    )
    neardup_bands: int = Field(
        32, ge=1, le=1024, description="LSH bands; must divide neardup_num_perm."
    )
    neardup_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Estimated share of the shorter text's shingles found in the longer one.",
    )
    neardup_min_length_ratio: float = Field(
        0.5, gt=0, le=1, description="The shorter text must have this share of the longer's."
    )

    # Live sources: fetching feeds and the pages they link to (see newsflow.fetch).
    user_agent: str = Field(
        DEFAULT_USER_AGENT, min_length=1, description="User-Agent sent with every request."
    )
    fetch_timeout: float = Field(20.0, gt=0, le=600, description="Seconds per request.")
    fetch_max_bytes: int = Field(
        10_000_000, ge=1024, description="Largest response body read (decoded), in bytes."
    )
    fetch_retries: int = Field(
        2, ge=0, le=10, description="Retries after a timeout, a network error or a 5xx."
    )
    fetch_backoff: float = Field(
        1.0, ge=0, le=300, description="Seconds before the first retry; doubled each time."
    )
    max_redirects: int = Field(5, ge=0, le=30, description="Redirects followed per request.")
    host_concurrency: int = Field(2, ge=1, le=64, description="Requests in flight per host.")
    host_delay: float = Field(
        1.0, ge=0, le=600, description="Seconds between two requests to the same host."
    )
    allow_private_addresses: bool = Field(
        False,
        description="Fetch article links that resolve to private, loopback or link-local "
        "addresses (off: only public addresses).",
    )
    poll_interval: int = Field(
        3600, ge=60, description="Seconds between polls of a feed that names no interval."
    )
    max_poll_backoff: int = Field(
        86_400, ge=60, description="Longest wait, in seconds, before re-polling a failing feed."
    )
    poll_concurrency: int = Field(4, ge=1, le=64, description="Feeds polled at once.")

    # Schedules: what `newsflow serve` runs, and when (see flows/schedule.py).
    schedule_interval: int | None = Field(
        None, ge=10, description="Seconds between served runs (300 when no cron is set either)."
    )
    schedule_cron: str | None = Field(
        None, description="Cron expression (UTC) for served runs; excludes schedule_interval."
    )
    serve_paths: list[Path] = Field(
        default_factory=list, description="Files or directories each served ingest run reads."
    )
    serve_sources: Path | None = Field(
        None, description="Sources file whose due feeds each served poll run polls."
    )

    @property
    def worker_count(self) -> int:
        """``workers``, or the CPUs this process may use when unset."""
        if self.workers:
            return self.workers
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0)) or 1
        return os.cpu_count() or 1

    @field_validator("database_url")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("schedule_cron")
    @classmethod
    def _cron_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = value.split()
        if not 5 <= len(fields) <= 6 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
            raise ValueError(f"{value!r} is not a cron expression (e.g. '*/15 * * * *')")
        return " ".join(fields)

    @model_validator(mode="after")
    def _one_schedule(self) -> Settings:
        if self.schedule_interval is not None and self.schedule_cron is not None:
            raise ValueError("set schedule_interval or schedule_cron, not both")
        return self

    @model_validator(mode="after")
    def _bands_divide_permutations(self) -> Settings:
        if self.neardup_num_perm % self.neardup_bands:
            raise ValueError(
                f"neardup_bands ({self.neardup_bands}) must divide "
                f"neardup_num_perm ({self.neardup_num_perm})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = config_path()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def config_path() -> Path | None:
    """The config file in force, or ``None``. A named file that is missing is an error."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"config file {path} (from {CONFIG_ENV}) does not exist")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and config file, with ``overrides`` (``None`` ignored)."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read config file: {exc}") from None
