"""Settings, one pydantic class per concern.

Every class reads its own environment prefix (``GRIDMAP_<CONCERN>_…``) and the project's
``.env`` file; the database URL also honours the standard ``DATABASE_URL``. Build them
once (:func:`load_settings`) and pass them down; nothing reads the environment later.

Examples
--------
>>> s = Settings(db=DatabaseSettings(database_url="postgres://u@h/x"))
>>> s.db.url
'postgresql+psycopg://u@h/x'
>>> s.db.test_url
'postgresql+psycopg://u@h/x_test'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where ``.env`` is looked for: the current directory, then the repository root.
ENV_FILES = (".env", str(Path(__file__).resolve().parents[1] / ".env"))

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gridmap"


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=ENV_FILES, env_file_encoding="utf-8", extra="ignore"
    )


def normalise_database_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver spelled out for SQLAlchemy.

    >>> normalise_database_url("postgresql://postgres@127.0.0.1/gridmap")
    'postgresql+psycopg://postgres@127.0.0.1/gridmap'
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = ""
    if "?" in tail:
        tail, query = tail.split("?", 1)
        query = "?" + query
    return f"{head}/{name}{query}"


class DatabaseSettings(BaseSettings):
    """Where PostgreSQL + PostGIS is.

    ``DATABASE_URL`` (or ``GRIDMAP_DATABASE_URL``) names the main database; the test
    database is ``GRIDMAP_TEST_DATABASE_URL`` or, failing that, the same server with
    ``_test`` appended to the database name.
    """

    model_config = _config("GRIDMAP_DB_")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "GRIDMAP_DATABASE_URL", "database_url"),
    )
    test_database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("GRIDMAP_TEST_DATABASE_URL", "test_database_url")
    )
    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout_s: float = 5.0
    #: Applied to every API connection (``statement_timeout``), milliseconds.
    statement_timeout_ms: int = 15_000
    #: The URL the web application connects with (``GRIDMAP_DB_APP_URL``). Empty: the
    #: main URL with the user replaced by :attr:`app_role` and no password (local trust
    #: authentication; with passwords, set this URL). The API refuses to start as a
    #: superuser or as the owner of the tables (:func:`gridmap.audit.require_unprivileged_login`).
    app_url: str = ""
    #: The login role of the default :attr:`app_url`: created by the migrations (0005,
    #: 0008) with read/write grants but no UPDATE, DELETE or TRUNCATE on the logs.
    app_role: str = "gridmap_app"
    connect_timeout_s: int = 5

    @property
    def url(self) -> str:
        return normalise_database_url(self.database_url)

    @property
    def app_login_url(self) -> str:
        """The URL the web application connects with.

        >>> DatabaseSettings(database_url="postgresql://owner:secret@db:5432/gridmap").app_login_url
        'postgresql+psycopg://gridmap_app@db:5432/gridmap'
        """
        if self.app_url:
            return normalise_database_url(self.app_url)
        from sqlalchemy.engine import URL, make_url

        main = make_url(self.url)
        login = URL.create(main.drivername, username=self.app_role or main.username, host=main.host,
                           port=main.port, database=main.database, query=main.query)
        return login.render_as_string(hide_password=False)

    @property
    def test_url(self) -> str:
        if self.test_database_url:
            return normalise_database_url(self.test_database_url)
        name = self.url.rpartition("/")[2].split("?", 1)[0] or "gridmap"
        return _with_database(self.url, f"{name}_test")

    @property
    def is_user_supplied(self) -> bool:
        """True when the URL came from the user: setup then never touches the local
        cluster nor installs packages."""
        return self.database_url != DEFAULT_DATABASE_URL


class AuthSettings(BaseSettings):
    """Tokens and password policy."""

    model_config = _config("GRIDMAP_AUTH_")

    #: HMAC key for bearer tokens. Empty: a random key kept in the database is used, so
    #: every process of one installation agrees without configuration.
    secret_key: str = ""
    token_ttl_minutes: int = 12 * 60
    min_password_length: int = 8
    #: Failed logins per username (and per client address) per window before 429.
    login_max_failures: int = 5
    login_window_s: int = 300


class ImportSettings(BaseSettings):
    """Limits for file imports and uploads."""

    model_config = _config("GRIDMAP_IMPORT_")

    #: Uploads through the API (and the request body cap).
    max_upload_bytes: int = 50 * 1024 * 1024
    #: Files read from the local disk by the CLI (an operator's own files).
    max_local_file_bytes: int = 10 * 1024**3
    max_zip_entries: int = 64
    max_zip_uncompressed_bytes: int = 500 * 1024 * 1024
    max_zip_ratio: float = 200.0
    #: A child boundary sticking out of its parent by more than this share of its own
    #: area is rejected (a sign of a wrong CRS); smaller slivers are accepted and reported.
    max_outside_parent_ratio: float = 0.01
    max_rows: int = 2_000_000


class PlacementSettings(BaseSettings):
    """How enterprises and hazards are placed into grids."""

    model_config = _config("GRIDMAP_PLACEMENT_")

    snap_tolerance_m: float = 50.0
    #: Where built grid indexes are kept (gridmap/spatial/cache.py); empty: ~/.cache/gridmap/grid-index.
    index_cache_dir: str | None = None


class CoverageSettings(BaseSettings):
    """Coverage rules and staffing standards (defaults from the field reports)."""

    model_config = _config("GRIDMAP_COVERAGE_")

    #: Gaps and overlaps smaller than this (m², geodesic) are slivers: counted, not reported.
    sliver_tolerance_m2: float = 1.0
    #: Every village needs at least this many patrol officers (巡查员).
    min_patrol_officers: int = 2
    #: A township needs one safety staff member per this many residents.
    residents_per_safety_staff: int = 10_000
    #: Townships holding at least this many enterprises …
    many_enterprises: int = 500
    #: … need at least this many full-time safety staff.
    min_full_time_staff: int = 10
    #: The "1+2+N" team: a full-time director and this many certified professionals.
    require_director: bool = True
    min_certified_professionals: int = 2
    #: … and at least this many further safety staff (the N of "1+2+N").
    min_other_staff: int = 1
    #: Grids without inspection, patrol or hazard activity for this many days are stale.
    stale_days: int = 90


class HazardSettings(BaseSettings):
    """The hazard loop: deadlines, attachments, escalation, public tip-offs."""

    model_config = _config("GRIDMAP_HAZARD_")

    deadline_days_general: int = 30
    deadline_days_major: int = 90
    #: Where attachments (两照一表) are stored, content-addressed by sha256.
    attachment_dir: str = str(Path(__file__).resolve().parents[1] / "var" / "attachments")
    attachment_max_bytes: int = 10 * 1024 * 1024
    #: Accepted attachment types (checked by content, not by the name the client sends).
    attachment_types: tuple[str, ...] = ("image/jpeg", "image/png", "application/pdf")
    #: An overdue hazard goes one level up at most this often.
    escalation_interval_days: int = 7
    #: Public tip-offs per client address per hour.
    tipoffs_per_hour: int = 5
    #: Public status look-ups of a tip-off (by tracking code) per client address per minute.
    tipoff_lookups_per_minute: int = 60


class StatsSettings(BaseSettings):
    """Assessment: colour grades of the township ranking by rectification rate."""

    model_config = _config("GRIDMAP_STATS_")

    green_rate: float = 0.9
    yellow_rate: float = 0.7


class TaxonomySettings(BaseSettings):
    """Where deployment-specific taxonomies live (JSON files); empty = defaults."""

    model_config = _config("GRIDMAP_TAXONOMY_")

    sectors_file: str = ""
    hazard_categories_file: str = ""


class Settings(BaseModel):
    """All settings, grouped by concern."""

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    placement: PlacementSettings = Field(default_factory=PlacementSettings)
    coverage: CoverageSettings = Field(default_factory=CoverageSettings)
    taxonomy: TaxonomySettings = Field(default_factory=TaxonomySettings)
    hazards: HazardSettings = Field(default_factory=HazardSettings)
    stats: StatsSettings = Field(default_factory=StatsSettings)


def for_local_files(settings: Settings) -> Settings:
    """The settings the CLI imports with: local files may exceed the upload cap."""
    imports = settings.imports.model_copy(update={"max_upload_bytes": settings.imports.max_local_file_bytes})
    return settings.model_copy(update={"imports": imports})


def load_settings() -> Settings:
    """Read every concern's settings from the environment and ``.env`` once."""
    return Settings()
