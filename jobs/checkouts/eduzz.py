"""Eduzz's webhook (the Developer Hub's, github.com/eduzz/eduzz-webhook-docs).

    {"id": "<event id>", "event": "myeduzz.invoice_paid", "sentDate": "...", "data": {...}}

Eduzz signs each request: the `x-signature` header is HMAC-SHA256 of the raw body, keyed with
one of the account's secret keys. Its documentation does not say the digest's encoding; Tenaz
takes it in hex, either case (the common reading of `hmac('sha256', key, body)`).
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

_APP: Final = "myeduzz."
ABANDONED_CART: Final = "cart_abandonment"


class Eduzz:
    kind = "eduzz"
    default_events: Mapping[str, str] = {
        "invoice_paid": "Purchase",
        # A boleto or PIX issued, waiting for the payment.
        "invoice_waiting_payment": "AddPaymentInfo",
        ABANDONED_CART: "InitiateCheckout",
    }

    def verify(self, secret: str, request: SignedRequest) -> bool:
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        return same_text(expected, request.headers.get("x-signature", "").lower())

    def read(self, body: Any, events: Mapping[str, str], options: Mapping[str, Any]) -> Reading:
        envelope = obj(body, "the body")
        event_type = text(envelope.get("event")).removeprefix(_APP)
        if not event_type:
            raise BadPayload("event is missing: not an Eduzz webhook")
        event_name = events.get(event_type, "")
        if not event_name:
            return Reading(event_type, None)
        data = obj(envelope.get("data"), "data")
        buyer = obj(data.get("buyer"), "data.buyer")
        price = obj(data.get("price"), "data.price")
        event_time = (
            instant(data.get("paidAt"), "data.paidAt")
            or instant(envelope.get("sentDate"), "sentDate")
            or instant(data.get("createdAt"), "data.createdAt")
        )
        email = text(buyer.get("email"))
        items = data.get("items")
        if not isinstance(items, list):
            items = []
        contents = []
        for index, item in enumerate(items):
            item = obj(item, f"data.items[{index}]")
            item_price = obj(item.get("price"), f"data.items[{index}].price")
            if product_id := text(item.get("productId")):
                amount = number(item_price.get("value"), f"data.items[{index}].price.value")
                contents.append(ContentInput(product_id, 1, amount or 0.0))
        transaction = text(data.get("id"))
        if not transaction:
            if event_type != ABANDONED_CART:
                raise BadPayload("data.id (the invoice) is missing")
            created = instant(data.get("createdAt"), "data.createdAt")
            transaction = cart_id(email, ",".join(c.id for c in contents), created)
        utm = {f"utm_{k}": v for k, v in obj(data.get("utm"), "data.utm").items()}
        clicks, campaign = tracking(utm, event_time)
        user = present(
            email=email,
            phone=text(buyer.get("cellphone") or buyer.get("phone")),
        )
        user |= buyer_names("", "", text(buyer.get("name")))
        return Reading(
            event_type,
            Sale(
                event_name=event_name,
                transaction=transaction,
                event_time=event_time,
                value=number(price.get("value"), "data.price.value"),
                currency=text(price.get("currency")),
                order_id=text(data.get("id")),
                user_data=user | clicks,
                contents=contents,
                extra=campaign,
            ),
        )
