"""Alert channels: where notifications go, what they say, and how each kind sends one.

    webhook   a JSON POST signed as Standard Webhooks says (jobs/platforms/standard_webhooks.py):
              `text` for Slack-compatible receivers, and the same facts as fields
    email     a plain-text e-mail over SMTP, always upgraded with STARTTLS before logging in

Both leave Tenaz as every platform request does: the webhook through the egress policy's
client with a total deadline, the SMTP server only at a public address unless the operator
named its host in TENAZ_ALLOWED_PLATFORM_URLS, within a timeout for the whole conversation.
A failure is `ChannelFailed`, with a message that names no secret.

    ChannelFailed        the channel did not take the notification (retried by the notifier)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.message
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiosmtplib
import httpcore
import httpx
import orjson

from jobs.egress import (
    EgressPolicy,
    RequestDeadline,
    send_bounded,
    vetted_address,
)
from jobs.errors import FieldViolation
from jobs.platforms.standard_webhooks import decode_secret, secret_problem, sign

WEBHOOK: Final = "webhook"
EMAIL: Final = "email"
KINDS: Final = (WEBHOOK, EMAIL)
# The secret each kind keeps sealed, by its setting name.
SECRET_NAMES: Final = {WEBHOOK: "signing_secret", EMAIL: "password"}
# The settings each kind has (shown, never secret).
SETTING_NAMES: Final = {
    WEBHOOK: ("url",),
    EMAIL: ("host", "port", "username", "sender", "recipients"),
}
DEFAULT_SMTP_PORT: Final = 587
MESSAGE_ID_PREFIX: Final = "msg_alert_"
_MAX_ANSWER: Final = 4096


class ChannelFailed(Exception):
    """A channel did not take a notification; the message is safe to record."""


@dataclass(frozen=True)
class AlertChannel:
    id: int
    workspace_id: int
    name: str
    kind: str
    # webhook: url. email: host, port, username, sender, recipients.
    settings: dict[str, Any]
    # Sealed secrets (SecretBox.seal); never leaves the domain.
    secret: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Notification:
    id: int
    workspace_id: int
    channel_name: str
    rule_name: str
    destination_name: str
    kind: str  # firing | resolved | test
    text: str
    body: dict[str, Any]
    state: str  # pending | sent | failed
    attempts: int
    last_error: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


def with_defaults(kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A new channel's settings with the defaults of what was left out."""
    if kind == EMAIL and not settings.get("port"):
        return {**settings, "port": DEFAULT_SMTP_PORT}
    return dict(settings)


def channel_problems(
    kind: str, settings: Mapping[str, Any], secrets: Mapping[str, str], egress: EgressPolicy
) -> list[FieldViolation]:
    """What is wrong with a channel's settings and secrets, one violation per field."""
    if kind == WEBHOOK:
        problems = []
        try:
            egress.check_url(str(settings.get("url", "")), (), any_public=True)
        except ValueError as exc:
            problems.append(FieldViolation("webhook.url", str(exc)))
        problem = secret_problem(secrets.get("signing_secret", ""))
        if problem:
            problems.append(FieldViolation("webhook.signing_secret", problem))
        return problems
    if kind == EMAIL:
        problems = []
        if not str(settings.get("host", "")).strip():
            problems.append(FieldViolation("email.host", "required"))
        port = settings.get("port", 0)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            problems.append(FieldViolation("email.port", "from 1 to 65535"))
        if "@" not in str(settings.get("sender", "")):
            problems.append(FieldViolation("email.sender", "an e-mail address"))
        recipients = settings.get("recipients") or []
        if not recipients or any("@" not in str(r) for r in recipients):
            problems.append(FieldViolation("email.recipients", "one or more e-mail addresses"))
        if bool(settings.get("username")) != bool(secrets.get("password")):
            problems.append(FieldViolation("email.password", "username and password go together"))
        return problems
    return [FieldViolation("kind", f"one of {', '.join(KINDS)}")]


