"""The URL rule has one home (core/urls.py): the settings check and the client agree on every URL."""

from __future__ import annotations

import pytest

from haihai_tui.core.haihai.multipart import check_url
from haihai_tui.core.settings.validate import url_problems
from haihai_tui.core.urls import is_loopback_host, url_problem

API = "/api/v1/custcsv/import"


@pytest.mark.parametrize(
    "url, ok",
    [
        (f"https://a01.hm-f.jp/api_sample{API}", True),
        (f"HTTPS://A01.hm-f.jp/api_sample{API}", True),
        (f"https://[2001:db8::1]:8443/x{API}", True),
        (f"http://127.0.0.1:8787/demo{API}", True),
        (f"http://127.9.8.7/demo{API}", True),  # all of 127.0.0.0/8 is this machine
        (f"http://[::1]:8787/demo{API}", True),
        (f"http://localhost:8787/demo{API}", True),
        (f"http://LocalHost./demo{API}", True),
        # a NAME that starts with 127. is not an address: it may resolve anywhere
        (f"http://127.evil.example/demo{API}", False),
        (f"http://127.0.0.1.evil.example/demo{API}", False),
        (f"http://localhost.evil.example/demo{API}", False),
        # spellings some resolvers read as 127.0.0.1 but that are not written as an address
        (f"http://2130706433/demo{API}", False),
        (f"http://127.1/demo{API}", False),
        (f"http://0x7f.0.0.1/demo{API}", False),
        (f"http://[::ffff:10.0.0.1]/demo{API}", False),
        (f"http://10.0.0.1/demo{API}", False),
        (f"http://a01.hm-f.jp/api_sample{API}", False),
        (f"http://127.0.0.1\\@evil.example/demo{API}", False),  # parsers disagree on the host: refused
        (f"http://127.0.0.1@evil.example/demo{API}", False),
        (f"https://user:pw@a01.hm-f.jp/api_sample{API}", False),
        (f"ftp://a01.hm-f.jp/api_sample{API}", False),
        (f"a01.hm-f.jp/api_sample{API}", False),
        (f"https:///api_sample{API}", False),
        (f"https://a01.hm-f.jp:99999/x{API}", False),
        (f"https://a01.hm-f.jp/x{API}\n", False),
        (f"https://a01.hm-f.jp/x\x1b[31m{API}", False),
        ("", False),
        ("   ", False),
    ],
)
def test_one_url_rule_for_settings_and_client(url, ok):
    rule, client = url_problem(url), check_url(url)
    settings_errors = [msg for sev, msg in url_problems(url) if sev == "error"]
    assert (rule is None) is ok, rule
    assert (client is None) is ok, client
    assert (not settings_errors) is ok, settings_errors
    if not ok:
        assert rule in settings_errors  # the settings check says what the rule says
        assert "https://" in rule or "remove" in rule or "user:password" in rule  # and how to fix it
        assert "\x1b" not in rule and "\n" not in rule


@pytest.mark.parametrize(
    "host, ok",
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("localhost.", True),
        ("127.evil.example", False),
        ("128.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("localhost..", False),
        ("", False),
    ],
)
def test_loopback_hosts(host, ok):
    assert is_loopback_host(host) is ok
