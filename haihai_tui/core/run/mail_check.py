"""The test mail of システム設定 / メール設定: one SMTP conversation, told step by step in words.

``send_test_mail`` walks the same path as the report mail (``mail.deliver``) one step at a time:
name lookup, connection (TLS from the first byte for security "tls"), greeting, STARTTLS, login,
sender, each recipient, the message. Each step becomes a :class:`Step` (what happened, or exactly
what failed and how to fix it) handed to ``on_step`` as soon as it is known, so a screen can show
the conversation while it goes. Blocking: the TUI calls it from a thread worker.

Everything the server says is outside text and goes through ``one_line``; the password is revealed
only in the ``login`` call and scrubbed from every step.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from haihai_tui.core.run.mail import MailError, _write_outbox
from haihai_tui.core.secret import MASK, Secret
from haihai_tui.core.settings.model import SMTP_PORTS, Smtp
from haihai_tui.core.text import one_line

TEST_SUBJECT = "[楽楽販売] テストメール (haihai-tui test mail)"

#: the steps in the order a conversation takes them, with the word a screen shows
STEP_WORDS = {
    "outbox": "outbox",
    "dns": "DNS",
    "connect": "connected",
    "tls": "TLS",
    "ehlo": "greeting",
    "auth": "auth",
    "sender": "sender",
    "recipient": "recipient",
    "accepted": "accepted",
}


@dataclass
class Step:
    """One step of the conversation: ``ok`` and what happened, or what failed and ``fix``."""

    name: str  # a key of STEP_WORDS
    ok: bool
    text: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok " if self.ok else "FAILED "
        return f"{mark}{STEP_WORDS.get(self.name, self.name)}: {self.text}" + (f" -> {self.fix}" if self.fix else "")


@dataclass
class MailCheck:
    """The whole conversation: every step taken, and whether the server accepted the message."""

    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps) and self.steps[-1].name in ("accepted", "outbox")

    @property
    def failed(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)


class _Stop(Exception):
    """The step that failed has been recorded; the conversation ends."""


def build_test_message(sender: str, to: list[str], smtp: Smtp, app_host: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = TEST_SUBJECT
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring="test", domain=app_host or "haihai-tui.invalid")
    msg["Auto-Submitted"] = "auto-generated"
    where = f"{one_line(smtp.host)}:{smtp.port} ({smtp.mode})" if smtp.host else "the outbox folder"
    msg.set_content(
        "haihai-tui のテストメールです。このメールが届いていれば、レポートメールも届きます。\n"
        "(A test mail from haihai-tui: report mail will reach you the same way.)\n\n"
        f"送信元 (sent from): {one_line(app_host) or '-'}\n"
        f"経路 (via): {where}\n"
        f"日時 (at): {datetime.now():%Y-%m-%d %H:%M:%S}\n",
        charset="utf-8",
    )
    return msg


class _Plain(smtplib.SMTP):
    """SMTP that says when TCP is up, so a silent server is told apart from an unreachable one."""

    def __init__(self, on_tcp: Callable[[], None], **kwargs) -> None:
        self._on_tcp = on_tcp
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        sock = smtplib.SMTP._get_socket(self, host, port, timeout)
        self._on_tcp()
        return sock


class _TlsOnConnect(smtplib.SMTP_SSL):
    """SMTP_SSL that says when TCP is up, before the TLS handshake, so the two steps are told apart."""

    def __init__(self, on_tcp: Callable[[], None], **kwargs) -> None:
        self._on_tcp = on_tcp
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        sock = smtplib.SMTP._get_socket(self, host, port, timeout)
        self._on_tcp()
        return self.context.wrap_socket(sock, server_hostname=host)


def _said(e: BaseException, secret: str = "") -> str:
    """What went wrong, in one terminal-safe line without the password."""
    if isinstance(e, smtplib.SMTPResponseException):
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        text = f"{e.smtp_code} {text}"
    elif isinstance(e, ssl.SSLCertVerificationError):
        text = e.verify_message or str(e)
    else:
        text = str(e) or type(e).__name__
    if secret:
        text = text.replace(secret, MASK)
    return one_line(" ".join(text.split()))[:300]


def _reply(code: int, resp: bytes | str, secret: str = "") -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return _said(Exception(f"{code} {text}"), secret)


def _tls_version(s: smtplib.SMTP) -> str:
    sock = s.sock
    return sock.version() or "TLS" if isinstance(sock, ssl.SSLSocket) else "TLS"


def _tls_failure(e: ssl.SSLError, host: str, port: int, mode: str) -> tuple[str, str]:
    if isinstance(e, ssl.SSLCertVerificationError):
        return (
            f"the server's certificate is not trusted: {_said(e)}",
            f"the certificate must name {host} and come from a CA this machine trusts: use the host name written "
            "on the certificate, or install the CA into the system's trust store",
        )
    if mode == "tls" and "WRONG_VERSION_NUMBER" in str(e).upper():
        return (
            f"{host}:{port} answered in plain text, not TLS ({_said(e)})",
            f"this port does not speak TLS on connect: choose STARTTLS (port {SMTP_PORTS['starttls']}), "
            f"or port {SMTP_PORTS['tls']} for TLS",
        )
    return f"the TLS handshake failed: {_said(e)}", "ask the mail server's administrator which TLS it accepts"


def send_test_mail(
    smtp: Smtp,
    password: Secret | None,
    sender: str,
    to: list[str],
    *,
    outbox: Path,
    app_host: str = "",
    timeout: float = 15,
    ssl_context: ssl.SSLContext | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> MailCheck:
    """Send one test mail by ``smtp`` (or into ``outbox`` when no host is set), step by step; never raises
    for a network or server problem: the failed step says what and where."""
    check = MailCheck()

    def step(name: str, ok: bool, text: str, fix: str = "") -> None:
        s = Step(name, ok, text, fix)
        check.steps.append(s)
        if on_step is not None:
            on_step(s)
        if not ok:
            raise _Stop

    msg = build_test_message(sender, to, smtp, app_host)
    try:
        if not to:
            step("recipient", False, "there is no address to send the test mail to", "add an admin e-mail address")
        if not smtp.host:
            try:
                step("outbox", True, _write_outbox(msg, outbox) + " (no SMTP host set, so no mail leaves this machine)")
            except MailError as e:
                step("outbox", False, str(e), "make the data folder writable by you")
            return check
        _converse(smtp, password, sender, to, msg, timeout, ssl_context, step)
    except _Stop:
        pass
    return check


def _converse(smtp, password, sender, to, msg, timeout, ssl_context, step) -> None:
    host, port, mode = smtp.host, smtp.port, smtp.mode
    where = f"{host}:{port}"
    try:
        addrs = sorted({a[4][0] for a in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except (socket.gaierror, UnicodeError) as e:
        step("dns", False, f"the name {host!r} was not found ({_said(e)})", "check the spelling of the SMTP host")
    resolved = "" if addrs == [host] else f" ({', '.join(addrs[:3])})"  # DNS is told apart only when it fails
    if smtp.username and password is None:
        step("auth", False, f"login {smtp.username!r} has no password", "type the SMTP password and save it")
    context = ssl_context or ssl.create_default_context()
    secret = ""
    tcp_up: list[bool] = []
    try:
        try:
            if mode == "tls":
                s = _TlsOnConnect(lambda: tcp_up.append(True), timeout=timeout, context=context)
            else:
                s = _Plain(lambda: tcp_up.append(True), timeout=timeout)
            s._host = host  # what STARTTLS checks the certificate against (smtplib sets it only in __init__)
            code, banner = s.connect(host, port)
        except ConnectionRefusedError:
            step(
                "connect",
                False,
                f"nothing listens on {where}{resolved} (connection refused)",
                f"check the port (STARTTLS {SMTP_PORTS['starttls']}, TLS {SMTP_PORTS['tls']}, plain "
                f"{SMTP_PORTS['none']}) and that the mail server runs",
            )
        except TimeoutError:
            if mode == "tls" and tcp_up:
                step(
                    "tls",
                    False,
                    f"connected, but no TLS handshake within {timeout:g} s",
                    "this port may speak plain SMTP or STARTTLS: choose STARTTLS (587)",
                )
            if tcp_up and mode != "tls":
                step(
                    "connect",
                    False,
                    f"connected to {where}, but the server sent no greeting within {timeout:g} s",
                    f"if this port speaks TLS on connect (usually {SMTP_PORTS['tls']}), choose TLS",
                )
            step(
                "connect",
                False,
                f"no answer from {where}{resolved} within {timeout:g} s",
                "a firewall may drop the connection, or the host or port is wrong",
            )
        except ssl.SSLError as e:
            step("connect", True, f"connected to {where}")
            text, fix = _tls_failure(e, host, port, mode)
            step("tls", False, text, fix)
        except smtplib.SMTPServerDisconnected as e:
            if "timed out" in str(e) and tcp_up and mode != "tls":  # smtplib's word for a greeting that never came
                step(
                    "connect",
                    False,
                    f"connected to {where}, but the server sent no greeting within {timeout:g} s",
                    f"if this port speaks TLS on connect (usually {SMTP_PORTS['tls']}), choose TLS",
                )
            step("connect", False, f"{where} closed the connection at once ({_said(e)})", "check host and port")
        except OSError as e:
            step(
                "connect",
                False,
                f"could not reach {where}{resolved}: {_said(e)}",
                "check the host, the port and the network",
            )
        with s:
            step("connect", True, f"connected to {where}{resolved}: {_reply(code, banner)[:60]}")
            if mode == "tls":
                step("tls", True, f"{_tls_version(s)} on connect, certificate for {host} verified")
            code, resp = s.ehlo()
            if code != 250:
                s.helo()
            step("ehlo", True, "the server greeted back" + (f", offers {_offers(s)}" if _offers(s) else ""))
            if mode == "starttls":
                if not s.has_extn("starttls"):
                    step(
                        "tls",
                        False,
                        f"{where} does not offer STARTTLS",
                        f"choose TLS if this is port {SMTP_PORTS['tls']}; choose none only on a trusted network",
                    )
                try:
                    s.starttls(context=context)
                except ssl.SSLError as e:
                    text, fix = _tls_failure(e, host, port, mode)
                    step("tls", False, text, fix)
                s.ehlo()
                step("tls", True, f"STARTTLS: {_tls_version(s)}, certificate for {host} verified")
            elif mode == "none":
                step("tls", True, "none: the conversation is not encrypted (security none)")
            if smtp.username:
                if not s.has_extn("auth"):
                    fix = "choose STARTTLS or TLS (most servers offer AUTH only over TLS)" if mode == "none" else ""
                    step("auth", False, f"{where} offers no login (AUTH)", fix or "clear the login, or ask the admin")
                secret = password.reveal()
                try:
                    s.login(smtp.username, secret)
                except smtplib.SMTPAuthenticationError as e:
                    step(
                        "auth",
                        False,
                        f"login {smtp.username!r} refused ({_said(e, secret)})",
                        "check the login and type the password again",
                    )
                except smtplib.SMTPException as e:
                    step("auth", False, f"login {smtp.username!r} failed ({_said(e, secret)})", "check the login")
                step("auth", True, f"logged in as {smtp.username!r}")
            else:
                step("auth", True, "not used (no login set)")
            code, resp = s.mail(sender)
            if code != 250:
                step(
                    "sender",
                    False,
                    f"sender {sender!r} refused ({_reply(code, resp, secret)})",
                    "use a sender address this server lets you send from",
                )
            step("sender", True, f"{sender} accepted")
            for addr in to:
                code, resp = s.rcpt(addr)
                if code not in (250, 251):
                    step(
                        "recipient",
                        False,
                        f"{addr} refused ({_reply(code, resp, secret)})"
                        + (f" (accepted before it: {', '.join(to[: to.index(addr)])})" if to.index(addr) else ""),
                        "check the address; a server that does not relay needs a login",
                    )
            step("recipient", True, f"{', '.join(to)} accepted")
            code, resp = s.data(msg.as_bytes())
            if code != 250:
                step("accepted", False, f"the message was refused ({_reply(code, resp, secret)})", "")
            step("accepted", True, f"the server took the message: {_reply(code, resp, secret)}")
    except _Stop:
        raise
    except smtplib.SMTPServerDisconnected as e:
        step("accepted", False, f"{where} hung up mid-conversation ({_said(e, secret)})", "try again; ask the admin")
    except (smtplib.SMTPException, OSError) as e:
        step("accepted", False, f"the conversation with {where} failed: {_said(e, secret)}", "")


def _offers(s: smtplib.SMTP) -> str:
    names = [n.upper() for n in ("starttls", "auth") if s.has_extn(n)]
    auth = s.esmtp_features.get("auth", "").split()
    return ", ".join(f"AUTH {' '.join(auth)}" if n == "AUTH" and auth else n for n in names)
