"""Tenaz's configuration: one frozen object, read from `TENAZ_*` variables once.

Tests build `Settings(...)` directly and never read the ambient environment.
Durations accept plain seconds ("1800") or a unit suffix ("30m", "5s", "2h",
"7d").
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from jobs.base_url import BaseUrl, parse_allowlist
from jobs.digits import is_ascii_digits
from jobs.logs import FORMATS as LOG_FORMATS
from jobs.retry_policy import SEND_GUARD, DeadlineRule

# re.ASCII: \d alone matches every script's digits, which float() reads (Arabic-Indic 12h as 12h).
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.ASCII)
# Time the last planned attempt has to reach a worker before it could no longer end in time.
_LAST_CALL_SLACK = dt.timedelta(minutes=1)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_Parsed = TypeVar("_Parsed")
# An export that may take longer than a minute is one the collector will not answer.
_MAX_OTLP_TIMEOUT_MS = 60_000


class SettingsError(ValueError):
    """A TENAZ_* variable has a value Tenaz cannot use.

    The message is one line that names the variable and says what to do.
    """


def split_address(address: str) -> tuple[str, int]:
    """Host and port of "host:port" ("[::1]:8080" for IPv6; an empty host is every address)."""
    host, colon, port = address.rpartition(":")
    if not colon or not is_ascii_digits(port) or int(port) > 65535:
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]"), int(port)


def is_loopback(address: str) -> bool:
    """Whether a host:port address only listens on this machine."""
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bound_hosts(host: str) -> frozenset[str] | None:
    """The addresses a listener on `host` takes (None: every address, a wildcard)."""
    if host.lower() == "localhost":
        return frozenset({"127.0.0.1", "::1"})
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return frozenset({host.lower()}) if host else None
    return None if address.is_unspecified else frozenset({address.compressed})


def _share_a_port(first: str, second: str) -> bool:
    """Whether listeners on two host:port addresses would take the same port.

    Tenaz binds with SO_REUSEPORT, so the second bind succeeds and the kernel splits
    connections between the two: the same port, on the same host or with either host a
    wildcard (which takes every address), is a mistake that nothing else would report.
    """
    first_host, first_port = split_address(first)
    second_host, second_port = split_address(second)
    if first_port != second_port or first_port == 0:
        return False  # port 0 picks a free port for each
    first_hosts, second_hosts = _bound_hosts(first_host), _bound_hosts(second_host)
    return first_hosts is None or second_hosts is None or bool(first_hosts & second_hosts)


@dataclass(frozen=True)
class TlsPair:
    """A certificate chain and its private key (PEM files), and the variables naming them."""

    cert: Path
    key: Path
    cert_variable: str
    key_variable: str


def parse_log_format(raw: str) -> str:
    """TENAZ_LOG_FORMAT: `text` (the default) or `json` (see jobs/logs.py)."""
    log_format = raw.strip().lower() or LOG_FORMATS[0]
    if log_format not in LOG_FORMATS:
        raise SettingsError(f"TENAZ_LOG_FORMAT: {raw!r} is not a log format: text or json")
    return log_format


def traces_endpoint(env: Mapping[str, str]) -> str:
    """The OTLP/HTTP URL spans go to, from OpenTelemetry's standard variables; '' (traces
    off) unless one names a collector."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ""
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "otlp"
    if exporter == "none":
        return ""
    if exporter != "otlp":
        raise SettingsError(f"OTEL_TRACES_EXPORTER: {exporter!r}: Tenaz exports traces with otlp")
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise SettingsError(f"{name}: {protocol!r}: Tenaz exports traces with http/protobuf")
    url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    name = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    if not url and (base := env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()):
        url, name = f"{base.rstrip('/')}/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT"
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        raise SettingsError(f"{name}: {url!r} is not an http(s) URL of an OTLP collector")
    return url


