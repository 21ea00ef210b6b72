"""Settings, read once from STEPWISE_* environment variables and validated at start."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stepwise.permissions.session_rules import SessionRules

BROKER_SCHEMES = ("memory", "redis", "rediss", "postgres", "postgresql")
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SQLITE_ENGINES = ("inline", "aiosqlite")
PASSWORD_HASHING = ("standard", "fast")  # permissions/auth.py HASHERS
# Room for a multipart request's other parts (operations, map, part headers) next to its file.
MULTIPART_MARGIN_BYTES = 1024 * 1024
MAX_UPLOAD_MB_CEILING = 2047  # Instructions.size is a GraphQL Int (32 bits)
MAX_NOTIFICATION_INTERVAL_SECONDS = 3600  # DUE_SOON gives 24 h notice: an hour late at most


class ConfigError(ValueError):
    """A bad setting; its message is one line a person can act on."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".stepwise")
    database_url: str = ""
    broker_url: str = "memory://"
    broker_timeout_ms: float = 1000.0  # longest a publish (or a broker ping) may take
    ws_init_timeout_ms: float = 10_000.0  # a websocket without connection_init by then is closed
    headers_timeout_ms: float = 10_000.0  # a connection whose request headers are not in by then is closed
    ws_deflate: bool = False  # offer per-message deflate to websocket clients (`stepwise serve`)
    max_subscriptions_per_user: int = 100  # live subscriptions of one user in one process
    max_subscriptions_per_process: int = 10_000
    allowed_origins: tuple[str, ...] = ()
    max_request_mb: float = 10.0
    max_query_depth: int = 12
    max_aliases: int = 30
    max_query_cost: int = 50_000
    log_level: str = "INFO"
    sqlite_engine: str = "inline"
    sqlite_loop_budget_ms: float = 0.0  # 0: unchecked (production); tests run with 20
    files_dir: Path = Path(".stepwise/files")
    max_upload_mb: float = 20.0
    login_max_failures: int = 10
    login_max_failures_per_address: int = 100
    login_window_minutes: float = 15.0
    token_idle_days: float = 30.0
    password_hashing: str = "standard"

    @property
    def session_rules(self) -> SessionRules:
        return SessionRules(self.login_max_failures, self.login_max_failures_per_address,
                            int(self.login_window_minutes * 60), int(self.token_idle_days * 86400))
    notification_interval_seconds: float = 60.0

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * 1024 * 1024)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_multipart_request_bytes(self) -> int:
        """A multipart request may carry an allowed file, whatever the general request limit."""
        return max(self.max_request_bytes, self.max_upload_bytes + MULTIPART_MARGIN_BYTES)

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def broker_is_memory(self) -> bool:
        return self.broker_url.startswith("memory:")


def _positive_number(env: Mapping[str, str], name: str, default: float, cast=float):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    return value


def _milliseconds_or_off(env: Mapping[str, str], name: str) -> float:
    """A duration in ms, 0 (the default) meaning off."""
    raw = (env.get(name) or "0").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must be 0 (off) or more")
    return value


