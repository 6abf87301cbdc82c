"""Traces from OpenTelemetry's standard variables: off unless a collector is named, the
endpoint, service name and export timeout as the specification reads them, and nothing of
OpenTelemetry loaded when off."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jobs.settings import Settings, SettingsError

ROOT = Path(__file__).parents[2]


def test_traces_are_off_unless_a_collector_is_named() -> None:
    assert Settings.from_env({}).traces_endpoint == ""
    assert Settings.from_env({"OTEL_SERVICE_NAME": "x"}).traces_endpoint == ""
    collector = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}
    assert Settings.from_env({**collector, "OTEL_SDK_DISABLED": "true"}).traces_endpoint == ""
    assert Settings.from_env({**collector, "OTEL_TRACES_EXPORTER": "none"}).traces_endpoint == ""


def test_the_endpoint_service_name_and_timeout_follow_the_specification() -> None:
    base = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/"})
    assert base.traces_endpoint == "http://otel:4318/v1/traces"
    assert base.service_name == "tenaz"
    assert base.traces_timeout == dt.timedelta(seconds=10)
    signal = Settings.from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.corp/custom",
            "OTEL_SERVICE_NAME": "tenaz-worker",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",  # milliseconds
        }
    )
    assert signal.traces_endpoint == "https://traces.corp/custom"
    assert signal.service_name == "tenaz-worker"
    assert signal.traces_timeout == dt.timedelta(milliseconds=2500)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "otel:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://otel/v1/traces"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        # An export must end: no timeout of zero (none at all) or of hours.
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3600000"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
    ],
)
def test_what_tenaz_cannot_export_with_is_refused_by_name(name: str, value: str) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", name: value}
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_off_nothing_of_opentelemetry_is_imported() -> None:
    """Everything a Tenaz process loads, with traces off: no SDK, no API, no exporter."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        import server.app, server.cli, server.cli.process, jobs.runtime, jobs.delivery
        from jobs import tracing
        from jobs.egress import EgressPolicy, platform_client
        from jobs.settings import Settings

        async def main():
            settings = Settings.from_env({"OTEL_SERVICE_NAME": "tenaz"})
            async with tracing.open_tracing(settings) as opened:
                assert opened is tracing.OFF
                async with platform_client(EgressPolicy(), timeout=1, tracing=opened):
                    pass
            print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))

        asyncio.run(main())
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
