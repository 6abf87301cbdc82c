"""Normalise customer data, then SHA-256 hash it by each platform's rules, before it is stored.

Raw personal data must never reach the database, the logs or the platform. The submission path
normalises what the caller sent (`normalise_user_data`, by the rules Meta documents for the
Conversions API; where Meta's own SDKs disagree with each other, the documented rule wins), and
keeps the normalised values in memory only: what is stored are the hashes each platform family
wants (`hashed_for`), for the families of the destinations the event goes to.

The families differ where the platforms do (see the platform notes):

    meta      Meta, Pinterest, Snapchat: Meta's user_data keys (em, ph, fn, ...); the phone
              as digits with the country code
    tiktok    email, phone as E.164 with "+", external_id; names and zip without spaces
    google    Google Ads and GA4: email (Gmail addresses without dots in the local part,
              as Google documents), phone as E.164 with "+"
    reddit    email without "+alias" and without anything but letters and digits in the
              local part, phone as E.164 with "+", external_id, and the IP address, which
              Reddit wants hashed too
    linkedin  email only (LinkedIn's other matching fields are plain text: not stored)

A value the caller already hashed (a SHA-256 hex digest) cannot be normalised again: it is
passed to every family as it came.

Errors name the field and say what is expected, never the value: an `InvalidPersonalData`
message ends up in API responses and logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from jobs.digits import is_ascii_digits


class InvalidPersonalData(ValueError):
    """A customer parameter cannot be normalised; `field` is the input key ("email", ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# Not frozen: one is built per event, and a frozen dataclass costs three times as much.
@dataclass(slots=True)
class _Context:
    """What one field's rule may need to know about the rest of the input."""

    phone_country_code: str
    # The normalised country, when the input has a valid one (it decides the US zip rule).
    country: str | None


_Normaliser = Callable[[str, _Context], str]

_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
# Something@something.tld: one "@", no spaces, a dot in the domain, no empty labels.
_EMAIL: Final = re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]{2,}")
# Separators people write inside phone numbers; anything else that is not a digit is an error.
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-().]")
_COUNTRY: Final = re.compile(r"[a-z]{2}")
_DATE_ISO: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_COMPACT: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
_GENDERS: Final[Mapping[str, str]] = {
    "f": "f",
    "female": "f",
    "feminino": "f",
    "m": "m",
    "male": "m",
    "masculino": "m",
}
# E.164 numbers have at most 15 digits; fewer than 8 cannot hold a country code and a number.
_PHONE_DIGITS: Final = range(8, 16)


def _normalise_email(value: str, _: _Context) -> str:
    # Meta documents trim + lowercase only: no Gmail-dot or "+tag" stripping.
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidPersonalData("email", "must be an email address such as name@example.com")
    return email


def _is_national_number(digits: str, country_code: str) -> bool:
    """Whether `digits` (no international prefix was written) lacks a country code."""
    if len(digits) not in (10, 11):
        return False
    if country_code == "55":
        # A Brazilian number with its country code has 12 or 13 digits, so 10 or 11 digits are
        # always DDD + number, even in DDD 55 (Rio Grande do Sul), whose local numbers start
        # with the country code's digits.
        return True
    return not digits.startswith(country_code)


def _normalise_phone(value: str, context: _Context) -> str:
    phone = _PHONE_SEPARATORS.sub("", value.strip())
    # "+" or "00" mean the writer put the country code in; a single "0" is a trunk prefix.
    international = phone.startswith(("+", "00"))
    phone = phone.removeprefix("+")
    if not is_ascii_digits(phone):
        raise InvalidPersonalData(
            "phone",
            "must contain only digits, spaces, dashes, dots, parentheses and a leading '+'",
        )
    phone = phone.lstrip("0")
    if not international and _is_national_number(phone, context.phone_country_code):
        phone = context.phone_country_code + phone
    if len(phone) not in _PHONE_DIGITS:
        raise InvalidPersonalData(
            "phone", "must have 8 to 15 digits including the country code, e.g. +55 11 98765-4321"
        )
    return phone


def _without(value: str, *, spaces: bool) -> str:
    """Drop punctuation and symbols (and, if asked, whitespace), keeping letters of any script."""
    return "".join(
        char
        for char in value
        if unicodedata.category(char)[0] not in "PS" and not (spaces and char.isspace())
    )


def _text_rule(field: str, *, spaces: bool) -> _Normaliser:
    """Names, city and state: lowercase, trimmed, no punctuation; non-Latin letters stay.

    NFC first, so "José" typed with a combining accent hashes like the precomposed one.
    """

    def normalise(value: str, _: _Context) -> str:
        text = _without(unicodedata.normalize("NFC", value).strip().lower(), spaces=spaces)
        text = text.strip()
        if not text:
            raise InvalidPersonalData(field, "must contain letters")
        return text

    return normalise