def otlp_timeout(env: Mapping[str, str]) -> dt.timedelta:
    """The export timeout, in milliseconds as OpenTelemetry's specification has it."""
    for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        raw = env.get(name, "").strip()
        if raw:
            if not is_ascii_digits(raw) or not 0 < int(raw) <= _MAX_OTLP_TIMEOUT_MS:
                raise SettingsError(
                    f"{name}: {raw!r} is not a timeout in milliseconds from 1 to"
                    f" {_MAX_OTLP_TIMEOUT_MS}"
                )
            return dt.timedelta(milliseconds=int(raw))
    return Settings.traces_timeout


def _optional_url(text: str) -> BaseUrl | None:
    return BaseUrl.parse(text) if text else None


def parse_duration(text: str, *, name: str = "duration") -> dt.timedelta:
    match = _DURATION.match(text)
    if not match:
        raise SettingsError(f"{name}: {text!r} is not a duration such as 30m, 90s or 1800")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Settings:
    # Empty: start an embedded PostgreSQL in `data_dir`.
    database_url: str = ""
    data_dir: Path = Path(".tenaz")
    listen_address: str = "127.0.0.1:50051"
    # Keys that encrypt destination secrets (see jobs/secrets.py); empty with the
    # embedded database: a key file in data_dir.
    secret_key: str = ""
    # TLS for the gRPC server (PEM files); with a client CA, clients need certificates.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # Serve gRPC and the dashboard without TLS on an address other than loopback
    # (behind a TLS-terminating proxy).
    allow_plaintext: bool = False
    # Events per second one API key may submit (per server process); 0: no limit.
    submit_rate_limit: float = 5000.0
    # The burst above that rate a key may send at once (at least one full batch).
    submit_burst: int = 10_000
    # The web dashboard's HTTP address; empty: no dashboard.
    dashboard_address: str = "127.0.0.1:8080"
    # Where /metrics is served for Prometheus (every process: serve, worker, run); empty: off.
    metrics_address: str = "127.0.0.1:9464"
    # How often the process that computes the database gauges reads them.
    metrics_interval: dt.timedelta = dt.timedelta(seconds=15)
    # How long a dashboard login lasts.
    session_ttl: dt.timedelta = dt.timedelta(hours=12)
    # Where browsers reach the dashboard when a proxy on the way terminates TLS (and
    # rewrites Host): https makes the session cookie Secure, and only pages of this
    # origin may change anything.
    dashboard_public_url: BaseUrl | None = None
    # TLS for the dashboard (PEM files); unset: the gRPC server's pair, if any.
    dashboard_tls_cert: Path | None = None
    dashboard_tls_key: Path | None = None
    # The Conversions API endpoint's HTTP address (server/ingest), with the gRPC server's
    # TLS pair; empty: no endpoint.
    ingest_address: str = "127.0.0.1:8081"
    # From the end of a failed attempt to the next one (per destination override).
    retry_interval: dt.timedelta = dt.timedelta(minutes=30)
    # How long an attempt may hold a delivery before it counts as interrupted.
    attempt_lease: dt.timedelta = dt.timedelta(minutes=4)
    # How often the sweeper recovers interrupted attempts and orphaned deliveries.
    sweep_interval: dt.timedelta = dt.timedelta(seconds=30)
    # The last attempt before a platform's deadline starts this long before it.
    deadline_margin: dt.timedelta = dt.timedelta(minutes=10)
    # Events, attempts and status changes older than this are deleted (LGPD).
    retention: dt.timedelta = dt.timedelta(days=30)
    # How far in the future an event_time may be (client clocks drift).
    max_future_skew: dt.timedelta = dt.timedelta(minutes=5)
    default_phone_country_code: str = "55"
    # The whole of one request to a platform: connect, send, and read the answer.
    http_timeout: dt.timedelta = dt.timedelta(seconds=10)
    # The whole of one attempt, requests of a split batch and rate-limit waits included;
    # well under the lease, so that no attempt is ever taken for an interrupted one.
    attempt_budget: dt.timedelta = dt.timedelta(minutes=2)
    # How often the worker evaluates alert rules (jobs/alerts.py).
    alert_interval: dt.timedelta = dt.timedelta(seconds=30)
    # Tries of one alert notification, and the wait before the second (doubling after).
    alert_attempts: int = 5
    alert_retry_wait: dt.timedelta = dt.timedelta(seconds=30)
    # The whole of one SMTP conversation of an alert e-mail.
    smtp_timeout: dt.timedelta = dt.timedelta(seconds=20)
    # The certificate authority alert e-mails' SMTP servers are checked against (PEM);
    # unset: the system's.
    smtp_ca_file: Path | None = None
    # Base URLs destinations may use besides their platforms' official ones (prefixes);
    # the hosts they name may be internal addresses (a proxy, a test server).
    allowed_platform_urls: tuple[BaseUrl, ...] = ()
    # Status streams (WatchStatus, the dashboard's) one workspace may have open on a server
    # process at once; 0: no limit.
    max_streams_per_workspace: int = 100
    # Delivery jobs of one destination a worker runs at once, so that a slow platform
    # cannot hold every slot.
    destination_concurrency: int = 4
    worker_concurrency: int = 20
    pool_min_size: int = 2
    pool_max_size: int = 10
    # How long a call waits for a database connection before answering UNAVAILABLE.
    pool_timeout: dt.timedelta = dt.timedelta(seconds=5)
    # Server-side prepared statements (psycopg prepares a query run five times). Off behind
    # a pooler that hands each transaction to another server connection and does not track
    # them (PgBouncer in transaction mode before 1.21): there a prepared statement is missing,
    # or already there, on the next connection.
    prepared_statements: bool = True
    log_level: str = "INFO"
    # text: one line a person reads; json: one object per line for a log store.
    log_format: str = "text"
    # Where spans go (OTLP/HTTP, the collector's /v1/traces URL); empty: traces are off.
    traces_endpoint: str = ""
    # The whole of one export to the collector, retries included.
    traces_timeout: dt.timedelta = dt.timedelta(seconds=10)
    service_name: str = "tenaz"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def duration(name: str, default: dt.timedelta) -> dt.timedelta:
            raw = env.get(name)
            return default if raw in (None, "") else parse_duration(raw, name=name)

        def integer(name: str, default: int) -> int:
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name}: {raw!r} is not a whole number") from None

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                return float(raw)
            except ValueError:
                raise SettingsError(f"{name}: {raw!r} is not a number") from None

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name, "").strip().lower()
            if not raw:
                return default
            if raw in ("1", "true", "yes", "on"):
                return True
            if raw in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{name}: {raw!r} is neither on nor off")

        def path(name: str) -> Path | None:
            raw = env.get(name, "")
            return Path(raw) if raw else None

        def url(name: str, parse: Callable[[str], _Parsed]) -> _Parsed:
            raw = env.get(name, "").strip()
            try:
                return parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{name}: {exc}") from None

        defaults = cls()
        settings = cls(
            database_url=env.get("TENAZ_DATABASE_URL", ""),
            data_dir=Path(env.get("TENAZ_DATA_DIR", str(defaults.data_dir))),
            listen_address=env.get("TENAZ_LISTEN_ADDRESS", defaults.listen_address),
            dashboard_address=env.get("TENAZ_DASHBOARD_ADDRESS", defaults.dashboard_address),
            dashboard_public_url=url("TENAZ_DASHBOARD_PUBLIC_URL", _optional_url),
            ingest_address=env.get("TENAZ_INGEST_ADDRESS", defaults.ingest_address),
            session_ttl=duration("TENAZ_SESSION_TTL", defaults.session_ttl),
            metrics_address=env.get("TENAZ_METRICS_ADDRESS", defaults.metrics_address).strip(),
            metrics_interval=duration("TENAZ_METRICS_INTERVAL", defaults.metrics_interval),
            secret_key=env.get("TENAZ_SECRET_KEY", ""),
            tls_cert=path("TENAZ_TLS_CERT"),
            tls_key=path("TENAZ_TLS_KEY"),
            tls_client_ca=path("TENAZ_TLS_CLIENT_CA"),
            dashboard_tls_cert=path("TENAZ_DASHBOARD_TLS_CERT"),
            dashboard_tls_key=path("TENAZ_DASHBOARD_TLS_KEY"),
            submit_rate_limit=number("TENAZ_SUBMIT_RATE_LIMIT", defaults.submit_rate_limit),
            submit_burst=integer("TENAZ_SUBMIT_BURST", defaults.submit_burst),
            allow_plaintext=env.get("TENAZ_ALLOW_PLAINTEXT", "").lower() in ("1", "true", "yes"),
            retry_interval=duration("TENAZ_RETRY_INTERVAL", defaults.retry_interval),
            attempt_lease=duration("TENAZ_ATTEMPT_LEASE", defaults.attempt_lease),
            sweep_interval=duration("TENAZ_SWEEP_INTERVAL", defaults.sweep_interval),
            deadline_margin=duration("TENAZ_DEADLINE_MARGIN", defaults.deadline_margin),
            max_future_skew=duration("TENAZ_MAX_FUTURE_SKEW", defaults.max_future_skew),
            retention=duration("TENAZ_RETENTION", defaults.retention),
            default_phone_country_code=env.get(
                "TENAZ_DEFAULT_PHONE_COUNTRY_CODE", defaults.default_phone_country_code
            ),
            http_timeout=duration("TENAZ_HTTP_TIMEOUT", defaults.http_timeout),
            attempt_budget=duration("TENAZ_ATTEMPT_BUDGET", defaults.attempt_budget),
            allowed_platform_urls=url("TENAZ_ALLOWED_PLATFORM_URLS", parse_allowlist),
            alert_interval=duration("TENAZ_ALERT_INTERVAL", defaults.alert_interval),
            alert_attempts=integer("TENAZ_ALERT_ATTEMPTS", defaults.alert_attempts),
            alert_retry_wait=duration("TENAZ_ALERT_RETRY_WAIT", defaults.alert_retry_wait),
            smtp_timeout=duration("TENAZ_SMTP_TIMEOUT", defaults.smtp_timeout),
            smtp_ca_file=path("TENAZ_SMTP_CA_FILE"),
            max_streams_per_workspace=integer(
                "TENAZ_MAX_STREAMS_PER_WORKSPACE", defaults.max_streams_per_workspace
            ),
            destination_concurrency=integer(
                "TENAZ_DESTINATION_CONCURRENCY", defaults.destination_concurrency
            ),
            worker_concurrency=integer("TENAZ_WORKER_CONCURRENCY", defaults.worker_concurrency),
            pool_min_size=integer("TENAZ_POOL_MIN_SIZE", defaults.pool_min_size),
            pool_max_size=integer("TENAZ_POOL_MAX_SIZE", defaults.pool_max_size),
            pool_timeout=duration("TENAZ_POOL_TIMEOUT", defaults.pool_timeout),
            prepared_statements=flag("TENAZ_PREPARED_STATEMENTS", defaults.prepared_statements),
            log_level=env.get("TENAZ_LOG_LEVEL", defaults.log_level).upper(),
            log_format=parse_log_format(env.get("TENAZ_LOG_FORMAT", "")),
            traces_endpoint=traces_endpoint(env),
            traces_timeout=otlp_timeout(env),
            service_name=env.get("OTEL_SERVICE_NAME", "").strip() or defaults.service_name,
        )
        settings.validate()
        return settings

    # Cached: asked for every event a submission checks (settings never change).
    @functools.cached_property
    def deadline_rule(self) -> DeadlineRule:
        """The one rule of deadlines (see jobs/retry_policy.py), from these settings."""
        return DeadlineRule(margin=self.deadline_margin, budget=self.attempt_budget)

    @property
    def grpc_tls(self) -> TlsPair | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        return TlsPair(self.tls_cert, self.tls_key, "TENAZ_TLS_CERT", "TENAZ_TLS_KEY")

    @property
    def dashboard_tls(self) -> TlsPair | None:
        if self.dashboard_tls_cert is None or self.dashboard_tls_key is None:
            return self.grpc_tls
        return TlsPair(
            self.dashboard_tls_cert,
            self.dashboard_tls_key,
            "TENAZ_DASHBOARD_TLS_CERT",
            "TENAZ_DASHBOARD_TLS_KEY",
        )

    def _check_listener(
        self, variable: str, address: str, tls: TlsPair | None, tls_variables: str
    ) -> None:
        """One rule for every port Tenaz listens on: TLS, or loopback, or plaintext allowed."""
        try:
            split_address(address)
        except ValueError as exc:
            raise SettingsError(f"{variable}: {exc}, e.g. 127.0.0.1:8080") from None
        if tls is None and not self.allow_plaintext and not is_loopback(address):
            raise SettingsError(
                f"{variable} {address} is not loopback: set {tls_variables},"
                " or TENAZ_ALLOW_PLAINTEXT=1 behind a TLS-terminating proxy"
            )

    def _check_ports_apart(self) -> None:
        """Each listener needs a port of its own: the kernel would split connections between
        two that share one (they bind with SO_REUSEPORT)."""
        listeners = [
            (variable, address)
            for variable, address in (
                ("TENAZ_LISTEN_ADDRESS", self.listen_address),
                ("TENAZ_DASHBOARD_ADDRESS", self.dashboard_address),
                ("TENAZ_INGEST_ADDRESS", self.ingest_address),
                ("TENAZ_METRICS_ADDRESS", self.metrics_address),
            )
            if address
        ]
        for index, (variable, address) in enumerate(listeners):
            for earlier, taken in listeners[:index]:
                if _share_a_port(taken, address):
                    raise SettingsError(
                        f"{variable} {address} takes the port of {earlier} {taken}: each of"
                        " Tenaz's listeners needs a port of its own (the kernel would split"
                        " connections between them); give it another port"
                    )

    def validate(self) -> None:
        if not dt.timedelta(0) < self.retry_interval <= dt.timedelta(hours=24):
            # Past 48 hours Meta no longer deduplicates a re-send of an event whose first
            # request timed out after all reaching it; see jobs/destinations.py.
            raise SettingsError("TENAZ_RETRY_INTERVAL must be positive and at most 24h")
        if self.attempt_lease <= dt.timedelta(0) or self.sweep_interval <= dt.timedelta(0):
            raise SettingsError("TENAZ_ATTEMPT_LEASE and TENAZ_SWEEP_INTERVAL must be positive")
        if self.alert_interval <= dt.timedelta(0) or self.smtp_timeout <= dt.timedelta(0):
            raise SettingsError("TENAZ_ALERT_INTERVAL and TENAZ_SMTP_TIMEOUT must be positive")
        if self.alert_attempts < 1:
            raise SettingsError("TENAZ_ALERT_ATTEMPTS must be at least 1")
        if self.session_ttl <= dt.timedelta(0):
            raise SettingsError("TENAZ_SESSION_TTL must be positive")
        if self.http_timeout <= dt.timedelta(0):
            raise SettingsError("TENAZ_HTTP_TIMEOUT must be positive")
        if not self.http_timeout <= self.attempt_budget <= self.attempt_lease / 2:
            # A lease that ran out mid-attempt would make another worker send the same
            # events again while the first is still at it; half the lease is left for
            # recording the outcome.
            raise SettingsError(
                "TENAZ_ATTEMPT_BUDGET must be at least TENAZ_HTTP_TIMEOUT and at most half"
                " of TENAZ_ATTEMPT_LEASE"
            )
        if self.deadline_margin < self.attempt_budget + SEND_GUARD + _LAST_CALL_SLACK:
            # The last attempt is planned at the margin; it must reach a worker (a busy
            # queue, a rate limit) and end, splits and all, before the deadline.
            raise SettingsError("TENAZ_DEADLINE_MARGIN must be at least TENAZ_ATTEMPT_BUDGET + 90s")
        if self.database_url and not self.secret_key:
            raise SettingsError(
                "TENAZ_SECRET_KEY is required with TENAZ_DATABASE_URL (every process sharing the"
                " database needs the same key); make one with `tenaz secrets generate-key`"
            )
        if self.secret_key:
            # Imported here: the command line's client commands import this module too.
            from jobs.secrets import SecretBox, SecretKeyError

            try:
                SecretBox.from_setting(self.secret_key)
            except SecretKeyError as exc:
                raise SettingsError(str(exc)) from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("TENAZ_TLS_CERT and TENAZ_TLS_KEY go together")
        if (self.dashboard_tls_cert is None) != (self.dashboard_tls_key is None):
            raise SettingsError("TENAZ_DASHBOARD_TLS_CERT and TENAZ_DASHBOARD_TLS_KEY go together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise SettingsError("TENAZ_TLS_CLIENT_CA needs TENAZ_TLS_CERT and TENAZ_TLS_KEY")
        grpc_pair = "TENAZ_TLS_CERT and TENAZ_TLS_KEY"
        self._check_listener("TENAZ_LISTEN_ADDRESS", self.listen_address, self.grpc_tls, grpc_pair)
        if self.dashboard_address:
            self._check_listener(
                "TENAZ_DASHBOARD_ADDRESS",
                self.dashboard_address,
                self.dashboard_tls,
                f"TENAZ_DASHBOARD_TLS_CERT and TENAZ_DASHBOARD_TLS_KEY (or {grpc_pair})",
            )
        if self.ingest_address:
            self._check_listener(
                "TENAZ_INGEST_ADDRESS", self.ingest_address, self.grpc_tls, grpc_pair
            )
        if self.metrics_address:
            # /metrics is plain HTTP: loopback, or TENAZ_ALLOW_PLAINTEXT.
            self._check_listener(
                "TENAZ_METRICS_ADDRESS",
                self.metrics_address,
                None,
                "TENAZ_METRICS_ADDRESS to a loopback address (a local agent scrapes it)",
            )
        self._check_ports_apart()
        if self.metrics_interval <= dt.timedelta(0):
            raise SettingsError("TENAZ_METRICS_INTERVAL must be positive")
        if self.retention < dt.timedelta(days=8):
            raise SettingsError(
                "TENAZ_RETENTION must be at least 8d: events are retried for up to 7 days"
            )
        if not is_ascii_digits(self.default_phone_country_code):
            raise SettingsError("TENAZ_DEFAULT_PHONE_COUNTRY_CODE must be digits, e.g. 55")
        if self.worker_concurrency < 1 or self.pool_min_size < 1:
            raise SettingsError("TENAZ_WORKER_CONCURRENCY and TENAZ_POOL_MIN_SIZE must be >= 1")
        if self.max_streams_per_workspace < 0:
            raise SettingsError("TENAZ_MAX_STREAMS_PER_WORKSPACE must be >= 0 (0: no limit)")
        if self.destination_concurrency < 1:
            raise SettingsError("TENAZ_DESTINATION_CONCURRENCY must be >= 1")
        if self.pool_max_size < self.pool_min_size:
            raise SettingsError("TENAZ_POOL_MAX_SIZE must be >= TENAZ_POOL_MIN_SIZE")