def _on_or_off(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise ConfigError(f"{name}={raw!r} must be on or off (1/0, true/false)")


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Where a user's data lives when STEPWISE_DATA_DIR is unset: the same place whatever the
    current directory (the rules platformdirs follows, written out to spare a dependency):
    $XDG_DATA_HOME/stepwise or ~/.local/share/stepwise on Linux, ~/Library/Application
    Support/stepwise on macOS, %LOCALAPPDATA%\\stepwise on Windows."""
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "stepwise"
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "stepwise"
    xdg = env.get("XDG_DATA_HOME", "")
    # The XDG spec ignores a relative value.
    return (Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share") / "stepwise"


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every STEPWISE_* variable; raise ConfigError on the first bad one."""
    env = os.environ if env is None else env
    known = {
        "STEPWISE_DATA_DIR", "STEPWISE_DATABASE_URL", "STEPWISE_BROKER_URL",
        "STEPWISE_ALLOWED_ORIGINS", "STEPWISE_MAX_REQUEST_MB", "STEPWISE_MAX_QUERY_DEPTH",
        "STEPWISE_MAX_ALIASES", "STEPWISE_MAX_QUERY_COST", "STEPWISE_LOG_LEVEL",
        "STEPWISE_SQLITE_ENGINE", "STEPWISE_SQLITE_LOOP_BUDGET_MS", "STEPWISE_BROKER_TIMEOUT_MS",
        "STEPWISE_WS_INIT_TIMEOUT_MS", "STEPWISE_HEADERS_TIMEOUT_MS", "STEPWISE_MAX_SUBSCRIPTIONS_PER_USER",
        "STEPWISE_MAX_SUBSCRIPTIONS_PER_PROCESS",
    }
    known |= {"STEPWISE_FILES_DIR", "STEPWISE_MAX_UPLOAD_MB"}
    known |= {"STEPWISE_WS_DEFLATE"}
    known |= {"STEPWISE_LOGIN_MAX_FAILURES", "STEPWISE_LOGIN_MAX_FAILURES_PER_ADDRESS",
              "STEPWISE_LOGIN_WINDOW_MINUTES", "STEPWISE_TOKEN_IDLE_DAYS", "STEPWISE_PASSWORD_HASHING"}
    known |= {"STEPWISE_FILES_DIR", "STEPWISE_MAX_UPLOAD_MB", "STEPWISE_NOTIFICATION_INTERVAL_SECONDS"}
    # Test-only variables are read by the test suite, not the server.
    unknown = sorted(
        k for k in env if k.startswith("STEPWISE_") and k not in known
        and not k.startswith("STEPWISE_TEST_")
    )
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]} (see the configuration table in README.md)")

    data_dir = Path(env.get("STEPWISE_DATA_DIR") or default_data_dir(env))
    database_url = env.get("STEPWISE_DATABASE_URL") or f"sqlite://{data_dir / 'stepwise.sqlite3'}"
    if _scheme(database_url) not in DATABASE_SCHEMES:
        raise ConfigError(
            f"STEPWISE_DATABASE_URL={database_url!r} must start with sqlite://, postgres:// or postgresql://"
        )
    broker_url = env.get("STEPWISE_BROKER_URL") or "memory://"
    if _scheme(broker_url) not in BROKER_SCHEMES:
        raise ConfigError(
            f"STEPWISE_BROKER_URL={broker_url!r} must start with memory://, redis://, rediss:// or postgres://"
        )
    origins = tuple(
        o.strip().rstrip("/") for o in env.get("STEPWISE_ALLOWED_ORIGINS", "").split(",") if o.strip()
    )
    for origin in origins:
        if not origin.startswith(("http://", "https://")):
            raise ConfigError(
                f"STEPWISE_ALLOWED_ORIGINS entry {origin!r} must be an origin like https://app.example.com"
            )
    max_upload_mb = _positive_number(env, "STEPWISE_MAX_UPLOAD_MB", 20.0)
    if max_upload_mb > MAX_UPLOAD_MB_CEILING:
        raise ConfigError(f"STEPWISE_MAX_UPLOAD_MB={max_upload_mb:g} must be at most {MAX_UPLOAD_MB_CEILING}")
    log_level = (env.get("STEPWISE_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"STEPWISE_LOG_LEVEL={log_level!r} must be one of {', '.join(LOG_LEVELS)}")
    sqlite_engine = (env.get("STEPWISE_SQLITE_ENGINE") or "inline").lower()
    if sqlite_engine not in SQLITE_ENGINES:
        raise ConfigError(f"STEPWISE_SQLITE_ENGINE={sqlite_engine!r} must be one of {', '.join(SQLITE_ENGINES)}")
    sqlite_loop_budget_ms = _milliseconds_or_off(env, "STEPWISE_SQLITE_LOOP_BUDGET_MS")
    password_hashing = (env.get("STEPWISE_PASSWORD_HASHING") or "standard").lower()
    if password_hashing not in PASSWORD_HASHING:
        raise ConfigError(f"STEPWISE_PASSWORD_HASHING={password_hashing!r} must be one of {', '.join(PASSWORD_HASHING)}")
    notification_interval = _positive_number(env, "STEPWISE_NOTIFICATION_INTERVAL_SECONDS", 60.0)
    if notification_interval > MAX_NOTIFICATION_INTERVAL_SECONDS:
        raise ConfigError(f"STEPWISE_NOTIFICATION_INTERVAL_SECONDS={notification_interval:g} must be at most "
                          f"{MAX_NOTIFICATION_INTERVAL_SECONDS}")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url,
        broker_timeout_ms=_positive_number(env, "STEPWISE_BROKER_TIMEOUT_MS", 1000.0),
        ws_init_timeout_ms=_positive_number(env, "STEPWISE_WS_INIT_TIMEOUT_MS", 10_000.0),
        headers_timeout_ms=_positive_number(env, "STEPWISE_HEADERS_TIMEOUT_MS", 10_000.0),
        ws_deflate=_on_or_off(env, "STEPWISE_WS_DEFLATE", False),
        max_subscriptions_per_user=_positive_number(env, "STEPWISE_MAX_SUBSCRIPTIONS_PER_USER", 100, int),
        max_subscriptions_per_process=_positive_number(env, "STEPWISE_MAX_SUBSCRIPTIONS_PER_PROCESS", 10_000, int),
        allowed_origins=origins,
        max_request_mb=_positive_number(env, "STEPWISE_MAX_REQUEST_MB", 10.0),
        max_query_depth=_positive_number(env, "STEPWISE_MAX_QUERY_DEPTH", 12, int),
        max_aliases=_positive_number(env, "STEPWISE_MAX_ALIASES", 30, int),
        max_query_cost=_positive_number(env, "STEPWISE_MAX_QUERY_COST", 50_000, int),
        log_level=log_level,
        sqlite_engine=sqlite_engine,
        sqlite_loop_budget_ms=sqlite_loop_budget_ms,
        files_dir=Path(env.get("STEPWISE_FILES_DIR") or data_dir / "files"),
        max_upload_mb=max_upload_mb,
        login_max_failures=_positive_number(env, "STEPWISE_LOGIN_MAX_FAILURES", 10, int),
        login_max_failures_per_address=_positive_number(env, "STEPWISE_LOGIN_MAX_FAILURES_PER_ADDRESS", 100, int),
        login_window_minutes=_positive_number(env, "STEPWISE_LOGIN_WINDOW_MINUTES", 15.0),
        token_idle_days=_positive_number(env, "STEPWISE_TOKEN_IDLE_DAYS", 30.0),
        password_hashing=password_hashing,
        notification_interval_seconds=notification_interval,
    )
