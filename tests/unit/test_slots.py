"""Worker slots: a destination, a workspace and an endpoint each hold only their share."""

from __future__ import annotations

from jobs.slots import SlotKeys, Slots, TurnedAway


def test_a_destination_holds_its_cap_and_a_turned_away_job_leaves_a_note() -> None:
    slots = Slots(per_destination=2, per_shared=10)
    keys = SlotKeys(destination=1, workspace=1, endpoint="https://graph.facebook.com")
    assert [slots.enter(keys) for _ in range(3)] == [
        TurnedAway.NO,
        TurnedAway.NO,
        TurnedAway.BY_DESTINATION,
    ]
    assert slots.take_turned_away(1) and not slots.take_turned_away(1)
    slots.leave(keys)
    assert slots.enter(keys) is TurnedAway.NO


def test_a_workspace_and_an_endpoint_hold_at_most_their_share() -> None:
    slots = Slots(per_destination=2, per_shared=3)
    proxy = "https://capi-proxy.corp"
    held = [SlotKeys(destination=d, workspace=1, endpoint=proxy) for d in (1, 1, 2)]
    assert [slots.enter(k) for k in held] == [TurnedAway.NO] * 3
    # Another destination of the same workspace, or of another one behind the same proxy.
    assert slots.enter(SlotKeys(3, 1, "https://graph.facebook.com")) is TurnedAway.BY_SHARED
    assert slots.enter(SlotKeys(4, 2, proxy)) is TurnedAway.BY_SHARED
    assert not slots.take_turned_away(3)  # no job of its own runs to pick it up
    # Anyone else goes ahead.
    assert slots.enter(SlotKeys(5, 2, "https://graph.facebook.com")) is TurnedAway.NO
    slots.leave(held[0])
    assert slots.enter(SlotKeys(4, 2, proxy)) is TurnedAway.NO


def test_the_share_is_never_below_a_destinations_cap() -> None:
    slots = Slots(per_destination=4, per_shared=1)
    keys = SlotKeys(destination=1, workspace=1, endpoint="e")
    assert [slots.enter(keys) for _ in range(4)] == [TurnedAway.NO] * 4
