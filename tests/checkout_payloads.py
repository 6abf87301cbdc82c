"""Checkout webhook calls as each checkout documents them, made up for tests (no real
customer's data), and signed as each checkout signs them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from typing import Any

from jobs.platforms import standard_webhooks

HOTTOK = "hottok-de-teste-1234567890"
KIWIFY_TOKEN = "kiwify-token-de-teste"
EDUZZ_KEY = "eduzz-chave-de-teste"
GENERIC_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()

EMAIL = "Comprador.Teste@Example.com"
FBP = "fb.1.1700000000000.1234567890"
FBCLID = "IwAR0abcDEF123"


def ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def hotmart(event: str, at: dt.datetime, *, transaction: str = "HP1121336654889") -> dict[str, Any]:
    """A postback 2.0.0 body (developers.hotmart.com; the fields of its samples)."""
    return {
        "id": str(uuid.uuid4()),
        "creation_date": ms(at),
        "event": event,
        "version": "2.0.0",
        "data": {
            "product": {"id": 213344, "ucode": str(uuid.uuid4()), "name": "Curso de Teste"},
            "buyer": {
                "email": EMAIL,
                "name": "Maria Teste da Silva",
                "first_name": "Maria",
                "last_name": "Silva",
                "checkout_phone_code": "55",
                "checkout_phone": "11987654321",
                "document": "00000000000",
                "address": {
                    "city": "São Paulo",
                    "state": "SP",
                    "zipcode": "01310-100",
                    "country_iso": "BR",
                },
            },
            "purchase": {
                "transaction": transaction,
                "status": "APPROVED",
                "order_date": ms(at) - 60_000,
                "approved_date": ms(at),
                "price": {"value": 197.0, "currency_value": "BRL"},
                "payment": {"type": "CREDIT_CARD", "installments_number": 1},
                "buyer_ip": "203.0.113.7",
                "origin": {"src": "campanha-x", "sck": FBP, "xcod": "afiliado-7"},
                "tracking": {"utm_source": "facebook", "utm_campaign": "lancamento"},
            },
        },
    }


def hotmart_headers(token: str = HOTTOK) -> dict[str, str]:
    return {"X-Hotmart-Hottok": token, "Content-Type": "application/json"}


def kiwify(event: str, at: dt.datetime, *, order_id: str = "kw-order-1") -> dict[str, Any]:
    """An order webhook (docs.kiwify.com.br, api-reference/webhooks)."""
    return {
        "order_id": order_id,
        "order_ref": "AbCdEf",
        "order_status": "paid" if event == "order_approved" else "waiting_payment",
        "webhook_event_type": event,
        "payment_method": "credit_card",
        "created_at": at.strftime("%Y-%m-%d %H:%M"),
        "approved_date": at.strftime("%Y-%m-%d %H:%M"),
        "Product": {"product_id": "prod-1", "product_name": "Curso de Teste"},
        "Customer": {
            "full_name": "João Teste Souza",
            "first_name": "João",
            "email": EMAIL,
            "mobile": "+5521998765432",
            "CPF": "00000000000",
            "ip": "198.51.100.9",
        },
        "Commissions": {"charge_amount": "9700", "product_base_price": "9700", "currency": "BRL"},
        "TrackingParameters": {
            "src": None,
            "sck": None,
            "utm_source": "facebook",
            "utm_medium": "cpc",
            "fbclid": FBCLID,
            "fbp": FBP,
        },
        "Subscription": None,
        "subscription_id": None,
    }


def kiwify_query(body: bytes, token: str = KIWIFY_TOKEN) -> dict[str, str]:
    return {"signature": hmac.new(token.encode(), body, hashlib.sha1).hexdigest()}


def eduzz(event: str, at: dt.datetime, *, invoice: str = "12345678") -> dict[str, Any]:
    """A Developer Hub webhook (github.com/eduzz/eduzz-webhook-docs, myeduzz events)."""
    stamp = at.isoformat().replace("+00:00", "Z")
    data: dict[str, Any] = {
        "id": invoice,
        "status": "paid",
        "buyer": {
            "name": "Ana Teste Lima",
            "email": EMAIL,
            "phone": "(31) 3333-4444",
            "cellphone": "(31) 99876-5432",
        },
        "createdAt": stamp,
        "price": {"currency": "BRL", "value": 301.5},
        "paymentMethod": "creditCard",
        "installments": 1,
        "utm": {"source": "facebook", "campaign": "lancamento", "content": "", "medium": "cpc"},
        "items": [
            {"productId": "P567", "name": "Widget X", "price": {"currency": "BRL", "value": 301.5}}
        ],
    }
    if event.endswith("cart_abandonment"):
        del data["id"]
        data["status"] = "abandoned"
    return {"id": secrets.token_hex(8), "event": event, "sentDate": stamp, "data": data}


def eduzz_headers(body: bytes, key: str = EDUZZ_KEY) -> dict[str, str]:
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return {"x-signature": signature, "Content-Type": "application/json"}


def generic_headers(body: bytes, at: dt.datetime, secret: str = GENERIC_SECRET) -> dict[str, str]:
    message_id = "msg_" + secrets.token_hex(6)
    timestamp = int(at.timestamp())
    key = standard_webhooks.decode_secret(secret)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_webhooks.sign(key, message_id, timestamp, body),
        "Content-Type": "application/json",
    }


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()
