"""Reading a Conversions API request as Meta's Graph API does, for the two servers that take
one: the fake Meta in tests and the sandbox, and Tenaz's own ingest endpoint (server/ingest).

Graph takes its parameters from a form body (the docs' `data=[...]` example, and what the
Python SDK sends) or a JSON body, and from the query string, the body winning. `data` is a
JSON array of events, or in a form, a JSON string of one; the Python SDK also sends each event
as a JSON string inside that array. What cannot be read is refused with Graph's code 100 and
the wording Graph uses (`GraphRequestError`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs

MAX_EVENTS_PER_REQUEST: Final = 1000


class GraphRequestError(ValueError):
    """The request cannot be read; `message` is Graph's answer (code 100, HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def request_parameters(query: Mapping[str, str], content_type: str, body: bytes) -> dict[str, Any]:
    """The request's parameters: a form or JSON body's, then the query's that the body lacks."""
    params: dict[str, Any]
    if _media_type(content_type) == "application/x-www-form-urlencoded":
        try:
            # errors="strict": a percent-escaped byte that is not UTF-8 is refused too.
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise GraphRequestError("(#100) The request body is not UTF-8.") from None
        params = {name: values[-1] for name, values in form.items()}
    elif body.strip():
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise GraphRequestError("(#100) The request body is not valid JSON.") from None
        if not isinstance(document, dict):
            raise GraphRequestError("(#100) The request body must be a JSON object.")
        params = document
    else:
        params = {}
    for name, value in query.items():
        params.setdefault(name, value)
    return params


def request_events(data: object, *, max_events: int = MAX_EVENTS_PER_REQUEST) -> list[object]:
    """The events of `data` (the parameter as given), each as JSON decoded; not yet checked."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise GraphRequestError("(#100) param data must be an array.") from None
    if data is None:
        raise GraphRequestError("(#100) The parameter data is required")
    if not isinstance(data, list):
        raise GraphRequestError("(#100) param data must be an array.")
    if not data:
        raise GraphRequestError("(#100) param data must not be empty.")
    if len(data) > max_events:
        raise GraphRequestError(f"(#100) param data must have at most {max_events} events.")
    return [_event_object(raw) for raw in data]


def _event_object(raw: object) -> object:
    if isinstance(raw, str):
        with contextlib.suppress(ValueError, RecursionError):
            return json.loads(raw)
    return raw


def error_object(
    *,
    code: int,
    message: str,
    type: str,
    fbtrace_id: str,
    subcode: int | None = None,
    user_title: str = "",
    user_msg: str = "",
    is_transient: bool = False,
    error_data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Graph's error answer, `{"error": {...}}`, with the fields Meta's SDKs read; the
    optional ones only when set, as Graph sends them."""
    error: dict[str, Any] = {"message": message, "type": type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if user_title:
        error["error_user_title"] = user_title
    if user_msg:
        error["error_user_msg"] = user_msg
    if error_data:
        error["error_data"] = dict(error_data)
    error["is_transient"] = is_transient
    error["fbtrace_id"] = fbtrace_id
    return {"error": error}
