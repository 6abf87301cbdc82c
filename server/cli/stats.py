"""`tenaz stats`: deliveries by status and destination, success rate, destination health.

The window is GetStats': deliveries created in it (default: the last 24 hours, from the first
whole hour in them).
"""

from __future__ import annotations

import argparse
import collections

from tenaz.v1 import events_pb2

from server.cli.connection import connect
from server.cli.errors import UsageError
from server.cli.options import check_window
from server.cli.output import (
    Output,
    cell,
    health_text,
    local_time,
    needs_action_text,
    percent,
    shorten,
    status_label,
    table,
    when,
)

STATUS_ORDER = (
    events_pb2.DELIVERY_STATUS_PENDING,
    events_pb2.DELIVERY_STATUS_SENDING,
    events_pb2.DELIVERY_STATUS_WAITING_RETRY,
    events_pb2.DELIVERY_STATUS_RESENDING,
    events_pb2.DELIVERY_STATUS_SUCCEEDED,
    events_pb2.DELIVERY_STATUS_FAILED,
)


def counts_by_destination(
    response: events_pb2.GetStatsResponse,
) -> dict[str, collections.Counter[int]]:
    """destination -> status -> count, every destination of the response included."""
    counts: dict[str, collections.Counter[int]] = {
        d.destination: collections.Counter() for d in response.destinations
    }
    for count in response.counts:
        counts.setdefault(count.destination, collections.Counter())[count.status] += count.count
    return dict(sorted(counts.items()))


async def stats(args: argparse.Namespace, out: Output) -> None:
    try:
        check_window(args.since, args.until)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    async with connect(args) as tenaz:
        response = await tenaz.get_stats(since=args.since, until=args.until)
    if out.as_json:
        out.json(response)
        return
    out.print(
        cell(
            f"deliveries created from {local_time(when(response, 'since'))}"
            f" to {local_time(when(response, 'until'))}",
            "bold",
        )
    )
    grid = table("destination", *(status_label(s, out.lang) for s in STATUS_ORDER), "total")
    totals: collections.Counter[int] = collections.Counter()
    for name, counts in counts_by_destination(response).items():
        totals.update(counts)
        grid.add_row(
            cell(name),
            *(cell(counts[s]) for s in STATUS_ORDER),
            cell(sum(counts.values())),
        )
    grid.add_row(
        cell("total", "bold"),
        *(cell(totals[s], "bold") for s in STATUS_ORDER),
        cell(sum(totals.values()), "bold"),
    )
    out.print(grid)
    out.print(cell(f"success rate: {percent(response.success_rate)}"))
    if not response.destinations:
        return
    out.print()
    health = table(
        "destination", "health", "waiting", "success rate", "last success", "last failure", "reason"
    )
    for d in response.destinations:
        health.add_row(
            cell(d.destination),
            health_text(d.health, out.lang),
            cell(d.waiting_retry),
            cell(percent(d.success_rate)),
            cell(local_time(when(d, "last_success_at"))),
            cell(local_time(when(d, "last_failure_at"))),
            cell(
                shorten(needs_action_text(d.action, d.reason, out.lang), 160),
                "red" if d.reason else "",
            ),
        )
    out.print(health)
