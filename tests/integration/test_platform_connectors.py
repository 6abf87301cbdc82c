"""What every platform's connector does alike, each against its own fake over real HTTP on
loopback: it names its endpoint and its batch size, never its secrets; an empty batch costs no
request; a batch above the platform's limit goes in several requests; an event JSON cannot
carry fails alone without a request; an outage is an external problem until it ends; a request
that hangs is an external problem once the timeout passes, while other connections are served;
a refused connection is an external problem for every event; a base URL that leads nowhere
needs action; and no outcome shows a secret, not even one a proxy echoes, nor does any log
line.

Each case is one platform as its own test module describes it (the module's `CASE`), so a
platform that breaks one of these fails under its own name."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from jobs.platforms.base import Connector
from jobs.platforms.fake_http import FakeServer, ScriptedPlatform
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
    REJECTED,
    SUCCEEDED,
    ConnectorCase,
    assert_no_secret,
    batch_of,
    kinds,
    refused_url,
)
from tests.support import logged

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
# Pinterest and LinkedIn take the value as text, where NaN is theirs to refuse.
JSON_NUMBER_CASES = [case for case in CASES if case.id not in ("pinterest", "linkedin")]

Case = ConnectorCase[ScriptedPlatform[Any]]


@pytest.fixture
def platform(case: Case) -> ScriptedPlatform[Any]:
    return case.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, case: Case, served: FakeServer[Any]) -> Connector:
    """The case's connector, sending to its fake (`served`, from conftest)."""
    return case.connect(http, served.base_url, 5.0)


@pytest.mark.parametrize("case", CASES)
def test_a_connector_tells_its_endpoint_and_batch_size_and_hides_its_secrets(
    connector: Connector, case: Case, served: FakeServer[Any]
) -> None:
    assert connector.max_batch_size == case.max_batch_size
    assert connector.endpoint == served.base_url
    for secret in case.secrets:
        assert secret not in repr(connector)
        assert secret not in connector.endpoint


@pytest.mark.parametrize("case", CASES)
async def test_an_empty_batch_sends_nothing(
    connector: Connector,
    case: Case,
    platform: ScriptedPlatform[Any],
) -> None:
    assert await connector.send([]) == []
    assert platform.request_count == 0


def events_per_request(platform: ScriptedPlatform[Any]) -> list[int]:
    """How many events each request that carried any held (a token request holds none)."""
    return [r.event_count for r in platform.requests if r.event_count]


@pytest.mark.parametrize("case", CASES)
async def test_a_batch_above_the_limit_goes_in_several_requests(
    connector: Connector,
    case: Case,
    platform: ScriptedPlatform[Any],
) -> None:
    limit = connector.max_batch_size
    outcomes = await connector.send(batch_of(*(case.event(n) for n in range(2 * limit + 1))))
    assert kinds(outcomes) == [SUCCEEDED] * (2 * limit + 1)
    assert events_per_request(platform) == [limit, limit, 1]
    assert platform.total_events_received == 2 * limit + 1


@pytest.mark.parametrize("case", JSON_NUMBER_CASES)
async def test_an_event_json_cannot_carry_fails_alone_without_a_request(
    connector: Connector,
    case: Case,
    http: httpx.AsyncClient,
    platform: ScriptedPlatform[Any],
) -> None:
    not_a_number = case.event(2)
    not_a_number["custom_data"] = {**not_a_number["custom_data"], "value": float("nan")}
    outcomes = await connector.send(batch_of(case.event(1), not_a_number, case.event(3)))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED, SUCCEEDED]
    assert outcomes[1].http_status is None
    assert outcomes[1].message
    one_request = connector.max_batch_size > 1
    assert events_per_request(platform) == ([2] if one_request else [1, 1])
    assert platform.total_events_received == 2


@pytest.mark.parametrize("case", CASES)
async def test_an_outage_is_an_external_problem_until_it_ends(
    connector: Connector,
    case: Case,
    http: httpx.AsyncClient,
    platform: ScriptedPlatform[Any],
) -> None:
    platform.set_down(True)
    for _ in range(3):
        [outcome] = await connector.send(batch_of(case.event(1)))
        assert (outcome.kind, outcome.http_status, outcome.needs_action) == (EXTERNAL, 503, False)
        assert_no_secret([outcome], *case.secrets)
    platform.set_down(False)
    assert kinds(await connector.send(batch_of(case.event(1)))) == [SUCCEEDED]
    assert platform.total_events_received == 1


@pytest.mark.parametrize("case", CASES)
async def test_a_hanging_request_times_out_while_other_connections_are_served(
    http: httpx.AsyncClient,
    case: Case,
    served: FakeServer[Any],
    platform: ScriptedPlatform[Any],
) -> None:
    connector = case.connect(http, served.base_url, 0.2)
    platform.fail_next(1, case.failure.hanging())
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


@pytest.mark.parametrize("case", CASES)
async def test_a_secret_a_proxy_echoes_shows_in_no_outcome_and_no_log(
    connector: Connector,
    case: Case,
    served: FakeServer[Any],
    platform: ScriptedPlatform[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = "upstream said " + " ".join(case.secrets)
    platform.fail_next(1, case.failure.custom(502, echo.encode(), content_type="text/plain"))
    [outcome] = await connector.send(batch_of(case.event(1)))
    assert (outcome.kind, outcome.http_status) == (EXTERNAL, 502)
    assert outcome.response_excerpt == "upstream said" + " [secret]" * len(case.secrets)
    assert_no_secret([outcome], *case.secrets)
    assert kinds(await connector.send(batch_of(case.event(2)))) == [SUCCEEDED]
    text = logged(caplog.records)
    assert served.base_url.removeprefix("http://") in text  # the requests were logged...
    for secret in case.secrets:
        assert secret not in text  # ...without a secret
