"""Kiwify's webhook (docs.kiwify.com.br, api-reference/webhooks/receiving).

Kiwify POSTs the order as JSON and adds `?signature=<hex>` to the URL: the HMAC-SHA1 of the
raw body, in lower-case hex, keyed with the webhook's token (the token itself is never sent).
The body is the order (`webhook_event_type`, `order_id`, `Customer`, `Commissions`,
`TrackingParameters`, ...); some senders wrap it as `{"order": {...}}`, which is read too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

from jobs.checkouts.base import (
    BadPayload,
    Reading,
    Sale,
    SignedRequest,
    buyer_names,
    cart_id,
    instant,
    number,
    obj,
    present,
    same_text,
    text,
    tracking,
)
from jobs.validation import ContentInput

# Kiwify's abandoned-cart payload names no event type; Tenaz calls it this.
ABANDONED_CART: Final = "abandoned_cart"


class Kiwify:
    kind = "kiwify"
    default_events: Mapping[str, str] = {
        "order_approved": "Purchase",
        # Every charge of a subscription is an order of its own (a new order_id); Kiwify
        # sends order_approved and subscription_renewed for it: one Purchase.
        "subscription_renewed": "Purchase",
        "billet_created": "AddPaymentInfo",
        "pix_created": "AddPaymentInfo",
        ABANDONED_CART: "InitiateCheckout",
    }

    def verify(self, secret: str, request: SignedRequest) -> bool:
        expected = hmac.new(secret.encode(), request.body, hashlib.sha1).hexdigest()
        return same_text(expected, request.query.get("signature", "").lower())

    def read(self, body: Any, events: Mapping[str, str], options: Mapping[str, Any]) -> Reading:
        order = obj(body, "the body")
        if isinstance(order.get("order"), dict) and "webhook_event_type" not in order:
            order = order["order"]
        event_type = text(order.get("webhook_event_type"))
        if not event_type and text(order.get("status")) == "abandoned":
            event_type = ABANDONED_CART
        if not event_type:
            raise BadPayload("webhook_event_type is missing: not a Kiwify order webhook")
        event_name = events.get(event_type, "")
        if not event_name:
            return Reading(event_type, None)
        customer = obj(order.get("Customer"), "Customer")
        commissions = obj(order.get("Commissions"), "Commissions")
        product = obj(order.get("Product"), "Product")
        event_time = instant(order.get("approved_date") or order.get("created_at"), "approved_date")
        email = text(customer.get("email") or order.get("email"))
        transaction = text(order.get("order_id"))
        product_id = text(product.get("product_id") or order.get("product_id"))
        if not transaction:
            if event_type != ABANDONED_CART:
                raise BadPayload("order_id is missing")
            transaction = text(order.get("id")) or cart_id(email, product_id, event_time)
        cents = number(commissions.get("charge_amount"), "Commissions.charge_amount")
        value = None if cents is None else cents / 100
        clicks, campaign = tracking(
            obj(order.get("TrackingParameters"), "TrackingParameters"), event_time
        )
        user = present(
            email=email,
            phone=text(customer.get("mobile") or order.get("phone")),
            city=text(customer.get("city")),
            state=text(customer.get("state")),
            zip=text(customer.get("zipcode")),
            country=text(customer.get("country") or order.get("country")),
            client_ip_address=text(customer.get("ip")),
        )
        full_name = text(customer.get("full_name") or order.get("name"))
        user |= buyer_names(
            text(customer.get("first_name")) if not full_name else "", "", full_name
        )
        return Reading(
            event_type,
            Sale(
                event_name=event_name,
                transaction=transaction,
                event_time=event_time,
                value=value,
                currency=text(commissions.get("currency")) or ("BRL" if value else ""),
                order_id=text(order.get("order_id")),
                user_data=user | clicks,
                contents=[ContentInput(product_id, 1, value or 0.0)] if product_id else [],
                extra=campaign,
            ),
        )
