"""`tenaz destinations create-kwai` and `create-webhook` as operators run them: settings from
options, secrets from TENAZ_KWAI_ACCESS_TOKEN and TENAZ_WEBHOOK_SIGNING_SECRET, and Kwai's
help saying that it is unverified."""

from __future__ import annotations

import base64

import pytest
from tenaz.client import TenazClient

from tests.acceptance import test_cli
from tests.acceptance.test_cli import Cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

SECRET = "whsec_" + base64.b64encode(b"tenaz-tests-webhook-signing-key-1").decode()


# The command line of tests/acceptance/test_cli.py, against the same test server.
tenaz = test_cli.cli


async def test_create_kwai_and_webhook_destinations(tenaz: Cli, client: TenazClient) -> None:
    help_text = (await tenaz("destinations", "--help")).out
    assert "unverified: Kwai publishes no API documentation" in " ".join(help_text.split())

    missing = await tenaz("destinations", "create-kwai", "kwai", "--pixel-id", "2764", expect=1)
    assert "TENAZ_KWAI_ACCESS_TOKEN" in missing.err
    await tenaz(
        "destinations",
        "create-kwai",
        "kwai",
        "--pixel-id",
        "276454450988322",
        "--test",
        "--event-name",
        "Lead=EVENT_CONTACT",
        TENAZ_KWAI_ACCESS_TOKEN="kwai-fake-token-for-tests",
    )
    await tenaz(
        "destinations",
        "create-webhook",
        "webhook",
        "--url",
        "https://hooks.example.com/tenaz",
        TENAZ_WEBHOOK_SIGNING_SECRET=SECRET,
    )
    bad = await tenaz(
        "destinations",
        "create-webhook",
        "other",
        "--url",
        "https://hooks.example.com/tenaz",
        TENAZ_WEBHOOK_SIGNING_SECRET="not-a-whsec-secret",
        expect=1,
    )
    assert "signing_secret" in bad.err
    assert "not-a-whsec-secret" not in bad.err

    kwai = await client.get_destination("kwai")
    assert (kwai.kwai.pixel_id, kwai.kwai.test, kwai.kwai.access_token_set) == (
        "276454450988322",
        True,
        True,
    )
    assert kwai.kwai.base_url == ""  # the official URL applies
    assert dict(kwai.event_names) == {"Lead": "EVENT_CONTACT"}
    await tenaz("destinations", "update", "kwai", "--test", "false")
    assert not (await client.get_destination("kwai")).kwai.test
    webhook = await client.get_destination("webhook")
    assert webhook.webhook.url == "https://hooks.example.com/tenaz"
    assert webhook.webhook.signing_secret_set

    listing = (await tenaz("destinations", "list")).out
    assert "pixel id 276454450988322" in listing
    assert "url https://hooks.example.com/tenaz" in listing
    assert SECRET not in listing
