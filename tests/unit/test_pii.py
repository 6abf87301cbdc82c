"""Meta's documented normalisation, field by field, checked against hand-normalised hashes."""

from __future__ import annotations

import hashlib

import pytest

from jobs.pii import InvalidPersonalData, hash_user_data


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hashed(field: str, value: str, **other: str) -> dict[str, str]:
    return hash_user_data({field: value, **other})


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("maria@example.com", "maria@example.com"),
        ("  Maria.Silva@Example.COM \n", "maria.silva@example.com"),
        # Meta documents no Gmail-dot or +tag stripping.
        ("maria+promo@example.com", "maria+promo@example.com"),
    ],
)
def test_email_is_trimmed_and_lowercased(value: str, normalised: str) -> None:
    assert hashed("email", value) == {"em": sha256(normalised)}


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        # Local Brazilian numbers (DDD + number) get the default country code.
        ("(11) 98765-4321", "5511987654321"),
        ("11 3456-7890", "551134567890"),
        ("011 98765 4321", "5511987654321"),
        # DDD 55 starts with the country code's digits but is still a local number.
        ("(55) 99123-4567", "5555991234567"),
        # With a country code already.
        ("+55 (11) 98765-4321", "5511987654321"),
        ("0055 11 98765.4321", "5511987654321"),
        ("55 11 98765 4321", "5511987654321"),
        # An explicit "+" keeps a foreign number as written.
        ("+1 (415) 555-0100", "14155550100"),
        ("+44 20 7946 0958", "442079460958"),
    ],
)
def test_phone_becomes_digits_with_a_country_code(value: str, normalised: str) -> None:
    assert hashed("phone", value) == {"ph": sha256(normalised)}


def test_phone_default_country_code_is_configurable() -> None:
    assert hash_user_data({"phone": "(415) 555-0100"}, default_phone_country_code="1") == {
        "ph": sha256("14155550100")
    }
    # Eleven digits that start with the default code already carry it.
    assert hash_user_data({"phone": "1 415 555 0100"}, default_phone_country_code="1") == {
        "ph": sha256("14155550100")
    }


def test_default_country_code_must_be_digits() -> None:
    with pytest.raises(ValueError, match="digits"):
        hash_user_data({"phone": "11 98765-4321"}, default_phone_country_code="+55")


@pytest.mark.parametrize(
    ("field", "key", "value", "normalised"),
    [
        ("first_name", "fn", "  Maria ", "maria"),
        ("first_name", "fn", "Ana-Clara", "anaclara"),
        ("first_name", "fn", "JOSÉ", "josé"),
        # A combining accent hashes like the precomposed letter.
        ("first_name", "fn", "Jose\u0301", "josé"),
        ("first_name", "fn", "Мария", "мария"),
        ("first_name", "fn", "美咲", "美咲"),
        ("last_name", "ln", "O'Brien", "obrien"),
        ("last_name", "ln", "da Silva Jr.", "da silva jr"),
        ("city", "ct", "São Paulo", "sãopaulo"),
        ("city", "ct", "Rio de Janeiro, RJ", "riodejaneirorj"),
        ("state", "st", "SP", "sp"),
        ("state", "st", "Rio Grande do Sul", "riograndedosul"),
        ("zip", "zp", "01310-100", "01310100"),
        ("zip", "zp", " SW1A 1AA ", "sw1a1aa"),
        ("zip", "zp", "94103-1234", "941031234"),
        ("country", "country", " BR ", "br"),
        ("external_id", "external_id", "  Customer-42 ", "customer-42"),
        ("gender", "ge", "F", "f"),
        ("gender", "ge", "female", "f"),
        ("gender", "ge", "Feminino", "f"),
        ("gender", "ge", "m", "m"),
        ("gender", "ge", "MALE", "m"),
        ("gender", "ge", "masculino", "m"),
        ("date_of_birth", "db", "1990-05-17", "19900517"),
        ("date_of_birth", "db", "19900517", "19900517"),
        ("date_of_birth", "db", "2000-02-29", "20000229"),
    ],
)
def test_hashed_field_normalisation(field: str, key: str, value: str, normalised: str) -> None:
    assert hashed(field, value) == {key: sha256(normalised)}


