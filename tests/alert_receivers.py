"""Real receivers on loopback for the alert tests: a webhook endpoint that checks Standard
Webhooks signatures, and an SMTP server that takes mail only after STARTTLS and a login."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from jobs.alerts import ChannelSpec
from jobs.base_url import BaseUrl
from jobs.platforms.standard_webhooks import decode_secret, verify
from jobs.secrets import generate_key
from jobs.settings import Settings
from tests.support import Pki, free_port

WEBHOOK_SECRET = "whsec_" + "dGVuYXotYWxlcnQtdGVzdC1zaWduaW5nLXNlY3JldA=="
SMTP_USER, SMTP_PASSWORD = "tenaz", "smtp-test-password"


def settings_allowing(database_url: str, *urls: str, **options: Any) -> Settings:
    """The tests' settings, with the loopback receivers' addresses allowed (loopback is refused
    unless the operator names it): `urls` are base URLs, an SMTP server's as http://host:port."""
    return Settings(
        database_url=database_url,
        secret_key=generate_key(),
        http_timeout=dt.timedelta(seconds=2),
        attempt_budget=dt.timedelta(seconds=10),
        allowed_platform_urls=tuple(BaseUrl.parse(url) for url in urls),
        **options,
    )


def webhook_channel(name: str, url: str) -> ChannelSpec:
    """A webhook channel to `url`, signed with the receivers' secret."""
    return ChannelSpec(
        name=name, kind="webhook", settings={"url": url}, secrets={"signing_secret": WEBHOOK_SECRET}
    )


@dataclass
class WebhookReceiver:
    """Takes POSTs at /hook; a request whose signature does not verify gets 401 and is kept
    apart. `fail_next` answers the next requests with 503."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    requests: int = 0
    fail_next: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        headers = request.headers
        if not verify(
            decode_secret(WEBHOOK_SECRET),
            headers.get("webhook-id", ""),
            headers.get("webhook-timestamp", ""),
            body,
            headers.get("webhook-signature", ""),
        ):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503)
        self.bodies.append(orjson.loads(body))
        self.ids.append(headers["webhook-id"])
        self.arrived.set()
        return web.Response(status=204)


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@dataclass
class Mailbox:
    """What the SMTP server took: each message with whether it came over TLS."""

    host: str
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    over_tls: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append(message)
        self.over_tls.append(session.ssl is not None)
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


def _authenticate(mailbox: Mailbox) -> Any:
    def check(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (SMTP_USER, SMTP_PASSWORD)
        if ok:
            mailbox.logins.append(data.login.decode())
        return AuthResult(success=ok)

    return check


@asynccontextmanager
async def smtp_server(pki: Pki) -> AsyncIterator[Mailbox]:
    """An SMTP server on loopback that refuses MAIL before STARTTLS, and AUTH before TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    mailbox = Mailbox("127.0.0.1", free_port())
    controller = Controller(
        mailbox,
        hostname=mailbox.host,
        port=mailbox.port,
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
        auth_required=True,
        authenticator=_authenticate(mailbox),
    )
    await asyncio.to_thread(controller.start)
    try:
        yield mailbox
    finally:
        await asyncio.to_thread(controller.stop)
