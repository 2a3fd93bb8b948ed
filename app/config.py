"""Settings: the one place PostVault reads its environment.

Every other module receives a `Settings` (or reads `get_settings()`); nothing else touches
`os.environ`, so a deployment's whole configuration is the table in the README.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting is missing, unreadable or wrong; the message names it in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTVAULT_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/postvault.db",
        description="SQLAlchemy URL; postgresql+psycopg://user@host/db for production.",
    )
    archive_dir: Path = Field(default=Path("./var/archive"), description="Local archive folder.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    schedules_dir: Path = Field(
        default=PROJECT_ROOT / "retention_schedules",
        description="Folder of retention schedule YAML files and classification.yaml.",
    )
    run_scheduler: bool = Field(
        default=True, description="Run the capture/fixity/disposition scheduler inside serve."
    )
    worker_id: str | None = Field(
        default=None, description="Name of this process in work claims (default: host:pid)."
    )

    # Collectors
    fetch_allow_hosts: str = Field(
        default="",
        description="Comma-separated host or host:port the fetcher may reach although private "
        "or plain HTTP (tests use loopback servers).",
    )
    fetch_plain_http_hosts: str = Field(
        default="",
        description="Comma-separated host or host:port that collectors address over plain "
        "HTTP and that accounts may be registered with as http:// (test and development "
        "servers; each must also be in POSTVAULT_FETCH_ALLOW_HOSTS).",
    )
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    fetch_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    media_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    bluesky_resolver_url: str = "https://bsky.social"
    bluesky_plc_url: str = "https://plc.directory"
    bluesky_appview_url: str = "https://public.api.bsky.app"
    youtube_api_url: str = "https://www.googleapis.com/youtube/v3"
    youtube_api_key: str | None = None
    capture_lease_seconds: int = Field(default=300, gt=0)
    capture_batch_size: int = Field(default=20, gt=0)
    capture_interval_seconds: int = Field(default=60, gt=0)
    capture_max_failures: int = Field(default=5, gt=0)

    # --- jobs and shutdown ---
    job_lease_seconds: int = Field(
        default=120,
        gt=0,
        description="Lease on a long job (response package, disposition run), renewed while "
        "it runs; a job whose process died is resumed once its lease runs out.",
    )
    shutdown_grace_seconds: float = Field(
        default=8.0,
        ge=0,
        description="On SIGTERM, work already started may finish within this many seconds; "
        "what is left returns to the pool when its lease runs out.",
    )

    # Snapshots and storage
    storage_backend: str = Field(default="local", pattern="^(local|s3)$")
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    render_workers: int = Field(default=0, ge=0, description="0 = one per CPU core.")
    fixity_interval_days: int = Field(default=7, gt=0)

    # Open records
    request_due_soon_business_days: int = Field(default=8, ge=0)
    request_overdue_business_days: int = Field(default=10, ge=0)

    # Web
    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies; generated into the archive folder when unset.",
    )
    login_max_attempts: int = Field(default=5, gt=0)

    # --- collectors (platform layer) ---
    mastodon_plain_http_instances: str = Field(
        default="",
        description="Alias of POSTVAULT_FETCH_PLAIN_HTTP_HOSTS, kept for existing "
        "configurations: both lists are used.",
    )

    # --- web ---
    session_max_age_hours: int = Field(
        default=168, gt=0, description="A web sign-in lasts this long (default one week)."
    )

    # --- snapshots and storage ---
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key; unset = boto3's usual credential chain."
    )
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = Field(default="", description="Key prefix inside the S3 bucket.")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def allowed_fetch_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.fetch_allow_hosts.split(",") if h.strip())

    @property
    def plain_http_hosts(self) -> frozenset[str]:
        """POSTVAULT_FETCH_PLAIN_HTTP_HOSTS and its alias POSTVAULT_MASTODON_PLAIN_HTTP_INSTANCES."""
        listed = f"{self.fetch_plain_http_hosts},{self.mastodon_plain_http_instances}"
        return frozenset(h.strip().lower() for h in listed.split(",") if h.strip())

    # --- retention ---
    allow_self_approval: bool = Field(
        default=True,
        description="Whether a records officer may approve a disposition batch they proposed "
        "themselves. Allowed by default (a small city may have one officer), with a warning on "
        "the batch and in the audit log; false requires a second records officer.",
    )
    retention_timezone: str = Field(
        default="America/Chicago",
        description="Time zone in which retention dates (created year, due dates) are taken.",
    )
    holiday_calendar: str = Field(
        default="wisconsin",
        description="Holiday calendar(s) for business-day periods, joined by '+' "
        "(shipped: wisconsin, us_federal).",
    )
    holidays_dir: Path | None = Field(
        default=None, description="Folder of holiday calendar YAML files (default: shipped)."
    )

    @field_validator("retention_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a known time zone") from None
        return value


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a validation error into one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(
            f"setting POSTVAULT_{field.upper()} is invalid: {first['msg']}"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
