"""The one Settings class. Built only by entry points (the CLI and ``create_app``), then passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

import platformdirs
from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from modelref.client.mirror import Origins
from modelref.client.sources import GITHUB, GithubLayout
from modelref.domain.deployment import Deployment, ReplicateMode
from modelref.domain.formats import Format
from modelref.domain.risk import RiskPolicy
from modelref.services.horde import CLIENT_AGENT


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string (``"1,2"``) for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class PendingQueueSettings(BaseModel):
    requestor_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """AI-Horde user ids allowed to propose changes (approvers may too). Empty: nobody (fails closed)."""
    approver_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """AI-Horde user ids allowed to review and apply changes. Empty: nobody (fails closed)."""
    max_pending_per_requestor: int = Field(default=500, ge=1, le=1_000_000)
    """How many pending changes one requestor may hold at once (over it: 400)."""

    _split = field_validator("requestor_ids", "approver_ids", mode="before")(_split_list)


class Settings(BaseSettings):
    """modelref's configuration, from ``HORDE_MODEL_REFERENCE_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="HORDE_MODEL_REFERENCE_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("modelref")))
    """Where the embedded database and caches live."""
    database_url: str | None = None
    """SQLAlchemy URL of the PRIMARY's database; default: a SQLite file in the data directory."""
    seed_source: str = GITHUB
    """What an empty PRIMARY imports on first start: a folder, a URL, ``github`` (the legacy repositories), or
    ``none`` (start empty)."""
    replicate_mode: ReplicateMode = ReplicateMode.PRIMARY
    canonical_format: Format = Format.V2
    """Which API version accepts writes on a PRIMARY."""
    primary_api_url: str = "https://models.aihorde.net/api"
    """The PRIMARY a REPLICA reads from (note the ``/api``); empty: the GitHub files only."""
    primary_api_timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds a REPLICA waits for each request to its sources."""
    cache_ttl_seconds: float = Field(default=60.0, ge=1, le=86_400)
    """How often a REPLICA asks its PRIMARY for changes (one conditional request when nothing changed)."""
    startup_wait: float = Field(default=30.0, ge=0, le=3_600)
    """How long a REPLICA with no copy on disk keeps trying its sources at start before it gives up."""
    enable_github_fallback: bool = True
    """Whether a REPLICA falls back to the legacy GitHub files when its PRIMARY does not answer."""
    ai_horde_url: str = Field(
        default="https://aihorde.net/api/",
        validation_alias=AliasChoices("AI_HORDE_URL", "HORDE_MODEL_REFERENCE_AI_HORDE_URL"),
    )
    """Base URL of the AI-Horde API (auth and live model usage)."""
    ai_horde_timeout: float = Field(default=10.0, gt=0, le=120)
    """Seconds each request to the AI-Horde may take (an API key check, a usage refresh)."""
    ai_horde_cache_ttl: float = Field(default=60.0, ge=1, le=86_400)
    """How long the AI-Horde's usage answers are used before they are refreshed."""
    ai_horde_max_age: float = Field(default=6 * 3600.0, ge=1, le=30 * 86_400)
    """How old usage data may be and still be served while the AI-Horde fails (its age is on /heartbeat)."""
    ai_horde_wait: float = Field(default=2.0, ge=0, le=60)
    """How long a request waits for the AI-Horde when no usage data is held (then: popular ``[]``, analyses 503)."""
    ai_horde_attempts: int = Field(default=3, ge=1, le=10)
    """Tries per usage refresh (in the background), with exponential back-off between them."""
    ai_horde_backoff: float = Field(default=1.0, ge=0, le=60)
    """The first back-off between tries, in seconds; it doubles up to 15 s."""
    ai_horde_client_agent: str = Field(default=CLIENT_AGENT, min_length=1, max_length=200)
    """The ``Client-Agent`` header sent to the AI-Horde (``name:version:contact``)."""
    deletion_risk: RiskPolicy = Field(default_factory=RiskPolicy)
    """Deletion risk's thresholds and preferred download hosts (``…_DELETION_RISK__PREFERRED_HOSTS='["a", "b"]'``,
    ``…__TEXT_CRITICAL_USAGE=10``, ``…__IMAGE_LOW_USAGE_PERCENT=0.0065``, …: ``domain/risk.RiskPolicy``)."""
    pending_queue: PendingQueueSettings = Field(default_factory=PendingQueueSettings)
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Origins allowed to call the API from a browser."""
    github: GithubLayout = Field(default_factory=GithubLayout)

    _split = field_validator("cors_allowed_origins", mode="before")(_split_list)

    @model_validator(mode="after")
    def _default_database(self) -> Self:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'modelref.sqlite3'}"
        return self

    @field_validator("replicate_mode", "canonical_format", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        if isinstance(value, str):
            return value.upper() if value.upper() in ReplicateMode.__members__ else value.lower()
        return value

    @property
    def deployment(self) -> Deployment:
        return Deployment(self.replicate_mode, self.canonical_format)

    @property
    def origins(self) -> Origins:
        """Where a REPLICA fetches from."""
        return Origins(
            primary_url=self.primary_api_url.rstrip("/") or None,
            github=self.github if self.enable_github_fallback else None,
            timeout=self.primary_api_timeout,
        )

    @property
    def replica_cache(self) -> Path:
        """Where a REPLICA keeps its last good copy."""
        return self.data_dir / "replica"

    @property
    def database(self) -> str:
        assert self.database_url is not None  # set by the validator above
        return self.database_url
