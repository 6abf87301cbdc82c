"""`tenaz destinations create-tiktok` as operators run it: options named after TikTok's settings,
the access token from TENAZ_TIKTOK_ACCESS_TOKEN and never from an option."""

from __future__ import annotations

import pytest
from tenaz.client import TenazClient

from tests.acceptance.test_cli import Cli, cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
# The CLI tests' `cli` fixture, used here too.
__all__ = ["cli"]

PIXEL = "C4A1B2C3D4E5F6G7H8I9"


async def test_create_a_tiktok_destination(cli: Cli, client: TenazClient) -> None:
    no_token = await cli("destinations", "create-tiktok", "tiktok", "--pixel-code", PIXEL, expect=1)
    assert "TENAZ_TIKTOK_ACCESS_TOKEN" in no_token.err
    bad = await cli(
        "destinations",
        "create-tiktok",
        "tiktok",
        "--pixel-code",
        "C4A1/../x",
        TENAZ_TIKTOK_ACCESS_TOKEN="tt-cli-token",
        expect=1,
    )
    assert "pixel_code" in bad.err
    assert "letters and digits" in bad.err

    await cli(
        "destinations",
        "create-tiktok",
        "tiktok",
        "--pixel-code",
        PIXEL,
        "--test-event-code",
        "TEST1234",
        "--event-name",
        "Purchase=Purchase",
        TENAZ_TIKTOK_ACCESS_TOKEN="tt-cli-token",
    )

    created = await client.get_destination("tiktok")
    assert created.WhichOneof("platform") == "tiktok"
    assert (created.tiktok.pixel_code, created.tiktok.test_event_code) == (PIXEL, "TEST1234")
    assert created.tiktok.access_token_set
    assert not created.tiktok.access_token
    assert dict(created.event_names) == {"Purchase": "Purchase"}
    [row] = (await cli("destinations", "list")).out.splitlines()[1:]
    assert row.split()[:2] == ["tiktok", "tiktok"]
    assert PIXEL in row
    assert "tt-cli-token" not in row
