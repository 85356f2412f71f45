"""portal.origins: COUNTER_URL and COUNTER_ALLOWED_ORIGINS as a browser's origin."""

from __future__ import annotations

import pytest

from portal.origins import parse_origin


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://dem.example.vn/", "https://dem.example.vn"),
        ("HTTPS://Dem.Example.VN", "https://dem.example.vn"),
        ("https://dem.example.vn:443", "https://dem.example.vn"),  # Origin has none
        ("http://dem.example.vn:80/", "http://dem.example.vn"),
        ("http://dem.example.vn:443", "http://dem.example.vn:443"),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://xn--dn-vn-kho-t2a.vn", "https://xn--dn-vn-kho-t2a.vn"),
    ],
)
def test_an_origin_is_given_as_a_browser_sends_it(url, origin):
    assert parse_origin(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "https://[:::]",
        "https://[1.2.3.4]",
        "https://999.1.1.1",
        "https://1.2.3",
        "https://dem.example.vn:0",
        "https://dem.example.vn:65536",
        "https://dem.example.vn/api",
        "https://dem.example.vn#x",
        'https://a.vn"><script>',
        "//dem.example.vn",
        "ws://dem.example.vn",
    ],
)
def test_anything_else_is_refused(url):
    with pytest.raises(ValueError):
        parse_origin(url)
