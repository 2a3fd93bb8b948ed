"""Settings: the one place PostVault reads its environment.

Every other module receives a `Settings` (or reads `get_settings()`); nothing else touches
`os.environ`, so a deployment's whole configuration is the table in the README.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    db_pool_size: int = Field(
        default=10, gt=0, description="Database connections kept open per process."
    )
    db_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections opened under load, per process."
    )
    db_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a request waits for a free database connection before it is "
        "answered 503 with Retry-After.",
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
        description="Comma-separated host:port the fetcher may reach although private or "
        "plain HTTP (tests use loopback servers); a bare host allows ports 80 and 443 only, "
        "host:* any port.",
    )
    fetch_plain_http_hosts: str = Field(
        default="",
        description="Comma-separated host or host:port that collectors address over plain "
        "HTTP and that accounts may be registered with as http:// (test and development "
        "servers; each must also be in POSTVAULT_FETCH_ALLOW_HOSTS).",
    )
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    fetch_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_media_bytes: int = Field(
        default=500 * 1024 * 1024,
        gt=0,
        description="Largest media file archived (an image, a video, a podcast's audio), "
        "streamed to the store; a larger one is not archived and its version says so.",
    )
    media_max_bytes: int | None = Field(
        default=None, gt=0, description="The old name of POSTVAULT_MAX_MEDIA_BYTES, still read."
    )
    audio_embed_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        gt=0,
        description="An audio or video file up to this size is embedded in the PDF/A-3 "
        "snapshot; a larger one is named there by SHA-256 only.",
    )
    bluesky_resolver_url: str = "https://bsky.social"
    bluesky_plc_url: str = "https://plc.directory"
    bluesky_appview_url: str = "https://public.api.bsky.app"
    youtube_api_url: str = "https://www.googleapis.com/youtube/v3"
    youtube_api_key: str | None = None
    # Meta (Facebook Pages, Instagram professional accounts, Threads): docs/platforms.md
    meta_app_id: str | None = Field(default=None, description="The Meta app's id.")
    meta_app_secret: SecretStr | None = Field(
        default=None, description="The Meta app's secret (signs appsecret_proof)."
    )
    meta_graph_url: str = "https://graph.facebook.com/v24.0"
    meta_oauth_url: str = Field(
        default="https://www.facebook.com/v24.0/dialog/oauth",
        description="Where the employee grants access (the authorization endpoint).",
    )
    meta_token_url: str | None = Field(
        default=None,
        description="Where the authorization code is exchanged; default "
        "POSTVAULT_META_GRAPH_URL/oauth/access_token.",
    )
    meta_redirect_uri: str | None = Field(
        default=None,
        description="The connect flow's callback registered with the Meta app; default "
        "POSTVAULT_PUBLIC_URL + /connections/callback.",
    )
    threads_graph_url: str = "https://graph.threads.net/v1.0"
    threads_oauth_url: str = "https://threads.net/oauth/authorize"
    threads_refresh_days_before: int = Field(
        default=10, gt=0, description="Threads tokens are refreshed this many days before expiry."
    )
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
    snapshot_backlog: int = Field(
        default=500,
        gt=0,
        description="Captured versions waiting for their snapshot (ids, not bytes) before "
        "capture waits for the render pool to catch up.",
    )
    fixity_interval_days: int = Field(default=7, gt=0)

    # Open records
    request_due_soon_business_days: int = Field(default=8, ge=0)
    request_overdue_business_days: int = Field(default=10, ge=0)

    # Public portal (issue 20): requests, tracking and the reading room under /public/
    public_portal: bool = Field(
        default=False,
        description="Serve the public request portal and reading room under /public/.",
    )
    public_requests_per_address_per_day: int = Field(
        default=5, gt=0, description="Requests one address may file through the portal a day."
    )
    public_track_per_address_per_hour: int = Field(
        default=30,
        gt=0,
        description="Tracking forms and unknown tracking links one address may try an hour.",
    )
    public_searches_per_address_per_minute: int = Field(
        default=30, gt=0, description="Reading-room searches one address may run a minute."
    )
    # Fees (Wis. Stat. 19.35(3)), in cents: the actual, necessary and direct costs only.
    fee_page_cents: int = Field(default=25, ge=0, description="Reproduction, per page.")
    fee_file_cents: int = Field(default=0, ge=0, description="Reproduction, per electronic file.")
    fee_location_hour_cents: int = Field(
        default=2500, ge=0, description="Locating records, per hour (charged only from $50)."
    )
    fee_mailing_cents: int = Field(default=0, ge=0, description="Mailing or shipping a copy.")
    fee_prepayment_over_cents: int = Field(
        default=500, ge=0, description="Release waits for prepayment when the total is over this."
    )

    # Web
    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies; generated into the archive folder when unset.",
    )
    login_max_attempts: int = Field(default=5, gt=0)
    login_email_max_attempts: int = Field(
        default=20,
        gt=0,
        description="Failed sign-ins for one email address, from any address, before each "
        "further attempt waits (1 minute, doubling up to an hour).",
    )
    public_url: str | None = Field(
        default=None,
        description="The address people open PostVault at (https://archive.city.example); "
        "when https, cookies are Secure even behind a proxy that speaks plain HTTP to us.",
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) that encrypt stored secrets (platform access tokens), "
        "comma-separated, newest first; generated into the archive folder's parent when unset.",
    )
    archive_disk_min_free_mb: int = Field(
        default=1024,
        ge=0,
        description="/healthz fails when the archive disk has less free space than this.",
    )

    # --- collectors (platform layer) ---
    mastodon_plain_http_instances: str = Field(
        default="",
        description="Alias of POSTVAULT_FETCH_PLAIN_HTTP_HOSTS, kept for existing "
        "configurations: both lists are used.",
    )
    # X (Twitter), API v2: app/platforms/x/
    x_api_url: str = Field(default="https://api.x.com", description="X API v2 base URL.")
    x_bearer_token: SecretStr | None = Field(
        default=None,
        description="App bearer token for the X API v2; without it X posts are accepted and "
        "shown as not captured.",
    )
    x_monthly_read_budget: int | None = Field(
        default=None,
        ge=0,
        description="Posts the X API tier may read per calendar month (UTC); polls are spread "
        "so it is never exceeded. Unset: no monthly cap (rate-limit headers still apply).",
    )
    # Tumblr, API v2 or (without a key) the blog's RSS feed and post page: app/platforms/tumblr/
    tumblr_api_url: str = Field(
        default="https://api.tumblr.com", description="Tumblr API v2 base URL."
    )
    tumblr_api_key: SecretStr | None = Field(
        default=None,
        description="The OAuth consumer key of a Tumblr app, sent as api_key; without it posts "
        "are read from the blog's RSS feed and post page, and notes are not read.",
    )
    tumblr_blog_url: str = Field(
        default="https://{blog}.tumblr.com",
        description="Where a blog's RSS feed (/rss) and post pages (/post/<id>) are, with {blog} "
        "for the blog's name (test servers only change it).",
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

    # --- trusted timestamps (RFC 3161) ---
    tsa_url: str | None = Field(
        default=None,
        description="Time-stamping authority (RFC 3161, HTTP POST); every new snapshot gets a "
        "timestamp over its SHA-256. Unset = no timestamps.",
    )
    tsa_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the TSA's certificate chain (root, intermediates): tokens are "
        "then verified up to it when made and by `postvault verify`.",
    )
    tsa_timeout_seconds: float = Field(default=10.0, gt=0)
    audit_anchor_retain_years: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Years the archive store must refuse to delete each daily anchor of the "
        "audit chain (S3 Object Lock, COMPLIANCE mode, where the bucket has it).",
    )
    # --- observability ---
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per line with the request id"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for /metrics; unset = /metrics is off."
    )

    # --- notices (email) ---
    smtp_host: str | None = Field(default=None, description="Mail server; unset = no mail.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection (STARTTLS).")
    smtp_ca_file: Path | None = Field(
        default=None, description="CA certificate(s) to trust for the mail server's TLS."
    )
    smtp_from: str = Field(default="postvault@localhost", description="The From address.")

    # --- single sign-on (OpenID Connect) ---
    oidc_issuer: str | None = Field(
        default=None, description="The provider's issuer URL; with the client id, turns SSO on."
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_provider_name: str = Field(
        default="the city's sign-in", description='Shown as "Sign in with <name>".'
    )
    oidc_allowed_domains: str = Field(
        default="",
        description="Comma-separated email domains whose people get an employee account at "
        "their first sign-in.",
    )
    oidc_groups_claim: str = Field(default="groups", description="The ID token claim of groups.")
    oidc_officer_groups: str = Field(
        default="", description="Groups (comma-separated) whose members are records officers."
    )
    oidc_admin_groups: str = Field(
        default="", description="Groups (comma-separated) whose members are admins."
    )
    oidc_clock_skew_seconds: int = Field(
        default=60, ge=0, le=300, description="Leeway for ID token times (exp, iat)."
    )
    local_login_enabled: bool = Field(
        default=True, description="Email-and-password sign-in (turn off once SSO works)."
    )

    # --- web platform (browser capture, uploads) ---
    chromium: str = Field(
        default="/usr/bin/chromium",
        description="Chromium executable the web platform drives with Playwright (Debian's).",
    )
    web_capture_timeout_seconds: float = Field(
        default=60.0, gt=0, description="A whole browser capture of one page stops after this."
    )
    web_capture_max_requests: int = Field(
        default=400, gt=0, description="Requests one page capture may make; later ones refused."
    )
    web_capture_max_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, description="Bytes one page capture may download."
    )
    web_capture_max_resource_bytes: int = Field(
        default=25 * 1024 * 1024, gt=0, description="Largest single response a capture keeps."
    )
    web_capture_scroll_steps: int = Field(default=12, ge=0)
    web_capture_expand_steps: int = Field(
        default=12, ge=0, description="Clicks on 'see more' / 'view more comments' per capture."
    )
    web_site_hosts: str = Field(
        default="",
        description="Comma-separated host[:port]=site pairs treated as a recognised site "
        "(facebook, linkedin, tiktok, nextdoor, reddit, instagram): test and mirror hosts.",
    )
    web_wacz_embed_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        gt=0,
        description="A WACZ up to this size is embedded in the PDF/A-3; a larger one is "
        "named there by SHA-256 only.",
    )
    upload_max_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="Largest evidence file one upload may add."
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("tsa_url")
    @classmethod
    def _http_tsa(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def public_url_is_https(self) -> bool:
        return (self.public_url or "").lower().startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def allowed_fetch_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.fetch_allow_hosts.split(",") if h.strip())

    @property
    def media_cap(self) -> int:
        """POSTVAULT_MAX_MEDIA_BYTES, or its old name POSTVAULT_MEDIA_MAX_BYTES when only that
        one is set."""
        if self.media_max_bytes is not None and "max_media_bytes" not in self.model_fields_set:
            return self.media_max_bytes
        return self.max_media_bytes

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
    request_files_series: str | None = Field(
        default=None,
        description="The retention series (its code in the schedules folder, e.g. the city's "
        "public records requests series EX-PRR-01 of the example schedule) of the files of a "
        "records request: its response packages and redacted copies. Counted from the day the "
        "request was closed; destroyed through the normal two-step disposition. Unset: they "
        "are kept, and the disposition report says so.",
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