def _normalise_zip(value: str, context: _Context) -> str:
    zip_code = re.sub(r"[\s\-]", "", value.lower())
    if context.country == "us":
        # US ZIP+4: Meta matches on the five-digit ZIP only.
        zip_code = zip_code[:5]
    if not zip_code:
        raise InvalidPersonalData("zip", "must contain letters or digits")
    return zip_code


def _normalise_country(value: str, _: _Context) -> str:
    country = value.strip().lower()
    if not _COUNTRY.fullmatch(country):
        raise InvalidPersonalData("country", "must be a two-letter ISO 3166-1 code such as BR")
    return country


def _normalise_gender(value: str, _: _Context) -> str:
    gender = _GENDERS.get(value.strip().lower())
    if gender is None:
        raise InvalidPersonalData(
            "gender", "must be f or m (female/male and feminino/masculino are accepted too)"
        )
    return gender


def _normalise_date_of_birth(value: str, _: _Context) -> str:
    text = value.strip()
    match = _DATE_ISO.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
    problem = "must be a valid date written YYYY-MM-DD or YYYYMMDD"
    if match is None:
        raise InvalidPersonalData("date_of_birth", problem)
    year, month, day = (int(part) for part in match.groups())
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise InvalidPersonalData("date_of_birth", problem) from None
    return date.strftime("%Y%m%d")


def _normalise_external_id(value: str, _: _Context) -> str:
    return value.strip().lower()


# Input key (the proto field) -> Meta's user_data key and the rule that prepares it for hashing.
HASHED_FIELDS: Final[Mapping[str, tuple[str, _Normaliser]]] = {
    "email": ("em", _normalise_email),
    "phone": ("ph", _normalise_phone),
    "first_name": ("fn", _text_rule("first_name", spaces=False)),
    "last_name": ("ln", _text_rule("last_name", spaces=False)),
    "city": ("ct", _text_rule("city", spaces=True)),
    "state": ("st", _text_rule("state", spaces=True)),
    "zip": ("zp", _normalise_zip),
    "country": ("country", _normalise_country),
    "external_id": ("external_id", _normalise_external_id),
    "gender": ("ge", _normalise_gender),
    "date_of_birth": ("db", _normalise_date_of_birth),
}

# Browser and click identifiers, sent in clear (hashing them would make them useless for
# matching); each platform takes the ones it knows. A set: every field of every event is
# looked up in it.
CLEAR_FIELDS: Final = frozenset(
    {
        *("client_ip_address", "client_user_agent", "fbc", "fbp", "ttclid", "ttp", "gclid"),
        *("gbraid", "wbraid", "epik", "sc_click_id", "sc_cookie1", "kwai_click_id"),
        *("ga_client_id", "li_fat_id", "rdt_click_id"),
    }
)
_MAX_CLEAR_LENGTH: Final = 1024


# Not frozen, as _Context.
@dataclass(slots=True)
class PersonalData:
    """A customer's data as the caller sent it, checked and normalised, in memory only: what
    is stored are the hashes `hashed_for` makes of it, never these values."""

    # Input field -> its normalised value (not hashed).
    normalised: Mapping[str, str]
    # Input field -> the SHA-256 digest the caller sent instead of a value.
    prehashed: Mapping[str, str]
    # Identifiers sent as they are (CLEAR_FIELDS).
    clear: Mapping[str, str]

    def __bool__(self) -> bool:
        return bool(self.normalised or self.prehashed or self.clear)

    def has(self, field: str) -> bool:
        return field in self.normalised or field in self.prehashed or field in self.clear


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _country_of(user: Mapping[str, str]) -> str | None:
    country = user.get("country", "").strip().lower()
    return country if country and _COUNTRY.fullmatch(country) else None


def normalise_user_data(
    user: Mapping[str, str], *, default_phone_country_code: str = "55"
) -> PersonalData:
    """`user` (proto field names) checked and normalised.

    Empty values are skipped. A value that already is a SHA-256 hex digest is kept as the
    caller's digest. Raises `InvalidPersonalData` for the first field that cannot be
    normalised.
    """
    if not is_ascii_digits(default_phone_country_code):
        raise ValueError("default_phone_country_code must be digits, e.g. 55")
    context = _Context(
        phone_country_code=default_phone_country_code.lstrip("0"), country=_country_of(user)
    )
    normalised: dict[str, str] = {}
    prehashed: dict[str, str] = {}
    clear: dict[str, str] = {}
    for field, value in user.items():
        if not value.strip():
            continue
        if field in CLEAR_FIELDS:
            text = value.strip()
            if len(text) > _MAX_CLEAR_LENGTH or "\x00" in text:
                raise InvalidPersonalData(field, "at most 1024 characters, no NUL")
            clear[field] = text
            continue
        if field not in HASHED_FIELDS:
            raise InvalidPersonalData(field, "is not a customer parameter Tenaz knows")
        _, normalise = HASHED_FIELDS[field]
        candidate = value.strip().lower()
        if len(candidate) == 64 and _SHA256_HEX.fullmatch(candidate):
            prehashed[field] = candidate
        else:
            normalised[field] = normalise(value, context)
    return PersonalData(normalised, prehashed, clear)


