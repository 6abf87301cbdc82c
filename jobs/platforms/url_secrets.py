"""Keeping a credential that travels in a URL out of the logs.

Most platforms take their token in a header or the body. One that documents only a query
parameter (Snapchat's `?access_token=`) puts it in the request's URL, and httpx logs every
request's URL at INFO ("HTTP Request: POST https://...?access_token=..."). Tenaz's own
logging keeps httpx at WARNING, but a host program (or a test) that logs httpx's INFO lines
must not see the token either: the connector of such a platform calls `hide_queries_in_http_logs`
once it exists, which hides the query of every URL in httpx's request lines.
"""

from __future__ import annotations

import logging
from typing import Final

import httpx

HIDDEN: Final = "[hidden]"


class HideQueries(logging.Filter):
    """Replaces the query of the URLs in a log record's arguments (it keeps the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) and arg.query for arg in record.args
        ):
            record.args = tuple(
                arg.copy_with(query=HIDDEN.encode()) if isinstance(arg, httpx.URL) and arg.query
                else arg
                for arg in record.args
            )  # fmt: skip
        return True


_FILTER: Final = HideQueries()


def hide_queries_in_http_logs() -> None:
    """Hide URL queries in httpx's log lines from now on (once; calling again does nothing)."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
