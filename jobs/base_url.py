"""Base URLs of platform destinations (and the dashboard's public URL): scheme, host, port and
path, and nothing else.

A destination's base URL is a tenant's input that platform paths are appended to. Parsing it
strictly (no user info, query, fragment, escapes or dot segments) means nothing in it can cut
off or rewrite the path Tenaz appends, and comparing parsed parts (not strings) means an
allowlist prefix cannot be matched by a look-alike (`https://proxy.corp.evil/`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from jobs.digits import is_ascii_digits

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# Hosts are DNS names or IP literals; anything else (spaces, '@', '\') has no business there.
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"
_HOST_NAME: Final = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
# Path segments Tenaz can join platform paths to without any of them being reinterpreted.
_PATH_SEGMENT: Final = re.compile(r"^[A-Za-z0-9._~-]+$")


@dataclass(frozen=True, order=True)
class BaseUrl:
    """A URL platform paths are appended to: scheme, host, port and path, nothing else.

    `path` has no trailing slash ("" for the root), so `f"{url}/v25.0/..."` is always one path.
    """

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, text: str) -> BaseUrl:
        """The base URL `text` names; ValueError says what is wrong with it, in a user's words."""
        if not text or text != text.strip() or any(ord(c) < 33 or c in '\\"<>^`{|}' for c in text):
            raise ValueError("must be a URL without spaces or control characters")
        if "?" in text or "#" in text:
            raise ValueError("must not have a query (?...) or a fragment (#...)")
        scheme, sep, rest = text.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in _DEFAULT_PORTS:
            raise ValueError("must start with https:// or http://")
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            raise ValueError("must not carry a user name or password (user@host)")
        host, port = _split_authority(authority, _DEFAULT_PORTS[scheme])
        segments = path.split("/") if slash else []
        if segments and segments[-1] == "":
            segments.pop()  # one trailing slash is harmless
        for segment in segments:
            if not _PATH_SEGMENT.match(segment) or segment in (".", ".."):
                raise ValueError(
                    "path segments may hold only letters, digits and '.', '_', '~', '-'"
                    " (no empty, '.' or '..' segments, no %-escapes)"
                )
        return cls(scheme, host, port, "".join(f"/{s}" for s in segments))

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """scheme://host[:port], as a browser writes it in an Origin header."""
        return f"{self.scheme}://{self.netloc}"

    def __str__(self) -> str:
        return f"{self.origin}{self.path}"

    def within(self, prefix: BaseUrl) -> bool:
        """Same scheme, host and port as `prefix`, and a path at or under its path."""
        return (self.scheme, self.host, self.port) == (
            prefix.scheme,
            prefix.host,
            prefix.port,
        ) and f"{self.path}/".startswith(f"{prefix.path}/")


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):
        literal, bracket, after = authority[1:].partition("]")
        if not bracket:
            raise ValueError("has an unclosed [ in its host")
        try:
            host = str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise ValueError("has an invalid IPv6 address") from None
        port_text = after.removeprefix(":") if after.startswith(":") else None
        if after and port_text is None:
            raise ValueError("has characters after its host")
    else:
        host, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
        host = host.lower()
        if not _HOST_NAME.match(host):
            raise ValueError("must name a host (letters, digits, '-' and '.')")
        host = host.rstrip(".")
    if port_text is None:
        return host, default_port
    if not is_ascii_digits(port_text) or not 0 < int(port_text) < 65536:
        raise ValueError("has a port that is not a number from 1 to 65535")
    return host, int(port_text)


def parse_allowlist(text: str) -> tuple[BaseUrl, ...]:
    """`TENAZ_ALLOWED_PLATFORM_URLS`: comma-separated URL prefixes; ValueError names the bad one."""
    entries = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        try:
            entries.append(BaseUrl.parse(raw.strip()))
        except ValueError as exc:
            raise ValueError(f"{raw.strip()!r} {exc}") from None
    return tuple(entries)
