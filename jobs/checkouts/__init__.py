"""Checkout webhooks Tenaz reads: one module per checkout, and one registry of them.

A source (jobs/webhook_sources.py) names its checkout by kind; nothing else asks which
checkout a request came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from jobs.checkouts.base import BadPayload, Checkout, Reading, Sale, SignedRequest
from jobs.checkouts.eduzz import Eduzz
from jobs.checkouts.generic import Generic
from jobs.checkouts.hotmart import Hotmart
from jobs.checkouts.kiwify import Kiwify

CHECKOUTS: Final[Mapping[str, Checkout]] = {
    c.kind: c for c in (Hotmart(), Kiwify(), Eduzz(), Generic())
}

__all__ = ["CHECKOUTS", "BadPayload", "Checkout", "Reading", "Sale", "SignedRequest"]
