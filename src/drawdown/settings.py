"""Runtime configuration, read once from `DRAWDOWN_*` environment variables.

Every limit the service enforces is a named setting here, so an operator can find
and change it in one place (style rule 9: a limit on everything).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field


class SettingError(ValueError):
    """A DRAWDOWN_* variable holds a value drawdown cannot use; the message says which."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SettingError(f"{name} must be a whole number, not {raw!r}") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SettingError(f"{name} must be a number, not {raw!r}") from None


def _env_positive(name: str, default: float) -> float:
    value = _env_float(name, default)
    if not value > 0:
        raise SettingError(f"{name} must be above 0, not {value}")
    return value


def _env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise SettingError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


# sqlite:///PATH (a driver may follow `sqlite+`); PATH relative unless it starts with "/".
_SQLITE_URL = re.compile(r"(?P<scheme>sqlite(?:\+\w+)?:///)(?P<path>[^?]*)(?P<query>\?.*)?", re.S)


def resolve_database_url(url: str, cwd: str | None = None) -> str:
    """`url` with a relative SQLite path made absolute against `cwd` (default: the working
    directory of the command), so `./drawdown.db` or `sqlite:///rel.db` is the file where
    the command ran, whatever directory a worker, a script or a library changes to later.
    Other URLs (PostgreSQL, in-memory SQLite, absolute paths) are returned unchanged."""
    match = _SQLITE_URL.fullmatch(url)
    if match is None:
        return url
    path = match["path"]
    if not path or path == ":memory:" or path.startswith("/"):
        return url
    absolute = os.path.abspath(os.path.join(cwd or os.getcwd(), path))
    return f"{match['scheme']}{absolute}{match['query'] or ''}"