def _hashes(
    data: PersonalData,
    keys: Mapping[str, str],
    order: Mapping[str, int],
    rules: Mapping[str, Callable[[str], str]],
) -> dict[str, str]:
    """`keys` (input field -> the family's key) hashed, each value first passed through the
    family's own rule for that field, if any, in the order of `keys` (`order`: each field's
    place in it).

    An event holds a few of the fields a family knows (Meta's know eleven): the loop is over
    the event's, not the family's."""
    fields = [f for f in (*data.normalised, *data.prehashed) if f in keys]
    if len(fields) > 1:
        fields.sort(key=order.__getitem__)
    hashed: dict[str, str] = {}
    for field in fields:
        if field in data.normalised:
            rule = rules.get(field)
            value = data.normalised[field]
            hashed[keys[field]] = _sha256(rule(value) if rule else value)
        else:
            hashed[keys[field]] = data.prehashed[field]
    return hashed


def _e164(phone: str) -> str:
    return "+" + phone


def _without_spaces(text: str) -> str:
    return "".join(text.split())


_GMAIL_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})


def _google_email(email: str) -> str:
    local, _, domain = email.rpartition("@")
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


_NOT_ASCII_ALPHANUMERIC: Final = re.compile(r"[^a-z0-9]")


def _reddit_email(email: str) -> str:
    """Reddit's canonical email (its advanced-matching guide): lowercase, the "+alias" cut
    from the local part, then every character of the local part that is not a letter or a
    digit removed: "Al.ice$+Apple@Example.Com" is "alice@example.com"."""
    local, _, domain = email.rpartition("@")
    local = _NOT_ASCII_ALPHANUMERIC.sub("", local.split("+", 1)[0])
    return f"{local}@{domain}"


# Each family: input field -> the family's key, and the family's own rule for a field on top
# of Tenaz's normalisation.
FAMILY_KEYS: Final[Mapping[str, Mapping[str, str]]] = {
    "meta": {field: key for field, (key, _) in HASHED_FIELDS.items()},
    "tiktok": {
        **{f: f for f in ("email", "phone", "external_id", "first_name", "last_name")},
        "zip": "zip_code",
    },
    "google": {"email": "email", "phone": "phone"},
    "reddit": {"email": "email", "phone": "phone", "external_id": "external_id"},
    "linkedin": {"email": "email"},
}
_FAMILY_RULES: Final[Mapping[str, Mapping[str, Callable[[str], str]]]] = {
    "meta": {},
    "tiktok": {
        "phone": _e164,
        "first_name": _without_spaces,
        "last_name": _without_spaces,
        "zip": _without_spaces,
    },
    "google": {"email": _google_email, "phone": _e164},
    "reddit": {"email": _reddit_email, "phone": _e164},
    "linkedin": {},
}
FAMILIES: Final = tuple(FAMILY_KEYS)
_FAMILY_ORDER: Final = {
    family: {field: index for index, field in enumerate(keys)}
    for family, keys in FAMILY_KEYS.items()
}


def hashed_for(family: str, data: PersonalData) -> dict[str, str]:
    """The hashed identifiers `family` (see the module) wants, by that family's key names."""
    if family not in FAMILY_KEYS:
        raise ValueError(f"unknown hashing family {family!r}")
    hashed = _hashes(data, FAMILY_KEYS[family], _FAMILY_ORDER[family], _FAMILY_RULES[family])
    if family == "reddit" and "client_ip_address" in data.clear:
        # Reddit matches on the IP address hashed, unlike every other platform.
        hashed["ip_address"] = _sha256(data.clear["client_ip_address"])
    return hashed


def hash_user_data(
    user: Mapping[str, str], *, default_phone_country_code: str = "55"
) -> dict[str, str]:
    """Meta's `user_data` for `user` (proto field names): contact data hashed, Meta's browser
    ids in clear. Raises `InvalidPersonalData` as `normalise_user_data` does."""
    data = normalise_user_data(user, default_phone_country_code=default_phone_country_code)
    clear = {k: v for k, v in data.clear.items() if k in META_CLEAR_FIELDS}
    return hashed_for("meta", data) | clear


# The clear identifiers Meta's user_data takes.
META_CLEAR_FIELDS: Final = frozenset({"client_ip_address", "client_user_agent", "fbc", "fbp"})
