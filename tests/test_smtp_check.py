"""The test mail, step by step, against real local SMTP servers: plain, STARTTLS and TLS on connect (465 style);
and the report mail over TLS on connect. Every failure names its step and a fix; the password never shows."""

from __future__ import annotations

import email
import re
import socket
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from haihai_tui.core.run.mail import MailError, build_report, deliver
from haihai_tui.core.run.mail_check import TEST_SUBJECT, MailCheck, Step, send_test_mail
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings.model import Smtp
from smtpfixtures import REFUSED_RCPT, SMTP_PASSWORD, SMTP_USER, smtp_servers  # noqa: F401
from test_mail import record

SENDER = "rakuraku@example.jp"
TO = ["admin@example.jp"]


def names(check: MailCheck) -> list[str]:
    return [s.name for s in check.steps]


def no_password(check: MailCheck) -> None:
    for s in check.steps:
        assert SMTP_PASSWORD not in s.line()


def run(smtp: Smtp, tmp_path: Path, password: str | None = SMTP_PASSWORD, **kw) -> tuple[MailCheck, list[Step]]:
    seen: list[Step] = []
    check = send_test_mail(
        smtp,
        Secret(password) if password is not None else None,
        kw.pop("sender", SENDER),
        kw.pop("to", TO),
        outbox=tmp_path / "outbox",
        app_host="ops1",
        timeout=kw.pop("timeout", 10),
        on_step=seen.append,
        **kw,
    )
    assert seen == check.steps  # every step was told as it happened
    no_password(check)
    return check, seen


def test_plain_with_login_is_accepted_step_by_step(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("plain")
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="none", username=SMTP_USER)
    check, _ = run(smtp, tmp_path)
    assert check.ok and check.failed is None
    assert names(check) == ["connect", "ehlo", "tls", "auth", "sender", "recipient", "accepted"]
    assert f"connected to 127.0.0.1:{ctl.port}: 220" in check.steps[0].text
    assert "not encrypted" in check.steps[2].text
    assert check.steps[3].text == f"logged in as {SMTP_USER!r}"
    assert check.steps[5].text == f"{TO[0]} accepted"
    assert "OK queued as TEST1" in check.steps[-1].text
    got = handler.received[0]
    assert got["login"] == SMTP_USER.encode() and got["rcpt_tos"] == TO and got["tls"] is False
    msg = email.message_from_bytes(got["content"], policy=policy.default)
    assert msg["Subject"] == TEST_SUBJECT and "127.0.0.1" in msg.get_content()


def test_wrong_password_fails_at_auth_with_a_fix(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("plain")
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="none", username=SMTP_USER)
    check, _ = run(smtp, tmp_path, password=SMTP_PASSWORD + "-wrong")
    assert not check.ok and names(check)[-1] == "auth"
    failed = check.failed
    assert failed.name == "auth" and "refused" in failed.text and "535" in failed.text
    assert "password" in failed.fix
    assert handler.received == []


def test_starttls_verified_against_the_ca(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("starttls")
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="starttls", username=SMTP_USER)
    check, _ = run(smtp, tmp_path, ssl_context=smtp_servers.client_context())
    assert check.ok, [s.line() for s in check.steps]
    tls = next(s for s in check.steps if s.name == "tls")
    assert tls.text.startswith("STARTTLS: TLSv1.") and "verified" in tls.text
    assert "STARTTLS" in check.steps[1].text  # the greeting says what the server offers
    assert handler.received[0]["tls"] is True and handler.received[0]["login"] == SMTP_USER.encode()


def test_starttls_untrusted_certificate_fails_at_tls(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("starttls")
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="starttls", username=SMTP_USER)
    check, _ = run(smtp, tmp_path)  # the system's CAs do not know the throwaway CA
    failed = check.failed
    assert failed.name == "tls" and "certificate is not trusted" in failed.text
    assert "trust" in failed.fix and handler.received == []
    assert "auth" not in names(check)  # the password was never sent


def test_tls_on_connect_is_accepted(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("tls")
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="tls", username=SMTP_USER)
    check, _ = run(smtp, tmp_path, ssl_context=smtp_servers.client_context())
    assert check.ok, [s.line() for s in check.steps]
    assert names(check)[:2] == ["connect", "tls"]
    assert "on connect" in check.steps[1].text and "verified" in check.steps[1].text
    assert handler.received[0]["tls"] is True and handler.received[0]["login"] == SMTP_USER.encode()