def _env_keys() -> tuple[str, ...]:
    raw = os.environ.get("DRAWDOWN_API_KEYS", "")
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def _env_networks(name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDR networks, each checked, in canonical form."""
    raw = os.environ.get(name, "")
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingError(
                f"{name} must list IP addresses or networks (10.0.0.0/8), not {item!r}"
            ) from None
    return tuple(networks)


LOG_LEVELS = ("debug", "info", "warning", "error")
FORWARDED_HEADERS = ("x-forwarded-for", "forwarded")
DRAFT_INVOICES = ("never", "manual_issuance")


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; build with `Settings.from_env()`."""

    database_url: str = "sqlite:///./drawdown.db"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    default_timezone: str = "UTC"
    # Keys given by the operator in the environment (docs/rules.md §1.4), on top of the
    # hashed keys created with `drawdown keys create` or the console.
    env_api_keys: tuple[str, ...] = field(default_factory=tuple)
    request_body_bytes_max: int = 1024 * 1024
    page_limit_default: int = 20
    page_limit_max: int = 100
    idempotency_ttl_hours: int = 48
    idempotency_key_length_max: int = 64
    metadata_keys_max: int = 50
    metadata_key_length_max: int = 40
    metadata_value_length_max: int = 500
    description_length_max: int = 1000
    # Open credit blocks per ledger (expired, used-up blocks do not count): every write of
    # a ledger reads its open blocks, so this bounds what one write can cost.
    blocks_per_ledger_max: int = 10_000
    sqlite_busy_timeout_ms: int = 30_000
    sqlite_synchronous: str = "FULL"
    # Group commit: at most this many queued writes share one transaction and one fsync;
    # 1 turns group commit off (each write commits alone).
    commit_batch_max: int = 64
    console_secret: str | None = None
    # Whether the console is served over HTTPS (a TLS proxy in front): its cookies are then
    # always `Secure`, even when the proxy is not trusted to say so (`on`/`off`).
    console_https: str = "off"
    # Console sign-in: password checks (argon2id, 64 MiB each) per second and process, the
    # global bound on what sign-ins can cost; an attempt waits for its turn up to 10 s.
    signin_checks_per_second: float = 10.0
    # Peers whose forwarded headers are believed (IP addresses or CIDR networks, none by
    # default), and which header their proxy writes: X-Forwarded-For or RFC 7239 Forwarded.
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    forwarded_header: str = "x-forwarded-for"
    # Requests per second per API key and process; 0 turns rate limiting off.
    rate_limit_per_second: float = 0
    rate_limit_burst: int = 50
    # Overdraft policy for customers without their own: "allow" (Orb's, R-NEG-1) or "refuse"
    # (a decrement above the available balance is a 400).
    overdraft: str = "allow"
    # Webhooks: whether this process delivers ("on"/"off"), how often it looks for due
    # deliveries, the first retry delay (then x4 each attempt, at most 6 h), attempts before a
    # delivery is given up, the per-request timeout, and how many days before a block expires
    # `customer.credits_expiring` is sent (looked for every `webhook_expiring_scan_seconds`).
    webhook_delivery: str = "on"
    webhook_poll_seconds: float = 1.0
    webhook_retry_base_seconds: float = 10.0
    webhook_attempts_max: int = 10
    webhook_timeout_seconds: float = 10.0
    credits_expiring_days: int = 7
    webhook_expiring_scan_seconds: float = 60.0
    # Operations: whether commands apply pending migrations themselves ("on") or refuse to
    # start until `drawdown migrate` ran ("off"); the server's log level and format.
    auto_migrate: str = "on"
    log_level: str = "info"
    log_format: str = "text"
    # Usage: how late an event may arrive (its timestamp at most this far in the past) and
    # how long usage stays pending before it is deducted; 0 deducts as soon as it is
    # accepted (and then accepts any past timestamp: nothing is held open). Whether this
    # process runs the deducter ("on"/"off"), how often it looks for usage that is due, and
    # the most events one ingest request may carry (Orb's limit is 500).
    usage_grace_seconds: int = 3600
    usage_deduction: str = "on"
    usage_deduct_poll_seconds: float = 1.0
    usage_events_per_request_max: int = 500
    # Usage still undeducted this long after it became due (its timestamp plus the grace
    # period) is late: the deducter logs a warning, at most once a minute, until it is not.
    usage_late_warning_seconds: int = 300
    # Draft invoices: "never" (R-INV-4: a credit purchase's invoice is issued, or paid
    # at creation) or "manual_issuance" (Orb's meaning of a customer's `auto_issuance:
    # false`: its purchase invoices start as drafts that `invoices.issue` issues).
    draft_invoices: str = "never"
    # One clock: a process refuses to write (and /ready fails) while its clock and the
    # database's differ by more than this (store/clock.py).
    clock_skew_max_seconds: float = 2.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=resolve_database_url(
                os.environ.get("DRAWDOWN_DATABASE_URL") or cls.database_url
            ),
            host=os.environ.get("DRAWDOWN_HOST", cls.host),
            port=_env_int("DRAWDOWN_PORT", cls.port),
            workers=_env_int("DRAWDOWN_WORKERS", cls.workers),
            default_timezone=os.environ.get("DRAWDOWN_DEFAULT_TIMEZONE", cls.default_timezone),
            env_api_keys=_env_keys(),
            request_body_bytes_max=_env_int(
                "DRAWDOWN_REQUEST_BODY_BYTES_MAX", cls.request_body_bytes_max
            ),
            idempotency_ttl_hours=_env_int(
                "DRAWDOWN_IDEMPOTENCY_TTL_HOURS", cls.idempotency_ttl_hours
            ),
            sqlite_synchronous=os.environ.get(
                "DRAWDOWN_SQLITE_SYNCHRONOUS", cls.sqlite_synchronous
            ).upper(),
            commit_batch_max=_env_int("DRAWDOWN_COMMIT_BATCH_MAX", cls.commit_batch_max),
            blocks_per_ledger_max=_env_int(
                "DRAWDOWN_BLOCKS_PER_LEDGER_MAX", cls.blocks_per_ledger_max
            ),
            console_secret=os.environ.get("DRAWDOWN_CONSOLE_SECRET") or None,
            console_https=_env_choice("DRAWDOWN_CONSOLE_HTTPS", ("on", "off"), cls.console_https),
            signin_checks_per_second=_env_positive("DRAWDOWN_SIGNIN_CHECKS_PER_SECOND",
                                                   cls.signin_checks_per_second),
            trusted_proxies=_env_networks("DRAWDOWN_TRUSTED_PROXIES"),
            forwarded_header=_env_choice("DRAWDOWN_FORWARDED_HEADER", FORWARDED_HEADERS,
                                         cls.forwarded_header),
            rate_limit_per_second=_env_float("DRAWDOWN_RATE_LIMIT_PER_SECOND", 0),
            rate_limit_burst=_env_int("DRAWDOWN_RATE_LIMIT_BURST", cls.rate_limit_burst),
            overdraft=_env_choice("DRAWDOWN_OVERDRAFT", ("allow", "refuse"), cls.overdraft),
            webhook_delivery=_env_choice("DRAWDOWN_WEBHOOK_DELIVERY", ("on", "off"),
                                         cls.webhook_delivery),
            webhook_poll_seconds=_env_float("DRAWDOWN_WEBHOOK_POLL_SECONDS",
                                            cls.webhook_poll_seconds),
            webhook_retry_base_seconds=_env_float("DRAWDOWN_WEBHOOK_RETRY_BASE_SECONDS",
                                                  cls.webhook_retry_base_seconds),
            webhook_attempts_max=_env_int("DRAWDOWN_WEBHOOK_ATTEMPTS_MAX",
                                          cls.webhook_attempts_max),
            webhook_timeout_seconds=_env_float("DRAWDOWN_WEBHOOK_TIMEOUT_SECONDS",
                                               cls.webhook_timeout_seconds),
            credits_expiring_days=_env_int("DRAWDOWN_CREDITS_EXPIRING_DAYS",
                                           cls.credits_expiring_days),
            webhook_expiring_scan_seconds=_env_float("DRAWDOWN_WEBHOOK_EXPIRING_SCAN_SECONDS",
                                                     cls.webhook_expiring_scan_seconds),
            auto_migrate=_env_choice("DRAWDOWN_AUTO_MIGRATE", ("on", "off"), cls.auto_migrate),
            log_level=_env_choice("DRAWDOWN_LOG_LEVEL", LOG_LEVELS, cls.log_level),
            log_format=_env_choice("DRAWDOWN_LOG_FORMAT", ("text", "json"), cls.log_format),
            usage_grace_seconds=_env_int("DRAWDOWN_USAGE_GRACE_SECONDS", cls.usage_grace_seconds),
            usage_deduction=_env_choice("DRAWDOWN_USAGE_DEDUCTION", ("on", "off"),
                                        cls.usage_deduction),
            usage_deduct_poll_seconds=_env_float("DRAWDOWN_USAGE_DEDUCT_POLL_SECONDS",
                                                 cls.usage_deduct_poll_seconds),
            usage_events_per_request_max=_env_int("DRAWDOWN_USAGE_EVENTS_PER_REQUEST_MAX",
                                                  cls.usage_events_per_request_max),
            usage_late_warning_seconds=_env_int("DRAWDOWN_USAGE_LATE_WARNING_SECONDS",
                                                cls.usage_late_warning_seconds),
            draft_invoices=_env_choice("DRAWDOWN_DRAFT_INVOICES", DRAFT_INVOICES,
                                       cls.draft_invoices),
            clock_skew_max_seconds=_env_float("DRAWDOWN_CLOCK_SKEW_MAX_SECONDS",
                                              cls.clock_skew_max_seconds),
        )  # fmt: skip