def compose(
    *,
    kind: str,
    workspace: str,
    rule: str,
    condition: str,
    destination: str,
    detail: str,
    at: dt.datetime,
) -> tuple[str, dict[str, Any]]:
    """A notification's one-line text and its JSON body (the text is the body's `text`)."""
    if kind == "firing":
        text = f"[Tenaz] ALERT {rule}: destination {destination!r} ({condition}) {detail}"
    elif kind == "resolved":
        text = f"[Tenaz] RESOLVED {rule}: destination {destination!r} is back to normal"
    else:
        text = f"[Tenaz] test notification for workspace {workspace!r}: this channel works"
    body = {
        "text": text,
        "type": f"tenaz.alert.{kind}",
        "workspace": workspace,
        "rule": rule,
        "condition": condition,
        "destination": destination,
        "detail": detail,
        "at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return text.strip(), body


@dataclass(frozen=True)
class ChannelSender:
    """Sends one notification over one channel, with the channel's secrets opened."""

    client: httpx.AsyncClient
    egress: EgressPolicy
    http_deadline: float
    smtp_timeout: float
    smtp_ca_file: str | None

    async def send(
        self,
        channel: AlertChannel,
        secrets: Mapping[str, str],
        notification_id: int,
        body: Mapping[str, Any],
        now: dt.datetime,
    ) -> None:
        if channel.kind == WEBHOOK:
            await self._webhook(channel, secrets, notification_id, body, now)
        elif channel.kind == EMAIL:
            await self._email(channel, secrets, body)
        else:
            raise ChannelFailed(f"unknown channel kind {channel.kind!r}")

    async def _webhook(
        self,
        channel: AlertChannel,
        secrets: Mapping[str, str],
        notification_id: int,
        body: Mapping[str, Any],
        now: dt.datetime,
    ) -> None:
        try:
            key = decode_secret(secrets.get("signing_secret", ""))
        except ValueError as exc:
            raise ChannelFailed(f"signing_secret: {exc}") from None
        content = orjson.dumps(body)
        # The same id on every try of one notification: a receiver deduplicates by it.
        message_id = f"{MESSAGE_ID_PREFIX}{notification_id}"
        timestamp = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, message_id, timestamp, content),
        }
        try:
            reply = await send_bounded(
                self.client,
                "POST",
                str(channel.settings["url"]),
                content=content,
                headers=headers,
                deadline=self.http_deadline,
                max_body=_MAX_ANSWER,
            )
        except RequestDeadline as exc:
            raise ChannelFailed(f"webhook: {exc}") from None
        except httpx.HTTPError as exc:
            raise ChannelFailed(f"webhook: {type(exc).__name__}: {exc}") from None
        if not 200 <= reply.status < 300:
            raise ChannelFailed(f"webhook: HTTP {reply.status}")

    async def _email(
        self, channel: AlertChannel, secrets: Mapping[str, str], body: Mapping[str, Any]
    ) -> None:
        settings = channel.settings
        host, port = str(settings["host"]), int(settings.get("port") or DEFAULT_SMTP_PORT)
        recipients: Sequence[str] = list(settings["recipients"])
        message = email.message.EmailMessage()
        message["From"] = str(settings["sender"])
        message["To"] = ", ".join(recipients)
        message["Subject"] = str(body["text"])[:200]
        message.set_content(
            str(body["text"])
            + "\n\n"
            + "\n".join(f"{k}: {v}" for k, v in body.items() if k != "text" and v)
            + "\n"
        )
        context = ssl.create_default_context(cafile=self.smtp_ca_file)
        try:
            async with asyncio.timeout(self.smtp_timeout):
                address = await vetted_address(self.egress, host, port)
                smtp = aiosmtplib.SMTP(
                    hostname=address, port=port, timeout=self.smtp_timeout, start_tls=False
                )
                await smtp.connect()
                try:
                    # Never in the clear: a server that cannot STARTTLS gets nothing.
                    await smtp.starttls(server_hostname=host, tls_context=context)
                    if settings.get("username"):
                        await smtp.login(str(settings["username"]), secrets.get("password", ""))
                    await smtp.send_message(message, recipients=recipients)
                finally:
                    smtp.close()
        except TimeoutError:
            raise ChannelFailed(f"email: no answer within {self.smtp_timeout:g} s") from None
        except (aiosmtplib.SMTPException, OSError, httpcore.ConnectError) as exc:
            raise ChannelFailed(f"email: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:300]
