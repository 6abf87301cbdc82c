"""One sale, every platform: an event submitted once over gRPC reaches fake Meta, TikTok, Google
Ads, GA4, Pinterest and Snapchat, each with its own hashing rules and its own event names; when
one platform fails, that delivery alone waits and is sent again, the others are not repeated."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from tenaz.client import TenazClient, make_event
from tenaz.v1 import destinations_pb2, events_pb2

from jobs.base_url import BaseUrl
from jobs.clock import FakeClock
from jobs.platforms.fake_ga4 import FakeGa4, FakeGa4Server
from jobs.platforms.fake_google_ads import FakeGoogleAds, FakeGoogleAdsServer
from jobs.platforms.fake_http import FakeServer
from jobs.platforms.fake_meta import FakeMetaServer
from jobs.platforms.fake_pinterest import FakePinterest, FakePinterestServer
from jobs.platforms.fake_snapchat import FakeSnapchat, FakeSnapchatServer
from jobs.platforms.fake_tiktok import Failure as TikTokFailure
from jobs.platforms.fake_tiktok import FakeTikTok, FakeTikTokServer
from jobs.runtime import Runtime
from jobs.settings import Settings
from tests.integration.platform_helpers import sha256
from tests.support import fire_due_retries, run_jobs, status_history

S = events_pb2
D = destinations_pb2
HALF_HOUR = dt.timedelta(minutes=30)

TIKTOK_PIXEL = "C4A1B2C3D4E5F6G7H8I9"
TIKTOK_TOKEN = "tt-every-platform-token"
GOOGLE_CUSTOMER = "1234567890"
GOOGLE_DEVELOPER_TOKEN = "every-platform-developer-token"
GOOGLE_CLIENT_ID = "every-platform.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "every-platform-client-secret"
GOOGLE_REFRESH_TOKEN = "1//every-platform-refresh-token"
GA4_MEASUREMENT_ID = "G-EVERY1"
GA4_API_SECRET = "every-platform-api-secret"
PINTEREST_ACCOUNT = "549755885175"
PINTEREST_TOKEN = "pina_every-platform-token"
SNAPCHAT_PIXEL = "1ec32188-754e-4be2-8e55-c949a984a39f"
SNAPCHAT_TOKEN = "snap-every-platform-token"


@dataclasses.dataclass(frozen=True)
class Fakes:
    meta: FakeMetaServer
    tiktok: FakeTikTokServer
    google_ads: FakeGoogleAdsServer
    ga4: FakeGa4Server
    pinterest: FakePinterestServer
    snapchat: FakeSnapchatServer

    def servers(self) -> list[FakeServer[Any]]:
        return [getattr(self, field.name) for field in dataclasses.fields(self)]

    def base_urls(self) -> list[str]:
        return [server.base_url for server in self.servers()]


@pytest.fixture
async def fakes(clock: FakeClock, fake_meta: FakeMetaServer) -> AsyncIterator[Fakes]:
    def now() -> float:
        return clock.now().timestamp()

    async with AsyncExitStack() as stack:
        yield Fakes(
            meta=fake_meta,
            tiktok=await stack.enter_async_context(
                FakeTikTokServer(FakeTikTok(now=now, access_tokens={TIKTOK_PIXEL: TIKTOK_TOKEN}))
            ),
            google_ads=await stack.enter_async_context(
                FakeGoogleAdsServer(
                    FakeGoogleAds(
                        now=now,
                        developer_token=GOOGLE_DEVELOPER_TOKEN,
                        customers={GOOGLE_CUSTOMER: {"555"}},
                        client_id=GOOGLE_CLIENT_ID,
                        client_secret=GOOGLE_CLIENT_SECRET,
                        refresh_token=GOOGLE_REFRESH_TOKEN,
                    )
                )
            ),
            ga4=await stack.enter_async_context(
                FakeGa4Server(FakeGa4(now=now, api_secrets={GA4_MEASUREMENT_ID: GA4_API_SECRET}))
            ),
            pinterest=await stack.enter_async_context(
                FakePinterestServer(
                    FakePinterest(now=now, access_tokens={PINTEREST_ACCOUNT: PINTEREST_TOKEN})
                )
            ),
            snapchat=await stack.enter_async_context(
                FakeSnapchatServer(
                    FakeSnapchat(now=now, access_tokens={SNAPCHAT_PIXEL: SNAPCHAT_TOKEN})
                )
            ),
        )


@pytest.fixture
def settings(settings: Settings, fakes: Fakes) -> Settings:
    # The fakes are on loopback, which the egress guard refuses unless the operator allows it.
    allowed = tuple(BaseUrl.parse(url) for url in fakes.base_urls())
    return dataclasses.replace(settings, allowed_platform_urls=allowed)


@pytest.fixture
async def destinations(client: TenazClient, fakes: Fakes) -> list[str]:
    """One destination per platform, each created over gRPC with its own settings message."""
    created = [
        D.Destination(
            name="meta",
            meta=D.MetaSettings(
                pixel_id="111", access_token="good-token", base_url=fakes.meta.base_url
            ),
        ),
        D.Destination(
            name="tiktok",
            tiktok=D.TikTokSettings(
                pixel_code=TIKTOK_PIXEL, access_token=TIKTOK_TOKEN, base_url=fakes.tiktok.base_url
            ),
        ),
        D.Destination(
            name="google-ads",
            google_ads=D.GoogleAdsSettings(
                customer_id="123-456-7890",
                developer_token=GOOGLE_DEVELOPER_TOKEN,
                conversion_actions={"Purchase": "555"},
                base_url=fakes.google_ads.base_url,
                token_base_url=fakes.google_ads.base_url,
                client_id=GOOGLE_CLIENT_ID,
                client_secret=GOOGLE_CLIENT_SECRET,
                refresh_token=GOOGLE_REFRESH_TOKEN,
            ),
        ),
        D.Destination(
            name="ga4",
            ga4=D.Ga4Settings(
                measurement_id=GA4_MEASUREMENT_ID,
                api_secret=GA4_API_SECRET,
                base_url=fakes.ga4.base_url,
            ),
        ),
        D.Destination(
            name="pinterest",
            pinterest=D.PinterestSettings(
                ad_account_id=PINTEREST_ACCOUNT,
                access_token=PINTEREST_TOKEN,
                base_url=fakes.pinterest.base_url,
            ),
        ),
        D.Destination(
            name="snapchat",
            snapchat=D.SnapchatSettings(
                pixel_id=SNAPCHAT_PIXEL,
                access_token=SNAPCHAT_TOKEN,
                base_url=fakes.snapchat.base_url,
            ),
        ),
    ]
    for destination in created:
        destination.enabled = True
        await client.create_destination(destination)
    return [destination.name for destination in created]


def sale(clock: FakeClock, **fields: Any) -> events_pb2.Event:
    """A website purchase carrying what every platform wants: the buyer, a click id of each."""
    return make_event(
        event_id="pedido-1",
        event_name="Purchase",
        event_time=clock.now() - dt.timedelta(minutes=5),
        order_id="pedido-1",
        email=" Maria.Silva@Gmail.com ",
        phone="(11) 98765-4321",
        client_ip_address="203.0.113.7",
        client_user_agent="Mozilla/5.0",
        event_source_url="https://loja.example.com/obrigado",
        fbp="fb.1.1700000000000.42",
        ttclid="E.C.P.every-platform",
        gclid="Cj0KCQiA-every-platform",
        ga_client_id="GA1.1.1234567890.1700000000",
        epik="dj0yJnU9-every-platform",
        sc_click_id="every-platform-sc-click",
        value=99.9,
        currency="BRL",
        # GA4 takes hashed user data only beside a user id of the site's own.
        extra={"user_id": "cliente-7"},
        **fields,
    )


async def deliveries_by_destination(
    client: TenazClient, event_id: str
) -> dict[str, events_pb2.Delivery]:
    return {d.destination: d for d in (await client.get_event(event_id)).deliveries}


async def test_one_event_reaches_every_platform_in_its_own_terms(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fakes: Fakes,
    destinations: list[str],
) -> None:
    response = await client.submit_event(sale(clock))
    assert sorted(d.destination for d in response.event.deliveries) == sorted(destinations)

    await run_jobs(runtime)

    delivered = await deliveries_by_destination(client, response.event.id)
    assert {name: d.status for name, d in delivered.items()} == dict.fromkeys(
        destinations, S.DELIVERY_STATUS_SUCCEEDED
    )
    # Meta, Pinterest and Snapchat keep the dots of a Gmail address and send the phone's digits;
    # Google drops a Gmail address's dots; TikTok and Google send the phone in E.164.
    email = sha256("maria.silva@gmail.com")
    google_email = sha256("mariasilva@gmail.com")
    digits_phone = sha256("5511987654321")
    e164_phone = sha256("+5511987654321")

    [meta_request] = fakes.meta.fake.accepted
    [meta_event] = meta_request.events
    assert meta_event["event_name"] == "Purchase"
    assert meta_event["user_data"]["em"] == email
    assert meta_event["user_data"]["ph"] == digits_phone
    assert meta_event["user_data"]["fbp"] == "fb.1.1700000000000.42"

    [tiktok_request] = fakes.tiktok.fake.accepted
    [tiktok_event] = tiktok_request.events
    assert tiktok_event["event"] == "CompletePayment"
    assert tiktok_event["user"]["email"] == email
    assert tiktok_event["user"]["phone"] == e164_phone
    assert tiktok_event["user"]["ttclid"] == "E.C.P.every-platform"

    [google_conversion] = fakes.google_ads.fake.accepted
    conversion = google_conversion.conversion
    assert conversion["conversionAction"] == f"customers/{GOOGLE_CUSTOMER}/conversionActions/555"
    assert conversion["gclid"] == "Cj0KCQiA-every-platform"
    assert conversion["userIdentifiers"] == [
        {"hashedEmail": google_email},
        {"hashedPhoneNumber": e164_phone},
    ]

    [ga4_event] = fakes.ga4.fake.accepted
    assert (ga4_event.name, ga4_event.client_id, ga4_event.user_id) == (
        "purchase",
        "1234567890.1700000000",
        "cliente-7",
    )
    assert ga4_event.user_data is not None
    assert ga4_event.user_data["sha256_email_address"] == [google_email]
    assert ga4_event.user_data["sha256_phone_number"] == [e164_phone]
    assert ga4_event.params["transaction_id"] == "pedido-1"

    [pinterest_request] = fakes.pinterest.fake.accepted
    [pinterest_event] = pinterest_request.events
    assert pinterest_event["event_name"] == "checkout"
    assert pinterest_event["user_data"]["em"] == [email]
    assert pinterest_event["user_data"]["ph"] == [digits_phone]
    assert pinterest_event["user_data"]["click_id"] == "dj0yJnU9-every-platform"

    [snapchat_request] = fakes.snapchat.fake.accepted
    [snapchat_event] = snapchat_request.events
    assert snapchat_event["event_name"] == "PURCHASE"
    assert snapchat_event["user_data"]["em"] == [email]
    assert snapchat_event["user_data"]["ph"] == [digits_phone]
    assert snapchat_event["user_data"]["sc_click_id"] == "every-platform-sc-click"

    # No platform saw the buyer's raw data, and Tenaz did not keep it.
    for url, fake in ((s.base_url, s.fake) for s in fakes.servers()):
        for request in fake.requests:
            assert b"Maria" not in request.body and b"98765" not in request.body, url
    stored = (await client.get_event(response.event.id)).event
    assert "Maria" not in str(stored) and "98765" not in str(stored)


async def test_a_failure_on_one_platform_retries_there_alone(
    client: TenazClient,
    runtime: Runtime,
    clock: FakeClock,
    fakes: Fakes,
    destinations: list[str],
) -> None:
    fakes.tiktok.fake.fail_next(1, TikTokFailure.too_frequent())
    response = await client.submit_event(sale(clock))
    await run_jobs(runtime)

    delivered = await deliveries_by_destination(client, response.event.id)
    others = [name for name in destinations if name != "tiktok"]
    assert delivered["tiktok"].status == S.DELIVERY_STATUS_WAITING_RETRY
    assert [delivered[name].status for name in others] == [S.DELIVERY_STATUS_SUCCEEDED] * 5

    clock.advance(HALF_HOUR)
    assert await fire_due_retries(runtime) == 1

    delivered = await deliveries_by_destination(client, response.event.id)
    assert delivered["tiktok"].status == S.DELIVERY_STATUS_SUCCEEDED
    assert await status_history(runtime, delivered["tiktok"].id) == [
        "PENDING",
        "SENDING",
        "WAITING_RETRY",
        "RESENDING",
        "SUCCEEDED",
    ]
    for name in others:
        assert len(delivered[name].attempts) == 1, name
    assert fakes.tiktok.fake.received_count("CompletePayment", "pedido-1") == 1
    assert fakes.meta.fake.received_count("Purchase", "pedido-1") == 1
    assert fakes.pinterest.fake.received_count("checkout", "pedido-1") == 1
    assert fakes.snapchat.fake.received_count("PURCHASE", "pedido-1") == 1
    assert fakes.google_ads.fake.received_count("555", "pedido-1") == 1
    assert fakes.ga4.fake.received_count("purchase", "pedido-1") == 1
