"""Base URLs: what a destination may name, and how allowlist prefixes match."""

from __future__ import annotations

import ipaddress

import pytest

from jobs.base_url import BaseUrl, parse_allowlist
from jobs.egress import EgressPolicy, is_public_address

META = ("https://graph.facebook.com",)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("https://graph.facebook.com", "https://graph.facebook.com"),
        ("https://graph.facebook.com/", "https://graph.facebook.com"),
        ("HTTPS://Graph.Facebook.COM:443", "https://graph.facebook.com"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
        ("https://capi-proxy.corp/meta/v1/", "https://capi-proxy.corp/meta/v1"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_a_base_url_is_scheme_host_port_and_path(text: str, canonical: str) -> None:
    assert str(BaseUrl.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("http://169.254.169.254/latest/meta-data#", "fragment"),
        ("http://10.0.0.5:9200/_bulk?x=", "query"),
        ("https://graph.facebook.com?", "query"),
        ("https://user:pass@graph.facebook.com", "user name"),
        ("https://graph.facebook.com@evil.example", "user name"),
        ("ftp://graph.facebook.com", "https://"),
        ("graph.facebook.com", "https://"),
        ("https://graph.facebook.com/a/../b", "path segments"),
        ("https://graph.facebook.com/%2e%2e/x", "path segments"),
        ("https://graph.facebook.com//x", "path segments"),
        ("https://graph.facebook.com/a b", "spaces"),
        ("https://graph.facebook.com\\@evil", "spaces or control"),
        ("https://graph.facebook.com:99999", "port"),
        ("https://graph.facebook.com:", "port"),
        ("http://127.0.0.1:٨٠", "port"),  # Arabic-Indic digits, which int() reads as 80
        ("http://127.0.0.1:８０", "port"),  # fullwidth digits
        ("http://127.0.0.1:8²", "port"),  # a superscript, which int() refuses
        ("https://[::1", "unclosed"),
        ("https://", "host"),
        ("https://exa_mple.com", "host"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        BaseUrl.parse(text)


def test_prefixes_match_whole_hosts_ports_and_path_segments() -> None:
    allowed = EgressPolicy(parse_allowlist("http://127.0.0.1:9000/,https://capi-proxy.corp/meta"))
    ok = [
        "http://127.0.0.1:9000",
        "http://127.0.0.1:9000/anything/below",
        "https://capi-proxy.corp/meta",
        "https://capi-proxy.corp:443/meta/v2",
        "https://graph.facebook.com",
    ]
    for url in ok:
        assert str(allowed.check_base_url(url, META)) == str(BaseUrl.parse(url))
    refused = [
        "http://127.0.0.1:9001",  # another port
        "https://127.0.0.1:9000",  # another scheme
        "http://127.0.0.2:9000",
        "https://capi-proxy.corp/metadata",  # not at a / boundary
        "https://capi-proxy.corp",  # above the allowed path
        "https://capi-proxy.corp.evil.example/meta",
        "https://graph.facebook.com.evil.example",
        "http://graph.facebook.com",  # Meta's URL is https
    ]
    for url in refused:
        with pytest.raises(ValueError, match="TENAZ_ALLOWED_PLATFORM_URLS"):
            allowed.check_base_url(url, META)


def test_the_allowlist_names_the_entry_it_cannot_read() -> None:
    assert parse_allowlist("") == ()
    assert len(parse_allowlist(" http://a:1/ , ,https://b/ ")) == 2
    with pytest.raises(ValueError, match="'http://a/#x'"):
        parse_allowlist("http://ok/,http://a/#x")


def test_only_allowlisted_host_ports_are_trusted_to_be_internal() -> None:
    policy = EgressPolicy(parse_allowlist("http://127.0.0.1:9000/,https://Proxy.Corp/"))
    assert policy.trusts("127.0.0.1", 9000)
    assert policy.trusts("proxy.corp", 443)
    assert not policy.trusts("127.0.0.1", 5432)
    assert not policy.trusts("localhost", 9000)
    assert not EgressPolicy().trusts("127.0.0.1", 9000)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("157.240.1.1", True),
        ("2a03:2880:f10c:83:face:b00c:0:25de", True),
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address to check, not to bind
        ("224.0.0.1", False),
        ("233.252.0.1", False),  # multicast that is otherwise "global"
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", False),  # mapped at all: refused, it is never how a platform is reached
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("64:ff9b:1::a00:1", False),  # NAT64 for local use
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