def test_tls_on_connect_untrusted_certificate(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("tls")
    check, _ = run(Smtp(host="127.0.0.1", port=ctl.port, security="tls"), tmp_path)
    assert names(check) == ["connect", "tls"]
    assert check.failed.name == "tls" and "not trusted" in check.failed.text and handler.received == []


def test_tls_on_connect_against_a_plain_port_says_choose_starttls(smtp_servers, tmp_path):
    ctl, _ = smtp_servers.start("plain")
    check, _ = run(Smtp(host="127.0.0.1", port=ctl.port, security="tls"), tmp_path, timeout=3)
    failed = check.failed
    assert failed.name == "tls" and "STARTTLS" in failed.fix


def test_starttls_against_a_tls_port_says_choose_tls(smtp_servers, tmp_path):
    ctl, _ = smtp_servers.start("tls")
    check, _ = run(Smtp(host="127.0.0.1", port=ctl.port, security="starttls"), tmp_path, timeout=1)
    failed = check.failed
    assert failed.name == "connect" and "no greeting" in failed.text and "choose TLS" in failed.fix


def test_connection_refused_and_unknown_host(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check, _ = run(Smtp(host="127.0.0.1", port=port, security="starttls"), tmp_path)
    assert names(check) == ["connect"]
    assert "connection refused" in check.failed.text and "port" in check.failed.fix
    check, _ = run(Smtp(host="localhost", port=port, security="none"), tmp_path)
    assert names(check) == ["connect"] and re.search(r"localhost:\d+ \((127\.0\.0\.1|::1)", check.failed.text)
    check, _ = run(Smtp(host="no-such-host.invalid", port=25, security="none"), tmp_path)
    assert names(check) == ["dns"] and "not found" in check.failed.text and "spelling" in check.failed.fix


def test_refused_recipient_is_named(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("plain")
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="none")
    check, _ = run(smtp, tmp_path, password=None, to=[*TO, REFUSED_RCPT])
    assert names(check) == ["connect", "ehlo", "tls", "auth", "sender", "recipient"]
    assert check.steps[3].text == "not used (no login set)"
    failed = check.failed
    assert failed.name == "recipient" and failed.text.startswith(f"{REFUSED_RCPT} refused (550 5.1.1")
    assert f"accepted before it: {TO[0]}" in failed.text
    assert handler.received == []


def test_login_without_password_stops_before_connecting(tmp_path):
    check, _ = run(Smtp(host="127.0.0.1", port=1, security="none", username=SMTP_USER), tmp_path, password=None)
    assert names(check) == ["auth"] and "no password" in check.failed.text


def test_no_host_writes_the_outbox(tmp_path):
    check, _ = run(Smtp(), tmp_path)
    assert check.ok and names(check) == ["outbox"]
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and (files[0].stat().st_mode & 0o777) == 0o600
    assert TEST_SUBJECT in email.message_from_bytes(files[0].read_bytes(), policy=policy.default)["Subject"]


def test_report_mail_over_tls_on_connect(smtp_servers, tmp_path):
    ctl, handler = smtp_servers.start("tls")
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="tls", username=SMTP_USER)
    msg = build_report(record(), sender=SENDER, to=TO)
    with pytest.raises(MailError) as info:  # the default trust store does not know the throwaway CA
        deliver(msg, smtp=smtp, password=Secret(SMTP_PASSWORD), outbox=tmp_path, timeout=10)
    assert "certificate" in str(info.value) and SMTP_PASSWORD not in str(info.value)
    said = deliver(
        msg,
        smtp=smtp,
        password=Secret(SMTP_PASSWORD),
        outbox=tmp_path,
        timeout=10,
        ssl_context=smtp_servers.client_context(),
    )
    assert said == f"sent to {TO[0]} via 127.0.0.1:{ctl.port}"
    got = handler.received[0]
    assert got["tls"] is True and got["login"] == SMTP_USER.encode()


def test_hostile_server_text_is_made_safe_and_an_echoed_password_masked(smtp_servers, tmp_path):
    """A server that greets with terminal escapes and echoes the password in its refusal: neither reaches a step."""

    def echoing(server, session, envelope, mechanism, auth_data):
        said = auth_data.password.decode() if isinstance(auth_data, LoginPassword) else "?"
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad password {said}\x1b[2J")

    ctl, _ = smtp_servers.start("plain", ident="evil\x1b]0;owned\x07 ESMTP", authenticator=echoing)
    smtp = Smtp(host="127.0.0.1", port=ctl.port, security="none", username=SMTP_USER)
    check, _ = run(smtp, tmp_path)  # run() asserts the password is in no step
    assert check.failed.name == "auth" and "bad password ********" in check.failed.text
    for s in check.steps:
        assert "\x1b" not in s.line() and "\x07" not in s.line()
    assert "\\x1b" in check.steps[0].text  # shown as an escape, not executed
