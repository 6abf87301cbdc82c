"""Configuration from TENAZ_* variables: defaults, parsing, and clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.secrets import generate_key
from jobs.settings import Settings, SettingsError, parse_duration


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings.from_env({})
    assert settings.retry_interval == dt.timedelta(minutes=30)
    assert settings.database_url == ""
    assert settings.listen_address == "127.0.0.1:50051"
    assert settings.default_phone_country_code == "55"
    assert settings.attempt_lease + settings.sweep_interval <= dt.timedelta(minutes=5)
    assert settings.session_ttl == dt.timedelta(hours=12)


def test_durations_take_units_or_seconds() -> None:
    assert parse_duration("30m") == dt.timedelta(minutes=30)
    assert parse_duration("1800") == dt.timedelta(seconds=1800)
    assert parse_duration("1.5s") == dt.timedelta(seconds=1.5)
    assert parse_duration("7d") == dt.timedelta(days=7)
    env = {
        "TENAZ_RETRY_INTERVAL": "10s",
        "TENAZ_DATABASE_URL": "postgresql://x/y",
        "TENAZ_SECRET_KEY": generate_key(),
    }
    settings = Settings.from_env(env)
    assert settings.retry_interval == dt.timedelta(seconds=10)
    assert settings.database_url == "postgresql://x/y"
    assert Settings.from_env({"TENAZ_SESSION_TTL": "8h"}).session_ttl == dt.timedelta(hours=8)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TENAZ_RETRY_INTERVAL", "soon"),
        ("TENAZ_RETRY_INTERVAL", "0"),
        ("TENAZ_SESSION_TTL", "0"),
        ("TENAZ_SESSION_TTL", "a day"),
        ("TENAZ_SESSION_TTL", "١٢h"),  # Arabic-Indic digits, which float() reads as 12
        ("TENAZ_WORKER_CONCURRENCY", "many"),
        ("TENAZ_DEFAULT_PHONE_COUNTRY_CODE", "+55"),
        ("TENAZ_DEFAULT_PHONE_COUNTRY_CODE", "٥٥"),
        ("TENAZ_LISTEN_ADDRESS", "127.0.0.1:٥٠٠٥١"),
        ("TENAZ_DASHBOARD_ADDRESS", "127.0.0.1:8²"),
        ("TENAZ_ALLOWED_PLATFORM_URLS", "http://127.0.0.1:٨٠/"),
        ("TENAZ_PREPARED_STATEMENTS", "maybe"),
        ("TENAZ_METRICS_ADDRESS", "9464"),
        ("TENAZ_METRICS_INTERVAL", "0"),
        ("TENAZ_METRICS_INTERVAL", "often"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", True), ("on", True), ("TRUE", True), ("1", True), ("off", False), ("no", False)],
)
def test_prepared_statements_are_on_unless_turned_off(value: str, expected: bool) -> None:
    settings = Settings.from_env({"TENAZ_PREPARED_STATEMENTS": value})
    assert settings.prepared_statements is expected


def test_the_sweep_runs_at_the_configured_interval() -> None:
    from jobs.queue import sweep_cron

    assert sweep_cron(dt.timedelta(seconds=30)) == "* * * * * */30"
    assert sweep_cron(dt.timedelta(minutes=2)) == "*/2 * * * *"


def test_a_shared_database_needs_a_shared_secret_key() -> None:
    with pytest.raises(SettingsError, match="TENAZ_SECRET_KEY"):
        Settings.from_env({"TENAZ_DATABASE_URL": "postgresql://x/y"})
    with pytest.raises(SettingsError, match="TENAZ_RETENTION"):
        Settings.from_env({"TENAZ_RETENTION": "2d"})


def test_a_malformed_secret_key_is_refused_when_read() -> None:
    with pytest.raises(SettingsError, match="TENAZ_SECRET_KEY: each key must be 32 bytes"):
        Settings.from_env({"TENAZ_SECRET_KEY": "not-a-key"})
    two = f"{generate_key()},{generate_key()}"
    assert Settings.from_env({"TENAZ_SECRET_KEY": two}).secret_key == two


def test_the_dashboard_follows_the_grpc_rule_tls_or_loopback() -> None:
    public = {"TENAZ_DASHBOARD_ADDRESS": "0.0.0.0:8080"}
    with pytest.raises(
        SettingsError, match=r"TENAZ_DASHBOARD_ADDRESS 0\.0\.0\.0:8080 is not loopback"
    ):
        Settings.from_env(public)
    assert Settings.from_env(public | {"TENAZ_ALLOW_PLAINTEXT": "1"}).dashboard_tls is None

    grpc_pair = {"TENAZ_TLS_CERT": "/tls/grpc.pem", "TENAZ_TLS_KEY": "/tls/grpc.key"}
    by_default = Settings.from_env(public | grpc_pair).dashboard_tls
    assert by_default is not None
    assert (str(by_default.cert), by_default.cert_variable) == ("/tls/grpc.pem", "TENAZ_TLS_CERT")

    own_pair = {
        "TENAZ_DASHBOARD_TLS_CERT": "/tls/dash.pem",
        "TENAZ_DASHBOARD_TLS_KEY": "/tls/dash.key",
    }
    own = Settings.from_env(public | grpc_pair | own_pair).dashboard_tls
    assert own is not None
    assert (str(own.key), own.key_variable) == ("/tls/dash.key", "TENAZ_DASHBOARD_TLS_KEY")
    assert Settings.from_env(public | own_pair).grpc_tls is None

    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({"TENAZ_DASHBOARD_TLS_CERT": "/tls/dash.pem"})
    with pytest.raises(SettingsError, match="TENAZ_DASHBOARD_ADDRESS: 'eight' is not host:port"):
        Settings.from_env({"TENAZ_DASHBOARD_ADDRESS": "eight"})
    # Empty: no dashboard, nothing to check.
    assert Settings.from_env({"TENAZ_DASHBOARD_ADDRESS": ""}).dashboard_address == ""


@pytest.mark.parametrize(
    ("grpc", "dashboard"),
    [
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("0.0.0.0:8080", "127.0.0.1:8080"),
        ("127.0.0.1:8080", "[::]:8080"),
        ("[::]:8080", "0.0.0.0:8080"),
        (":8080", "10.0.0.5:8080"),
        ("localhost:8080", "127.0.0.1:8080"),
        ("[::1]:8080", "[0:0:0:0:0:0:0:1]:8080"),
        ("Tenaz.example.com:8080", "tenaz.example.com:8080"),
    ],
)
def test_grpc_and_the_dashboard_cannot_share_a_port(grpc: str, dashboard: str) -> None:
    env = {
        "TENAZ_LISTEN_ADDRESS": grpc,
        "TENAZ_DASHBOARD_ADDRESS": dashboard,
        "TENAZ_ALLOW_PLAINTEXT": "1",
    }
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.startswith(f"TENAZ_DASHBOARD_ADDRESS {dashboard} takes the port of")
    assert f"TENAZ_LISTEN_ADDRESS {grpc}" in message and "\n" not in message


@pytest.mark.parametrize(
    ("grpc", "dashboard"),
    [
        ("127.0.0.1:50051", "127.0.0.1:8080"),
        ("0.0.0.0:50051", "0.0.0.0:8080"),
        ("127.0.0.1:8080", "127.0.0.2:8080"),
        ("127.0.0.1:0", "127.0.0.1:0"),  # each gets a free port of its own
    ],
)
def test_grpc_and_the_dashboard_on_ports_of_their_own_are_fine(grpc: str, dashboard: str) -> None:
    env = {
        "TENAZ_LISTEN_ADDRESS": grpc,
        "TENAZ_DASHBOARD_ADDRESS": dashboard,
        "TENAZ_ALLOW_PLAINTEXT": "1",
    }
    assert Settings.from_env(env).dashboard_address == dashboard


def test_the_dashboards_public_url_is_scheme_host_port_and_path_only() -> None:
    assert Settings.from_env({}).dashboard_public_url is None
    assert Settings.from_env({"TENAZ_DASHBOARD_PUBLIC_URL": ""}).dashboard_public_url is None
    for given, origin in [
        ("https://tenaz.example.com", "https://tenaz.example.com"),
        ("https://Tenaz.Example.com:443/", "https://tenaz.example.com"),
        ("https://tenaz.example.com:8443/painel", "https://tenaz.example.com:8443"),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
    ]:
        public_url = Settings.from_env({"TENAZ_DASHBOARD_PUBLIC_URL": given}).dashboard_public_url
        assert public_url is not None and public_url.origin == origin, given
    for bad in (
        "tenaz.example.com",
        "ftp://tenaz.example.com",
        "https://admin@tenaz.example.com",
        "https://tenaz.example.com/?next=/",
        "https://tenaz.example.com/#top",
        "https://tenaz.example.com:٤٤٣",
        "https://tenaz.example.com/a/../b",
    ):
        with pytest.raises(SettingsError, match=r"^TENAZ_DASHBOARD_PUBLIC_URL: "):
            Settings.from_env({"TENAZ_DASHBOARD_PUBLIC_URL": bad})


def test_the_ingest_endpoint_has_a_port_of_its_own_and_the_grpc_servers_tls_rule() -> None:
    assert Settings.from_env({}).ingest_address == "127.0.0.1:8081"
    assert Settings.from_env({"TENAZ_INGEST_ADDRESS": ""}).ingest_address == ""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TENAZ_INGEST_ADDRESS": "127.0.0.1:8080"})
    assert str(caught.value).startswith(
        "TENAZ_INGEST_ADDRESS 127.0.0.1:8080 takes the port of TENAZ_DASHBOARD_ADDRESS"
    )
    with pytest.raises(
        SettingsError, match=r"TENAZ_INGEST_ADDRESS 0\.0\.0\.0:8081 is not loopback"
    ):
        Settings.from_env({"TENAZ_INGEST_ADDRESS": "0.0.0.0:8081"})
    grpc_pair = {"TENAZ_TLS_CERT": "/tls/grpc.pem", "TENAZ_TLS_KEY": "/tls/grpc.key"}
    public = {"TENAZ_INGEST_ADDRESS": "0.0.0.0:8081", "TENAZ_LISTEN_ADDRESS": "0.0.0.0:50051"}
    assert Settings.from_env(public | grpc_pair).ingest_address == "0.0.0.0:8081"


def test_metrics_are_served_on_loopback_unless_set_otherwise() -> None:
    assert Settings.from_env({}).metrics_address == "127.0.0.1:9464"
    assert Settings.from_env({"TENAZ_METRICS_ADDRESS": ""}).metrics_address == ""
    assert Settings.from_env({"TENAZ_METRICS_INTERVAL": "5s"}).metrics_interval.seconds == 5


def test_metrics_off_loopback_need_plaintext_allowed() -> None:
    public = {"TENAZ_METRICS_ADDRESS": "0.0.0.0:9464"}
    with pytest.raises(
        SettingsError, match=r"TENAZ_METRICS_ADDRESS 0\.0\.0\.0:9464 is not loopback"
    ):
        Settings.from_env(public)
    allowed = Settings.from_env(public | {"TENAZ_ALLOW_PLAINTEXT": "1"})
    assert allowed.metrics_address == "0.0.0.0:9464"


@pytest.mark.parametrize(
    "other", ["TENAZ_LISTEN_ADDRESS", "TENAZ_DASHBOARD_ADDRESS", "TENAZ_INGEST_ADDRESS"]
)
def test_metrics_cannot_share_a_port_with_another_listener(other: str) -> None:
    env = {other: "127.0.0.1:7000", "TENAZ_METRICS_ADDRESS": "127.0.0.1:7000"}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(
        f"TENAZ_METRICS_ADDRESS 127.0.0.1:7000 takes the port of {other} 127.0.0.1:7000"
    )
