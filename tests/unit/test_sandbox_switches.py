"""The sandbox's demo switches answer as the platform would: an expired token makes the
destination need action (with Meta's code), and the next attempt goes through."""

from __future__ import annotations

import httpx

from jobs.platforms.base import OutcomeKind, OutgoingEvent
from jobs.platforms.sandbox import EXPIRED_TOKEN_KEY, DemoSwitches
from tests.support import stored_shape
from tests.unit.test_sandbox_memory import connector_factory, event, sandbox_destination


async def test_an_expired_token_needs_action_for_the_attempts_asked_then_goes_through() -> None:
    async with httpx.AsyncClient() as platforms:
        factory = connector_factory(platforms)
        connector = factory.for_destination(sandbox_destination(1))
        assert isinstance(connector, DemoSwitches)
        expiring = OutgoingEvent(1, stored_shape(event("t1", **{EXPIRED_TOKEN_KEY: 2})))
        plain = OutgoingEvent(2, stored_shape(event("t2")))
        for _ in range(2):
            refused, taken = await connector.send([expiring, plain])
            assert refused.kind is OutcomeKind.EXTERNAL_PROBLEM
            assert refused.needs_action and refused.action == "credentials"
            assert (refused.platform_code, refused.platform_subcode) == (190, 463)
            assert "access token" in refused.message
            assert taken.kind is OutcomeKind.SUCCEEDED and not taken.needs_action
        [finally_taken] = await connector.send([expiring])
        assert finally_taken.kind is OutcomeKind.SUCCEEDED
        await factory.aclose()
