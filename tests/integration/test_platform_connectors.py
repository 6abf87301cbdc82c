"""What every platform's connector does alike, each against its own fake over real HTTP on
loopback: an empty batch costs no request; a request that hangs is an external problem once the
timeout passes, while other connections are served; a refused connection is an external problem
for every event; a base URL that leads nowhere needs action; and no outcome shows a secret.

Each case is one platform as its own test module describes it (the module's `CASE`), so a
platform that breaks one of these fails under its own name."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from jobs.platforms.fake_http import FakeServer, ScriptedPlatform, ScriptedReply
from tests.integration import (
    test_ga4_connector,
    test_google_ads_connector,
    test_kwai_connector,
    test_linkedin_connector,
    test_meta_connector,
    test_pinterest_connector,
    test_reddit_connector,
    test_snapchat_connector,
    test_tiktok_connector,
    test_webhook_connector,
)
from tests.integration.platform_helpers import (
    EXTERNAL,
    SUCCEEDED,
    ConnectorCase,
    assert_no_secret,
    batch_of,
    kinds,
    refused_url,
)

MODULES = (
    test_meta_connector,
    test_tiktok_connector,
    test_google_ads_connector,
    test_ga4_connector,
    test_pinterest_connector,
    test_snapchat_connector,
    test_reddit_connector,
    test_linkedin_connector,
    test_kwai_connector,
    test_webhook_connector,
)
CASES = [pytest.param(module.CASE, id=module.CASE.name) for module in MODULES]
# A webhook receiver answers at any path it is given: there is no wrong one.
ROUTED_CASES = [case for case in CASES if case.id != "webhook"]

Case = ConnectorCase[ScriptedPlatform[Any]]


@pytest.fixture
def platform(case: Case) -> ScriptedPlatform[Any]:
    return case.fake()


@pytest.mark.parametrize("case", CASES)
async def test_an_empty_batch_sends_nothing(
    http: httpx.AsyncClient,
    case: Case,
    served: FakeServer[Any],
    platform: ScriptedPlatform[Any],
) -> None:
    connector = case.connect(http, served.base_url, 5.0)
    assert await connector.send([]) == []
    assert platform.request_count == 0


@pytest.mark.parametrize("case", CASES)
async def test_a_hanging_request_times_out_while_other_connections_are_served(
    http: httpx.AsyncClient,
    case: Case,
    served: FakeServer[Any],
    platform: ScriptedPlatform[Any],
) -> None:
    connector = case.connect(http, served.base_url, 0.2)
    platform.fail_next(1, ScriptedReply.hanging())
    sending = asyncio.create_task(connector.send(batch_of(case.event(1))))
    await platform.wait_for_hang()
    assert platform.hanging == 1

    other = case.connect(http, served.base_url, 5.0)
    assert kinds(await other.send(batch_of(case.event(2)))) == [SUCCEEDED]

    [outcome] = await sending
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, None, False)
    assert outcome.message == "timed out after 0.2 s"
    assert_no_secret([outcome], *case.secrets)
    platform.release()


@pytest.mark.parametrize("case", CASES)
async def test_a_refused_connection_is_an_external_problem_for_every_event(
    http: httpx.AsyncClient, case: Case
) -> None:
    connector = case.connect(http, refused_url(), 5.0)
    outcomes = await connector.send(batch_of(case.event(1), case.event(2)))
    assert [o.delivery_id for o in outcomes] == [100, 101]
    assert {(o.kind, o.message, o.http_status, o.needs_action) for o in outcomes} == {
        (EXTERNAL, "connection refused", None, False)
    }
    assert_no_secret(outcomes, *case.secrets)


@pytest.mark.parametrize("case", ROUTED_CASES)
async def test_a_base_url_that_leads_nowhere_needs_action(
    http: httpx.AsyncClient,
    case: Case,
    served: FakeServer[Any],
    platform: ScriptedPlatform[Any],
) -> None:
    connector = case.connect(http, served.base_url + "/nowhere", 5.0)
    [outcome] = await connector.send(batch_of(case.event(1)))
    assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 404, True)
    assert_no_secret([outcome], *case.secrets)
    assert platform.total_events_received == 0
