"""`tenaz destinations create-pinterest` and `create-snapchat` as operators run them: options
named after the platforms' settings, tokens from TENAZ_<PLATFORM>_ACCESS_TOKEN."""

from __future__ import annotations

import pytest
from tenaz.client import TenazClient

from tests.acceptance.test_cli import Cli, cli

__all__ = ["cli"]  # the fixture, shared with the CLI's own tests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

PIXEL = "1ec32188-754e-4be2-8e55-c949a984a39f"


async def test_create_pinterest_and_snapchat_destinations(cli: Cli, client: TenazClient) -> None:
    no_token = await cli("destinations", "create-pinterest", "pinterest", "--ad-account-id", "1",
                         expect=1)  # fmt: skip
    assert "TENAZ_PINTEREST_ACCESS_TOKEN" in no_token.err
    await cli(
        "destinations",
        "create-pinterest",
        "pinterest",
        "--ad-account-id",
        "549755885175",
        "--test",
        TENAZ_PINTEREST_ACCESS_TOKEN="pina_cli-token",
    )
    await cli(
        "destinations",
        "create-snapchat",
        "snapchat",
        "--pixel-id",
        PIXEL,
        "--validate-only",
        "--event-name",
        "Lead=CUSTOM_EVENT_1",
        TENAZ_SNAPCHAT_ACCESS_TOKEN="snap-cli-token",
    )
    bad_pixel = await cli(
        "destinations",
        "create-snapchat",
        "other",
        "--pixel-id",
        "12345",
        expect=1,
        TENAZ_SNAPCHAT_ACCESS_TOKEN="snap-cli-token",
    )
    assert "UUID" in bad_pixel.err

    pinterest = await client.get_destination("pinterest")
    assert (pinterest.pinterest.ad_account_id, pinterest.pinterest.test) == ("549755885175", True)
    assert pinterest.pinterest.access_token_set
    snapchat = await client.get_destination("snapchat")
    assert (snapchat.snapchat.pixel_id, snapchat.snapchat.validate_only) == (PIXEL, True)
    assert snapchat.snapchat.access_token_set
    assert dict(snapchat.event_names) == {"Lead": "CUSTOM_EVENT_1"}

    listing = (await cli("destinations", "list", "--lang", "en")).out
    assert "pinterest" in listing and "snapchat" in listing
    assert "pina_cli-token" not in listing and "snap-cli-token" not in listing
