"""`tenaz destinations create-google-ads` and `create-ga4` as operators run them: options named
after the platforms' settings, secrets from TENAZ_GOOGLE_ADS_* and TENAZ_GA4_API_SECRET."""

from __future__ import annotations

import pytest
from tenaz.client import TenazClient

from tests.acceptance.test_cli import Cli, cli

__all__ = ["cli"]  # the fixture, shared with the other CLI tests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

GOOGLE_ADS_SECRETS = {
    "TENAZ_GOOGLE_ADS_DEVELOPER_TOKEN": "cli-developer-token",
    "TENAZ_GOOGLE_ADS_CLIENT_SECRET": "cli-client-secret",
    "TENAZ_GOOGLE_ADS_REFRESH_TOKEN": "1//cli-refresh-token",
}


async def test_create_google_ads_and_ga4_destinations(cli: Cli, client: TenazClient) -> None:
    google_ads = (
        "destinations",
        "create-google-ads",
        "google-ads",
        "--customer-id",
        "123-456-7890",
        "--client-id",
        "cli-client.apps.googleusercontent.com",
        "--conversion-actions",
        "Purchase=555",
        "--conversion-actions",
        "Lead=556",
        "--lookback-days",
        "30",
    )
    missing = dict(GOOGLE_ADS_SECRETS)
    del missing["TENAZ_GOOGLE_ADS_REFRESH_TOKEN"]
    refused = await cli(*google_ads, expect=1, **missing)
    assert "TENAZ_GOOGLE_ADS_REFRESH_TOKEN" in refused.err

    created = await cli(*google_ads, **GOOGLE_ADS_SECRETS)
    assert "created Google Ads destination 'google-ads'" in created.out
    settings = (await client.get_destination("google-ads")).google_ads
    assert (settings.customer_id, settings.client_id, settings.lookback_days) == (
        "123-456-7890",
        "cli-client.apps.googleusercontent.com",
        30,
    )
    assert dict(settings.conversion_actions) == {"Purchase": "555", "Lead": "556"}
    assert (
        settings.developer_token_set and settings.client_secret_set and settings.refresh_token_set
    )

    await cli(
        "destinations",
        "create-ga4",
        "ga4",
        "--measurement-id",
        "G-CLI12345",
        "--validate-first",
        TENAZ_GA4_API_SECRET="cli-api-secret",
    )
    ga4 = (await client.get_destination("ga4")).ga4
    assert (ga4.measurement_id, ga4.validate_first, ga4.api_secret_set) == (
        "G-CLI12345",
        True,
        True,
    )

    listing = (await cli("destinations", "list")).out
    assert "conversion actions Lead=556, Purchase=555" in listing
    assert "measurement id G-CLI12345" in listing
    for secret in (*GOOGLE_ADS_SECRETS.values(), "cli-api-secret"):
        assert secret not in listing

    bad = await cli(
        "destinations",
        "create-ga4",
        "ga4-bad",
        "--measurement-id",
        "UA-1",
        expect=1,
        TENAZ_GA4_API_SECRET="x",
    )
    assert "the measurement id, e.g. G-ABC123DEF4" in bad.err
