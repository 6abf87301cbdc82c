"""Ga4Connector against the fake GA4 over real HTTP on loopback, and the fake against the notes.

The fake's expectations come from the platform notes and Google's Measurement Protocol docs:
collect answers 2xx whatever it receives and drops invalid events silently; the validation
server answers `validationMessages` naming events by index; 25 events a request; names of at
most 40 letters, digits and underscores; reserved names; 72 hours of backdating.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import httpx
import pytest

from jobs.pii import hashed_for, normalise_user_data
from jobs.platforms.fake_ga4 import Failure, FakeGa4, FakeGa4Transport
from jobs.platforms.fake_http import FakeServer
from jobs.platforms.ga4 import EVENT_NAMES, Ga4Connector
from tests.integration.platform_helpers import (
    EXTERNAL,
    REJECTED,
    SUCCEEDED,
    ConnectorCase,
    batch_of,
    kinds,
    sha256,
)
from tests.support import logged

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
MEASUREMENT_ID = "G-TEST1234"
API_SECRET = "mp-secret-Zx81aQ"


def stored(
    number: int,
    *,
    name: str = "Purchase",
    client: str = "111.222",
    user: dict[str, str] | None = None,
    custom: dict[str, Any] | None = None,
    age: dt.timedelta = dt.timedelta(minutes=5),
) -> dict[str, Any]:
    return {
        "event_name": name,
        "event_time": int((NOW - age).timestamp()),
        "event_id": f"evt-{number}",
        "action_source": "website",
        "identifiers": {"ga_client_id": client} if client else {},
        "hashed": {"google": hashed_for("google", normalise_user_data(user or {}))},
        "custom_data": {"value": 10.0 + number, "currency": "BRL", **(custom or {})},
    }


def paths(platform: FakeGa4) -> list[str]:
    return [r.path for r in platform.requests]


def make(http: httpx.AsyncClient, url: str, **changes: Any) -> Ga4Connector:
    settings: dict[str, Any] = {
        "measurement_id": MEASUREMENT_ID,
        "api_secret": API_SECRET,
        "base_url": url,
        "timeout": 5.0,
        "event_names": EVENT_NAMES,
    }
    settings.update(changes)
    return Ga4Connector(http, **settings)


CASE = ConnectorCase(
    "ga4",
    fake=lambda: FakeGa4(now=NOW.timestamp, api_secrets={MEASUREMENT_ID: API_SECRET}),
    failure=Failure,
    connect=lambda http, url, timeout: make(http, url, timeout=timeout),
    event=stored,
    secrets=(API_SECRET,),
    max_batch_size=25,
)


@pytest.fixture
def platform() -> FakeGa4:
    return CASE.fake()


@pytest.fixture
def connector(http: httpx.AsyncClient, served: FakeServer[FakeGa4]) -> Ga4Connector:
    return make(http, served.base_url)


@pytest.fixture
def validating(http: httpx.AsyncClient, served: FakeServer[FakeGa4]) -> Ga4Connector:
    return make(http, served.base_url, validate_first=True)


# -- success and the shape of a request --------------------------------------------------


async def test_a_batch_of_one_user_goes_in_one_request(
    connector: Ga4Connector, platform: FakeGa4
) -> None:
    custom = {"user_id": "cliente-7", "order_id": "pedido-1"}
    user = {"email": "Ana.Souza@gmail.com", "phone": "+55 11 91234-5678"}
    events = [
        stored(1, user=user, custom=custom),
        stored(2, name="AddToCart", user=user, custom={"user_id": "cliente-7"}),
    ]

    outcomes = await connector.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED, SUCCEEDED]
    assert {o.http_status for o in outcomes} == {204}
    [request] = platform.requests
    assert (request.method, request.path) == ("POST", "/mp/collect")
    assert request.query == {"measurement_id": MEASUREMENT_ID, "api_secret": API_SECRET}
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "client_id": "111.222",
        "user_id": "cliente-7",
        "timestamp_micros": int((NOW - dt.timedelta(minutes=5)).timestamp()) * 1_000_000,
        "user_data": {
            "sha256_email_address": [sha256("anasouza@gmail.com")],
            "sha256_phone_number": [sha256("+5511912345678")],
        },
        "events": [
            {
                "name": "purchase",
                "params": {"value": 11.0, "currency": "BRL", "transaction_id": "pedido-1"},
            },
            {"name": "add_to_cart", "params": {"value": 12.0, "currency": "BRL"}},
        ],
    }
    assert platform.received_count("purchase", "pedido-1") == 1
    assert [a.name for a in platform.accepted] == ["purchase", "add_to_cart"]


async def test_events_of_different_users_or_times_go_in_requests_of_their_own(
    connector: Ga4Connector, platform: FakeGa4
) -> None:
    events = [
        stored(1, client="1.1"),
        stored(2, client="2.2"),
        stored(3, client="1.1"),
        stored(4, client="1.1", age=dt.timedelta(hours=1)),
    ]
    outcomes = await connector.send(batch_of(*events))
    assert kinds(outcomes) == [SUCCEEDED] * 4
    assert [r.event_count for r in platform.requests] == [2, 1, 1]
    assert [json.loads(r.body)["client_id"] for r in platform.requests] == ["1.1", "2.2", "1.1"]


async def test_more_than_25_events_of_one_request_go_in_several(
    connector: Ga4Connector, platform: FakeGa4
) -> None:
    outcomes = await connector.send(batch_of(*(stored(n) for n in range(30))))
    assert kinds(outcomes) == [SUCCEEDED] * 30
    assert [r.event_count for r in platform.requests] == [25, 5]
    assert len(platform.accepted) == 30


async def test_without_validation_invalid_events_are_dropped_silently(
    http: httpx.AsyncClient, served: FakeServer[FakeGa4], platform: FakeGa4
) -> None:
    # What GA4 does: 2xx, and the invalid event is gone. Only validate_first sees it.
    connector = make(http, served.base_url, event_names={"Purchase": "session_start"})
    outcomes = await connector.send(batch_of(stored(1), stored(2, name="Lead")))
    assert kinds(outcomes) == [SUCCEEDED, SUCCEEDED]
    assert [a.name for a in platform.accepted] == ["lead"]
    assert platform.dropped == 1


# -- validate_first ---------------------------------------------------------------------------


async def test_validation_refuses_the_events_it_names_and_collects_the_rest(
    validating: Ga4Connector, platform: FakeGa4
) -> None:
    events = [
        stored(1),
        stored(2, custom={"coupon": "x" * 101}),
        stored(3, custom={"google_campaign": "spring"}),
        stored(4, name="AddToCart"),
    ]

    outcomes = await validating.send(batch_of(*events))

    assert kinds(outcomes) == [SUCCEEDED, REJECTED, REJECTED, SUCCEEDED]
    assert paths(platform) == ["/debug/mp/collect", "/mp/collect"]
    assert platform.requests[1].event_count == 2
    assert outcomes[1].message.startswith("VALUE_OUT_OF_BOUNDS: Event at index: [1]")
    assert outcomes[2].message.startswith("NAME_RESERVED: Event at index: [2]")
    assert (outcomes[1].http_status, outcomes[0].http_status) == (200, 204)
    assert '"validationMessages"' in outcomes[1].response_excerpt
    assert [a.name for a in platform.accepted] == ["purchase", "add_to_cart"]
    assert platform.received_count("purchase", "evt-1") == 1


async def test_when_validation_refuses_everything_nothing_is_collected(
    http: httpx.AsyncClient, served: FakeServer[FakeGa4], platform: FakeGa4
) -> None:
    connector = make(
        http, served.base_url, validate_first=True, event_names={"Purchase": "first_visit"}
    )
    outcomes = await connector.send(batch_of(stored(1), stored(2)))
    assert kinds(outcomes) == [REJECTED, REJECTED]
    assert paths(platform) == ["/debug/mp/collect"]


async def test_a_stream_the_validation_server_does_not_know_needs_action(
    http: httpx.AsyncClient, served: FakeServer[FakeGa4], platform: FakeGa4
) -> None:
    connector = make(http, served.base_url, validate_first=True, measurement_id="UA-12345-1")
    outcomes = await connector.send(batch_of(stored(1)))
    assert [(o.kind, o.needs_action) for o in outcomes] == [(EXTERNAL, True)]
    assert outcomes[0].message == "VALUE_INVALID: Measurement ID is invalid."
    assert paths(platform) == ["/debug/mp/collect"]


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status", "needs_action"),
    [
        pytest.param(Failure.http_500(), 500, False, id="500"),
        pytest.param(Failure.http_503(), 503, False, id="503"),
        pytest.param(Failure.rate_limited(), 429, False, id="429"),
        pytest.param(Failure.custom(403, b"<html>Forbidden</html>"), 403, True, id="proxy-403"),
        pytest.param(Failure.custom(302, b""), 302, True, id="redirect"),
    ],
)
@pytest.mark.parametrize("validate_first", [False, True], ids=["collect", "validate"])
async def test_failures_are_external_for_every_event(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGa4],
    platform: FakeGa4,
    failure: Failure,
    status: int,
    needs_action: bool,
    validate_first: bool,
) -> None:
    connector = make(http, served.base_url, validate_first=validate_first)
    platform.fail_next(1, failure)
    outcomes = await connector.send(batch_of(stored(1), stored(2)))
    assert kinds(outcomes) == [EXTERNAL, EXTERNAL]
    assert {(o.http_status, o.needs_action) for o in outcomes} == {(status, needs_action)}
    assert f"HTTP {status}" in outcomes[0].message
    assert platform.request_count == 1
    assert not platform.accepted


async def test_a_failure_after_validation_keeps_its_verdicts(
    validating: Ga4Connector, platform: FakeGa4
) -> None:
    original = platform.answer

    async def collect_down(method: str, path: str, *rest: Any) -> Any:
        if path == "/mp/collect":
            return Failure.http_503().status, {}, b""
        return await original(method, path, *rest)

    platform.answer = collect_down  # type: ignore[method-assign]
    outcomes = await validating.send(batch_of(stored(1), stored(2, custom={"ga_thing": "x"})))
    assert kinds(outcomes) == [EXTERNAL, REJECTED]


async def test_an_event_without_a_client_id_is_refused_without_a_request(
    connector: Ga4Connector, platform: FakeGa4
) -> None:
    outcomes = await connector.send(batch_of(stored(1, client=""), stored(2)))
    assert kinds(outcomes) == [REJECTED, SUCCEEDED]
    assert "ga_client_id" in outcomes[0].message
    assert platform.request_count == 1


async def test_the_api_secret_never_shows(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGa4],
    platform: FakeGa4,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = make(http, served.base_url, validate_first=True)
    echo = f"POST /mp/collect?measurement_id={MEASUREMENT_ID}&api_secret={API_SECRET}".encode()
    platform.fail_next(1, Failure.custom(502, echo))
    outcomes = await connector.send(batch_of(stored(1)))
    outcomes += await connector.send(batch_of(stored(2, custom={"p": API_SECRET + "x" * 100})))
    outcomes += await connector.send(batch_of(stored(3)))
    assert kinds(outcomes) == [EXTERNAL, REJECTED, SUCCEEDED]
    assert "[secret]" in outcomes[0].response_excerpt
    for outcome in outcomes:
        assert API_SECRET not in repr(outcome)
    text = logged(caplog.records)
    assert "/mp/collect" in text  # httpx named the URLs it requested...
    assert API_SECRET not in text  # ...without the secret


async def test_a_wrong_api_secret_is_taken_and_dropped_as_ga4_does(
    http: httpx.AsyncClient, served: FakeServer[FakeGa4], platform: FakeGa4
) -> None:
    # GA4 says nothing about a wrong api secret, even at the validation server.
    connector = make(http, served.base_url, validate_first=True, api_secret="an-old-secret")
    assert kinds(await connector.send(batch_of(stored(1)))) == [SUCCEEDED]
    assert (len(platform.accepted), platform.dropped) == (0, 1)


async def test_sandbox_transport_delivers_in_process() -> None:
    platform = FakeGa4(now=NOW.timestamp)
    async with httpx.AsyncClient(transport=FakeGa4Transport(platform)) as client:
        connector = Ga4Connector(
            client,
            measurement_id=MEASUREMENT_ID,
            api_secret="sandbox",
            base_url="http://sandbox.invalid",
            validate_first=True,
        )
        outcomes = await connector.send(batch_of(stored(1), stored(2, custom={"_bad": 1})))
    assert kinds(outcomes) == [SUCCEEDED, REJECTED]
    assert platform.received_count("purchase", "evt-1") == 1


# -- the fake follows the notes ----------------------------------------------------------


async def validate(http: httpx.AsyncClient, served: FakeServer[FakeGa4], body: Any) -> list[Any]:
    response = await http.post(
        f"{served.base_url}/debug/mp/collect",
        params={"measurement_id": MEASUREMENT_ID, "api_secret": API_SECRET},
        content=json.dumps(body).encode(),
    )
    assert response.status_code == 200
    return [(m["fieldPath"], m["validationCode"]) for m in response.json()["validationMessages"]]


def body(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"client_id": "1.2", "events": list(events), **fields}


def event(name: str = "purchase", **params: Any) -> dict[str, Any]:
    return {"name": name, "params": params}


HASH = sha256("someone@example.com")
STAMP = int(NOW.timestamp()) * 1_000_000


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(body(event()), [], id="valid"),
        pytest.param(body(event(), timestamp_micros=STAMP - 71 * 3600 * 10**6), [], id="71h"),
        pytest.param({"events": [event()]}, [("client_id", "VALUE_REQUIRED")], id="no-client-id"),
        pytest.param(body(), [("events", "VALUE_REQUIRED")], id="no-events"),
        pytest.param(body(*[event()] * 26), [("events", "EXCEEDED_MAX_ENTITIES")], id="26-events"),
        pytest.param(body(event("_badEventName")), [("events", "NAME_INVALID")], id="docs-example"),
        pytest.param(body(event("a" * 41)), [("events", "NAME_INVALID")], id="name-41"),
        pytest.param(body(event("compra aprovada")), [("events", "NAME_INVALID")], id="space"),
        pytest.param(body(event("session_start")), [("events", "NAME_RESERVED")], id="reserved"),
        pytest.param(
            body(event(**{f"p{n}": n for n in range(26)})),
            [("events.params", "EXCEEDED_MAX_ENTITIES")],
            id="26-params",
        ),
        pytest.param(body(event(ga_x=1)), [("events.params", "NAME_RESERVED")], id="ga_-param"),
        pytest.param(
            body(event(note="x" * 101)), [("events.params", "VALUE_OUT_OF_BOUNDS")], id="long"
        ),
        pytest.param(
            body(event(currency="REAIS")), [("events.params", "VALUE_INVALID")], id="currency"
        ),
        pytest.param(body(event(value="10")), [("events.params", "VALUE_INVALID")], id="value"),
        pytest.param(
            body(event(items=[{"quantity": 1}])),
            [("events.params.items", "VALUE_REQUIRED")],
            id="item-id",
        ),
        pytest.param(
            body(event(), timestamp_micros=STAMP - 73 * 3600 * 10**6),
            [("timestamp_micros", "VALUE_OUT_OF_BOUNDS")],
            id="73h",
        ),
        pytest.param(
            body(event(), user_data={"sha256_email_address": [HASH]}),
            [("user_id", "VALUE_REQUIRED")],
            id="user-data-without-user-id",
        ),
        pytest.param(
            body(event(), user_id="u", user_data={"sha256_email_address": ["a@example.com"]}),
            [("user_data.sha256_email_address", "VALUE_INVALID")],
            id="unhashed",
        ),
    ],
)
async def test_fake_validation_server(
    http: httpx.AsyncClient,
    served: FakeServer[FakeGa4],
    platform: FakeGa4,
    document: dict[str, Any],
    expected: list[tuple[str, str]],
) -> None:
    assert await validate(http, served, document) == expected
    assert platform.total_events_received == 0  # the validation server records nothing


async def test_fake_collect_answers_204_to_anything(
    http: httpx.AsyncClient, served: FakeServer[FakeGa4], platform: FakeGa4
) -> None:
    query = {"measurement_id": MEASUREMENT_ID, "api_secret": API_SECRET}
    for content in (b"not json", json.dumps(body(event("_bad"), event())).encode()):
        response = await http.post(f"{served.base_url}/mp/collect", params=query, content=content)
        assert (response.status_code, response.content) == (204, b"")
    assert [a.name for a in platform.accepted] == ["purchase"]
    assert platform.dropped == 1
    response = await http.get(f"{served.base_url}/mp/collect", params=query)
    assert response.status_code == 405
