"""A `DeliveryFilter` as SQL, for queries over `tenaz_events e` and `tenaz_deliveries d`.

Listing events and bulk operations select with the same filter; building its clauses in
one place keeps "matches" meaning the same thing in ListEvents, the dashboard and a bulk
retry. Values always travel as parameters; only fixed clause text is joined.
"""

from __future__ import annotations

from typing import Any

from jobs.model import DeliveryFilter


def event_clauses(where: DeliveryFilter, params: dict[str, Any]) -> list[str]:
    """The parts of the filter that are about the event (alias `e`)."""
    clauses = []
    if where.event_name:
        clauses.append("e.event_name = %(event_name)s")
        params["event_name"] = where.event_name
    if where.after is not None:
        clauses.append("e.received_at >= %(after)s")
        params["after"] = where.after
    if where.before is not None:
        clauses.append("e.received_at < %(before)s")
        params["before"] = where.before
    if where.event_ids:
        clauses.append("e.event_id = ANY(%(event_ids)s)")
        params["event_ids"] = list(where.event_ids)
    if where.event_or_order_id:
        clauses.append("(e.event_id = %(search)s OR e.order_id = %(search)s)")
        params["search"] = where.event_or_order_id
    return clauses


def delivery_clauses(where: DeliveryFilter, params: dict[str, Any]) -> list[str]:
    """The parts of the filter that are about one delivery (alias `d`)."""
    clauses = []
    if where.statuses:
        clauses.append("d.status = ANY(%(statuses)s)")
        params["statuses"] = list(where.statuses)
    if where.destination_id is not None:
        clauses.append("d.destination_id = %(destination_id)s")
        params["destination_id"] = where.destination_id
    return clauses
