"""`python -m bench.micro`: the CPU Tenaz's own Python spends per event on its hot paths, with
no database, no network and no other process, step by step.

server   one SubmitEvents call of a batch of purchases to one Meta destination:
           decode   the request's events as the domain takes them (server/mapping.py)
           check    each event on its own, personal data normalised (jobs/validation.py)
           choose   its destinations, the hashes their platforms want, the deadlines
           births   the deliveries' moves into PENDING and their rows (jobs/moves.plan)
           answer   the events as stored, and the call's answer (SubmitEventsResponse)
worker   one attempt of as many deliveries to Meta (jobs/delivery.py):
           load     the stored payloads, as the database driver reads them (orjson)
           claim    start each attempt, and the rows it writes (claims, plan)
           encode   each event in Meta's wire format, as JSON, and the request's body
                    (jobs/platforms/json_events.py, as MetaConnector.send)
           finish   where the platform's answers take them, and the rows (ends, plan)

What each figure leaves out is the database (its driver but for the payloads' JSON, its
round trips), gRPC's own work (the bytes of the request and the answer) and the event loop:
`make bench` measures whole processes. The figures are the process's CPU time per event
(time.process_time), the best of several rounds, so other programs on the machine change them
little; still, compare two revisions by running each on the same machine, one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import orjson

from bench.load import make_event
from jobs.delivery import Sent, claims, ends
from jobs.errors import FieldViolation
from jobs.model import Destination
from jobs.moves import plan
from jobs.platforms.base import Outcome, OutcomeKind
from jobs.platforms.json_events import Encoded, json_body, send_in_chunks
from jobs.platforms.meta import MAX_BATCH_SIZE, wire_event
from jobs.settings import Settings
from jobs.store.deliveries import DueDelivery, LockedDelivery
from jobs.submission import births, delivery_rows, stored_events
from jobs.validation import DestinationChoice, check_event, choose_destinations
from server import mapping

Step = Callable[[Any], Any]
_T = TypeVar("_T")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.micro", description=__doc__.split("\n\n")[0].strip("`")
    )
    parser.add_argument("--events", type=int, default=500, help="events per call (default 500)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds, of which the best counts (default 5)"
    )
    parser.add_argument(
        "--repeat", type=int, default=10, help="calls (and attempts) per round (default 10)"
    )
    return parser.parse_args(argv)


def run(runner: asyncio.Runner, coroutine: Coroutine[Any, Any, _T]) -> _T:
    """`coroutine`'s result, on the runner's loop. Not `runner.run`: each call of it installs a
    SIGINT handler, and the signal module's check of that handler formats the whole task, the
    answer it holds included, which costs milliseconds that are not the server's."""
    return runner.get_loop().run_until_complete(coroutine)


def server_steps(count: int, now: dt.datetime, runner: asyncio.Runner) -> list[tuple[str, Step]]:
    """The server's steps, each taking what the one before gave."""
    settings = Settings(database_url="postgresql://unused/unused")
    destination = Destination(
        id=1,
        workspace_id=1,
        name="meta",
        kind="meta",
        enabled=True,
        settings={"pixel_id": "123456789012345"},
        secret="",
        retry_interval=None,
        rate_limit=None,
        needs_action=False,
        needs_action_reason="",
        created_at=now,
        updated_at=now,
    )
    request = [make_event("micro", i) for i in range(count)]

    def decode(_: Any) -> Any:
        return [mapping.event_input(e, f"events[{i}]") for i, e in enumerate(request)]

    def check(inputs: Any) -> Any:
        violations: list[FieldViolation] = []
        checked = [
            check_event(e, f"events[{i}]", now, settings, violations) for i, e in enumerate(inputs)
        ]
        assert not violations, violations[:3]
        return checked

    def choose(checked: Any) -> Any:
        violations: list[FieldViolation] = []
        choice = DestinationChoice([destination])
        prepared = [choose_destinations(c, now, choice, settings, violations) for c in checked]
        assert not violations, violations[:3]
        return prepared

    def born(prepared: Any) -> Any:
        # As the store would answer: event ids, then a delivery per event and destination.
        unique = {(p.new.event_name, p.new.event_id): p for p in prepared}
        new_ids = {key: index + 1 for index, key in enumerate(unique)}
        rows, chosen = delivery_rows(unique, new_ids)
        created = [(index + 1, e, d) for index, (e, d, _) in enumerate(rows)]
        plan(births(1, created, now=now), now=now)
        return unique, new_ids, created, rows, chosen

    def answer(stored: Any) -> Any:
        unique, new_ids, created, rows, chosen = stored
        events = stored_events(1, unique, new_ids, created, rows, chosen, now=now)
        results = [_Result(events[new_ids[key]]) for key in unique]
        return run(runner, mapping.submit_events_response(results))  # type: ignore[arg-type]

    return [
        ("decode", decode),
        ("check", check),
        ("choose", choose),
        ("births", born),
        ("answer", answer),
    ]