def test_us_zip_keeps_five_digits_only_for_the_us() -> None:
    assert hash_user_data({"zip": "94103-1234", "country": "US"}) == {
        "zp": sha256("94103"),
        "country": sha256("us"),
    }
    assert hash_user_data({"zip": "01310-100", "country": "br"})["zp"] == sha256("01310100")


@pytest.mark.parametrize("field", ["client_ip_address", "client_user_agent", "fbc", "fbp"])
def test_browser_identifiers_pass_through_trimmed_and_unhashed(field: str) -> None:
    values = {
        "client_ip_address": "2001:db8::1",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
        "fbp": "fb.1.1596403881668.1116446470",
    }
    assert hashed(field, f"  {values[field]} ") == {field: values[field]}


@pytest.mark.parametrize("field", ["email", "phone", "first_name", "external_id", "zip"])
def test_a_value_already_hashed_passes_through_lowercased(field: str) -> None:
    digest = sha256("anything")
    result = hash_user_data({field: f" {digest.upper()} "})
    assert list(result.values()) == [digest]


def test_a_full_record_maps_every_field_to_metas_keys() -> None:
    result = hash_user_data(
        {
            "email": "maria@example.com",
            "phone": "11987654321",
            "first_name": "Maria",
            "last_name": "Silva",
            "city": "Campinas",
            "state": "SP",
            "zip": "13010-000",
            "country": "BR",
            "external_id": "c-1",
            "gender": "f",
            "date_of_birth": "1990-05-17",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0",
            "fbc": "fb.1.1.abc",
            "fbp": "fb.1.1.123",
        }
    )
    assert result == {
        "em": sha256("maria@example.com"),
        "ph": sha256("5511987654321"),
        "fn": sha256("maria"),
        "ln": sha256("silva"),
        "ct": sha256("campinas"),
        "st": sha256("sp"),
        "zp": sha256("13010000"),
        "country": sha256("br"),
        "external_id": sha256("c-1"),
        "ge": sha256("f"),
        "db": sha256("19900517"),
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0",
        "fbc": "fb.1.1.abc",
        "fbp": "fb.1.1.123",
    }


def test_empty_and_blank_values_are_skipped() -> None:
    assert hash_user_data({}) == {}
    assert hash_user_data({"email": "", "phone": "   ", "fbp": ""}) == {}


INVALID = [
    ("email", "maria.example.com"),
    ("email", "maria@example"),
    ("email", "maria silva@example.com"),
    ("email", "maria@@example.com"),
    ("phone", "11 9876-ABCD"),
    ("phone", "phone: 11987654321"),
    ("phone", "+55 11 98765+4321"),
    ("phone", "123-4567"),
    ("phone", "+1234567890123456"),
    ("first_name", "-- ..."),
    ("gender", "unknown-gender"),
    ("date_of_birth", "1990-02-30"),
    ("date_of_birth", "17/05/1990"),
    ("date_of_birth", "1990517"),
    ("country", "Brazil"),
    ("country", "B1"),
    ("fax_number", "5511987654321"),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_invalid_values_raise_with_the_field_and_without_the_value(field: str, value: str) -> None:
    with pytest.raises(InvalidPersonalData) as caught:
        hash_user_data({"email": "ok@example.com", field: value})
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.field == field
    assert error.message
    assert value not in str(error)
    assert value not in error.message
    assert value not in repr(error)


def test_error_messages_say_what_is_expected() -> None:
    with pytest.raises(InvalidPersonalData, match=r"name@example\.com"):
        hash_user_data({"email": "maria.example.com"})
    with pytest.raises(InvalidPersonalData, match="YYYY-MM-DD"):
        hash_user_data({"date_of_birth": "31/12/1990"})
