"""A fake Kwai event API (`POST /log/common/api`), after the community integrations the
platform notes (section 6) draw on.

Kwai documents nothing, so the request checks follow what every integration sends, and the
answers are the fake's own choices, marked as such: HTTP 200 with `{"result": 1}` for an event
taken, and HTTP 200 with `{"result": 0, "error_msg": ...}` for a refusal (integrations read
`result` and `error_msg`; none shows Kwai's codes). The checks, in order:

- a JSON object body;
- `access_token` known, and allowed for `pixelId` ("access_token invalid", "pixelId not
  exist or no permission");
- `clickid` present, `event_name` of Kwai's form (EVENT_...), `is_attributed` 1, `mmpcode`
  "PL", `testFlag` and `trackFlag` booleans;
- `properties` a JSON string of an object, with a numeric `value` and a 3-letter
  `currency` when present.

Kwai's request carries no event id, so the fake counts what it took by (event name, click
id). Tests script the failures seen or feared (`Failure`): 5xx, "system busy", a rejected
token, 401/403, 429, a proxy's 404 page, a redirect, a hang.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jobs.platforms.fake_http import (
    FakeServer,
    FakeTransport,
    Reply,
    ScriptedReply,
)
from jobs.platforms.fake_json import UNAUTHORIZED, AccountPlatform, json_reply
from jobs.platforms.http_connector import parse_json

EVENTS_PATH: Final = "/log/common/api"
_EVENT_NAME: Final = re.compile(r"EVENT_[A-Z_]{2,60}")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
# The fake's own refusal: integrations see a `result` other than 1 with an `error_msg`.
REFUSED_RESULT: Final = 0


@dataclass(frozen=True)
class Failure(ScriptedReply):
    """A scripted answer for `FakeKwai.fail_next`: Kwai's JSON (`result`, `error_msg`), or a
    bare HTTP answer (`result` None)."""

    status: int = 200
    result: int | None = None
    error_msg: str = ""

    @classmethod
    def refused(cls, error_msg: str, *, status: int = 200) -> Failure:
        return cls(status=status, result=REFUSED_RESULT, error_msg=error_msg)

    @classmethod
    def busy(cls) -> Failure:
        return cls.refused("system busy, please try again later")

    @classmethod
    def token_invalid(cls) -> Failure:
        return cls.refused("access_token invalid")

    @classmethod
    def pixel_unknown(cls) -> Failure:
        return cls.refused("pixelId not exist or no permission")

    @classmethod
    def http_502(cls) -> Failure:
        return cls(status=502, body=b"<html><body>502 Bad Gateway</body></html>")

    @classmethod
    def unauthorized(cls) -> Failure:
        return cls(status=401, body=b"Unauthorized")

    @classmethod
    def forbidden(cls) -> Failure:
        return cls(status=403, body=b"<html>403 Forbidden</html>", content_type="text/html")

    @classmethod
    def throttled(cls) -> Failure:
        return cls(status=429, body=b"Too Many Requests")

    @classmethod
    def proxy_not_found(cls) -> Failure:
        """A 404 page from something that is not Kwai (no `result`)."""
        return cls(status=404, body=b"<html>Not Found</html>", content_type="text/html")

    @classmethod
    def redirect(cls) -> Failure:
        return cls(status=302, body=b"")

    @classmethod
    def not_json(cls) -> Failure:
        """HTTP 200 with a page, as a captive portal answers."""
        return cls(status=200, body=b"<html>Welcome</html>", content_type="text/html")

    def reply(self) -> Reply:
        if self.result is None:
            return super().reply()
        _, headers, body = _answer(self.result, self.error_msg)
        return self.status, headers, body


@dataclass(frozen=True)
class AcceptedEvent:
    """An event Kwai took, as it arrived (`properties` decoded)."""

    pixel_id: str
    click_id: str
    event_name: str
    properties: Mapping[str, Any]
    test_flag: bool
    track_flag: bool
    body: Mapping[str, Any]


class _Refused(Exception):
    """Stops validation with the error_msg to answer; never leaves this module."""


class FakeKwai(AccountPlatform[Failure, AcceptedEvent]):
    """The platform: its checks, what it took, and the failures a test scripted; its
    `access_tokens` map pixel id -> token."""

    async def answer(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        if path.rstrip("/") != EVENTS_PATH:
            return 404, {"content-type": "text/html"}, b"<html>404 Not Found</html>"
        if method.upper() != "POST":
            return 405, {"content-type": "text/html"}, b"<html>405 Method Not Allowed</html>"
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        try:
            event = self._check(parse_json(body))
        except _Refused as refused:
            return _answer(REFUSED_RESULT, str(refused))
        self.accepted.append(event)
        self.note_received([(event.event_name, event.click_id)])
        return _answer(1, "")

    def count_events(self, body: bytes) -> int:
        return 1 if isinstance(parse_json(body), dict) else 0

    # -- the checks ------------------------------------------------------------------------

    def _check(self, document: object) -> AcceptedEvent:
        if not isinstance(document, dict):
            raise _Refused("request body is not a json object")
        self._authenticate(document.get("access_token"), document.get("pixelId"))
        click_id = document.get("clickid")
        if not isinstance(click_id, str) or not click_id:
            raise _Refused("clickid is empty")
        name = document.get("event_name")
        if not isinstance(name, str) or not _EVENT_NAME.fullmatch(name):
            raise _Refused("event_name invalid")
        if document.get("is_attributed") != 1 or document.get("mmpcode") != "PL":
            raise _Refused("param invalid: is_attributed, mmpcode")
        test_flag, track_flag = document.get("testFlag"), document.get("trackFlag")
        if not isinstance(test_flag, bool) or not isinstance(track_flag, bool):
            raise _Refused("param invalid: testFlag, trackFlag")
        return AcceptedEvent(
            pixel_id=str(document["pixelId"]),
            click_id=click_id,
            event_name=name,
            properties=_properties(document.get("properties")),
            test_flag=test_flag,
            track_flag=track_flag,
            body=document,
        )

    def _authenticate(self, token: object, pixel_id: object) -> None:
        if not isinstance(token, str) or not token:
            raise _Refused("access_token invalid")
        if not isinstance(pixel_id, str) or not pixel_id:
            raise _Refused("pixelId is empty")
        status = self.token_refusal(pixel_id, token)
        if status == UNAUTHORIZED:
            raise _Refused("access_token invalid")
        if status is not None:
            raise _Refused("pixelId not exist or no permission")


def _properties(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, str):
        raise _Refused("properties must be a json string")
    try:
        properties = json.loads(value)
    except (ValueError, RecursionError):
        raise _Refused("properties is not valid json") from None
    if not isinstance(properties, dict):
        raise _Refused("properties must be a json object")
    amount = properties.get("value")
    if amount is not None and (not isinstance(amount, int | float) or isinstance(amount, bool)):
        raise _Refused("properties.value must be a number")
    currency = properties.get("currency")
    if currency is not None and not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        raise _Refused("properties.currency invalid")
    return properties


def _answer(result: int, error_msg: str) -> Reply:
    document: dict[str, Any] = {"result": result}
    if error_msg:
        document["error_msg"] = error_msg
    return json_reply(200, document, content_type="application/json;charset=UTF-8")


FakeKwaiServer = FakeServer[FakeKwai]
FakeKwaiTransport = FakeTransport[FakeKwai]