class _Result:
    """A SubmitResult of a new event."""

    def __init__(self, event: Any) -> None:
        self.event = event
        self.duplicate = False


def worker_steps(count: int, now: dt.datetime, runner: asyncio.Runner) -> list[tuple[str, Step]]:
    """The worker's steps for one attempt of `count` deliveries that Meta takes; `runner` runs
    what is async (the connector's sending)."""
    settings = Settings(database_url="postgresql://unused/unused")
    server = dict(server_steps(count, now, runner))
    prepared = server["choose"](server["check"](server["decode"](None)))
    stored = [orjson.dumps(p.new.payload) for p in prepared]
    deadline = now + dt.timedelta(days=7)

    def load(_: Any) -> Any:
        return [
            DueDelivery(
                i + 1, 1, i + 1, 1, "PENDING", 0, deadline, "first", orjson.loads(p), "", now
            )
            for i, p in enumerate(stored)
        ]

    def claim(due: Any) -> Any:
        claim = claims(due, now=now, lease=settings.attempt_lease, rule=settings.deadline_rule)
        plan(claim.moves, now=now)
        return claim.claimed

    async def accept(batch: Sequence[Encoded]) -> list[Outcome]:
        json_body(b"data", batch, after=b'"access_token":"unused"')
        return [Outcome(e.delivery_id, OutcomeKind.SUCCEEDED, http_status=200) for e in batch]

    def encode(claimed: Any) -> Any:
        # As MetaConnector.send, with a platform that takes everything at once.
        sending = send_in_chunks(
            [c.event for c in claimed],
            None,
            prepare=lambda event: wire_event(event.payload, str),
            send_request=accept,
            max_batch_size=MAX_BATCH_SIZE,
        )
        return claimed, run(runner, sending)

    def finish(sent: Any) -> Any:
        claimed, outcomes = sent
        locked = [
            LockedDelivery(c.delivery_id, 1, c.delivery_id, 1, "SENDING", 1, deadline, "first", now)
            for c in claimed
        ]
        moves, tally = ends(
            locked,
            claimed,
            Sent(outcomes, frozenset()),
            now=now,
            interval=settings.retry_interval,
            rule=settings.deadline_rule,
        )
        assert tally["SUCCEEDED"] == len(claimed), tally
        plan(moves, now=now)
        return tally

    return [("load", load), ("claim", claim), ("encode", encode), ("finish", finish)]


def measure(steps: list[tuple[str, Step]], *, rounds: int, repeat: int) -> dict[str, float]:
    """Each step's CPU seconds for one pass, the best of `rounds` rounds of `repeat` passes."""
    best = {name: float("inf") for name, _ in steps}
    for _ in range(rounds + 1):  # the first round warms up (imports, caches), and counts too
        spent = dict.fromkeys(best, 0.0)
        for _ in range(repeat):
            value: Any = None
            for name, step in steps:
                started = time.process_time()
                value = step(value)
                spent[name] += time.process_time() - started
        for name in best:
            best[name] = min(best[name], spent[name] / repeat)
    return best


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    now = dt.datetime.now(dt.UTC)
    with asyncio.Runner() as runner:
        for path, steps in (
            ("server", server_steps(args.events, now, runner)),
            ("worker", worker_steps(args.events, now, runner)),
        ):
            best = measure(steps, rounds=args.rounds, repeat=args.repeat)
            per_event = {name: seconds / args.events * 1e6 for name, seconds in best.items()}
            parts = "  ".join(f"{name} {us:.1f}" for name, us in per_event.items())
            print(f"{path}: {sum(per_event.values()):5.1f} µs/event  ({parts})")


if __name__ == "__main__":
    main()
