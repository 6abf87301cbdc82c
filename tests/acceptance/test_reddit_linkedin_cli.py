"""`tenaz destinations create-reddit` and `create-linkedin` as operators run them: options
named after the platforms' settings, tokens from TENAZ_REDDIT_ACCESS_TOKEN and
TENAZ_LINKEDIN_ACCESS_TOKEN, never from an option."""

from __future__ import annotations

import pytest
from tenaz.client import TenazClient

from tests.acceptance.test_cli import Cli, cli  # noqa: F401 - `cli` is the fixture used below

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def test_create_reddit_and_linkedin_destinations(
    cli: Cli,  # noqa: F811 - the fixture imported above
    client: TenazClient,
) -> None:
    await cli(
        "destinations",
        "create-reddit",
        "reddit",
        "--ad-account-id",
        "t2_abc123",
        "--test-mode",
        TENAZ_REDDIT_ACCESS_TOKEN="reddit-token-from-env",
    )
    reddit = (await client.get_destination("reddit")).reddit
    assert (reddit.ad_account_id, reddit.test_mode, reddit.access_token_set) == (
        "t2_abc123",
        True,
        True,
    )

    no_token = await cli("destinations", "create-linkedin", "linkedin", "--conversion-rules",
                         "Purchase=104012", expect=1)  # fmt: skip
    assert "TENAZ_LINKEDIN_ACCESS_TOKEN" in no_token.err
    await cli(
        "destinations",
        "create-linkedin",
        "linkedin",
        "--conversion-rules",
        "Purchase=104012",
        "--conversion-rules",
        "Lead=104013",
        "--api-version",
        "202509",
        TENAZ_LINKEDIN_ACCESS_TOKEN="linkedin-token-from-env",
    )
    linkedin = (await client.get_destination("linkedin")).linkedin
    assert dict(linkedin.conversion_rules) == {"Purchase": "104012", "Lead": "104013"}
    assert (linkedin.api_version, linkedin.access_token_set) == ("202509", True)

    bad_rule = await cli("destinations", "create-linkedin", "other", "--conversion-rules",
                         "Purchase=urn:lla:1", expect=1,
                         TENAZ_LINKEDIN_ACCESS_TOKEN="linkedin-token-from-env")  # fmt: skip
    assert "conversion rule id is digits" in bad_rule.err

    listing = (await cli("destinations", "list")).out
    assert "ad account id t2_abc123" in listing
    assert "Purchase=104012" in listing
    assert "token-from-env" not in listing
