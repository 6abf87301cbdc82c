"""Hotmart's webhook (postback version 2.0.0).

    {"id": "<uuid>", "creation_date": <epoch ms>, "event": "PURCHASE_APPROVED",
     "version": "2.0.0", "data": {"buyer": {...}, "purchase": {...}, "product": {...}}}

Hotmart signs nothing: it sends the account's "hottok" as it is, in the `X-Hotmart-Hottok`
header (and, in many samples, as `hottok` in the body). The token is compared in constant
time; anyone who has it can send events, so the URL must be https.
"""

from __future__ import annotations

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
    json_body,
    number,
    obj,
    phone_with_code,
    present,
    same_text,
    text,
    tracking,
)
from jobs.validation import ContentInput

_TOKEN_HEADERS: Final = ("x-hotmart-hottok", "x-hotmart-webhook-token")
ABANDONED_CART: Final = "PURCHASE_OUT_OF_SHOPPING_CART"


class Hotmart:
    kind = "hotmart"
    default_events: Mapping[str, str] = {
        # A sale: APPROVED when paid, COMPLETE when the guarantee period ends; one Purchase.
        "PURCHASE_APPROVED": "Purchase",
        "PURCHASE_COMPLETE": "Purchase",
        # A boleto printed or a PIX code generated: the buyer chose how to pay, not yet paid.
        "PURCHASE_BILLET_PRINTED": "AddPaymentInfo",
        ABANDONED_CART: "InitiateCheckout",
    }

    def verify(self, secret: str, request: SignedRequest) -> bool:
        for header in _TOKEN_HEADERS:
            if given := request.headers.get(header, ""):
                return same_text(secret, given)
        try:
            body = json_body(request.body)
        except BadPayload:
            return False
        token = body.get("hottok") if isinstance(body, dict) else None
        return isinstance(token, str) and same_text(secret, token)

    def read(self, body: Any, events: Mapping[str, str], options: Mapping[str, Any]) -> Reading:
        envelope = obj(body, "the body")
        event_type = text(envelope.get("event"))
        if not event_type:
            raise BadPayload("event is missing: not a Hotmart webhook (postback 2.0.0)")
        event_name = events.get(event_type, "")
        if not event_name:
            return Reading(event_type, None)
        data = obj(envelope.get("data"), "data")
        purchase = obj(data.get("purchase"), "data.purchase")
        buyer = obj(data.get("buyer"), "data.buyer")
        address = obj(buyer.get("address"), "data.buyer.address")
        product = obj(data.get("product"), "data.product")
        price = obj(purchase.get("price"), "data.purchase.price")
        event_time = (
            instant(purchase.get("approved_date"), "data.purchase.approved_date")
            or instant(purchase.get("order_date"), "data.purchase.order_date")
            or instant(envelope.get("creation_date"), "creation_date")
        )
        email = text(buyer.get("email"))
        transaction = text(purchase.get("transaction"))
        if not transaction:
            if event_type != ABANDONED_CART:
                raise BadPayload("data.purchase.transaction is missing")
            transaction = cart_id(email, text(product.get("id")), event_time)
        value = number(price.get("value"), "data.purchase.price.value")
        origin = {
            **obj(purchase.get("tracking"), "data.purchase.tracking"),
            **obj(purchase.get("origin"), "data.purchase.origin"),
        }
        clicks, campaign = tracking(origin, event_time)
        phone = phone_with_code(
            text(buyer.get("checkout_phone_code")), text(buyer.get("checkout_phone"))
        ) or text(buyer.get("phone"))
        user = present(
            email=email,
            phone=phone,
            city=text(address.get("city")),
            state=text(address.get("state")),
            zip=text(address.get("zipcode")),
            country=text(address.get("country_iso")),
            client_ip_address=text(purchase.get("buyer_ip")),
        )
        user |= buyer_names(
            text(buyer.get("first_name")), text(buyer.get("last_name")), text(buyer.get("name"))
        )
        product_id = text(product.get("id"))
        return Reading(
            event_type,
            Sale(
                event_name=event_name,
                transaction=transaction,
                event_time=event_time,
                value=value,
                currency=text(price.get("currency_value") or price.get("currency_code")),
                order_id=text(purchase.get("transaction")),
                user_data=user | clicks,
                contents=([ContentInput(product_id, 1, value or 0.0)] if product_id else []),
                extra=campaign,
            ),
        )
