"""Real local SMTP servers (aiosmtpd) for the test-mail and report-mail tests: plain, STARTTLS and TLS on
connect, with a throwaway CA (trustme) whose certificate names 127.0.0.1 and localhost."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "report-sender"
SMTP_PASSWORD = "pw-CANARY-smtp-7f3a"  # never on a screen, in a log or in a file but secrets.toml
REFUSED_RCPT = "refused@example.jp"


class Handler:
    def __init__(self) -> None:
        self.received: list[dict] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED_RCPT:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            dict(
                content=envelope.content,
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                login=session.auth_data.login if session.authenticated and session.auth_data else None,
                tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 2.0.0 OK queued as TEST1"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


class LoopbackController(Controller):
    """aiosmtpd's Controller on an OS-chosen port (port 0)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Servers:
    ca: trustme.CA
    started: list[LoopbackController] = field(default_factory=list)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the throwaway CA (and nothing else)."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def start(self, kind: str = "plain", **kwargs) -> tuple[LoopbackController, Handler]:
        """kind: "plain" (AUTH without TLS), "starttls" (TLS required, AUTH after it), "tls" (TLS on connect)."""
        handler = Handler()
        opts: dict = dict(hostname="127.0.0.1", port=0, authenticator=authenticator)
        if kind == "plain":
            opts["auth_require_tls"] = False
        elif kind == "starttls":
            opts.update(tls_context=self.server_context(), require_starttls=True)
        elif kind == "tls":
            opts.update(ssl_context=self.server_context(), auth_require_tls=False)
        opts.update(kwargs)
        ctl = LoopbackController(handler, **opts)
        ctl.start()
        self.started.append(ctl)
        return ctl, handler


@pytest.fixture
def smtp_servers():
    servers = Servers(trustme.CA())
    yield servers
    for ctl in servers.started:
        ctl.stop()
