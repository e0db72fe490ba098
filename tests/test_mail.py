"""Report mail: when, to whom, what it says, and delivery to a real local SMTP server or the outbox."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import socket
import ssl
import stat
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from hypothesis import given, settings
from hypothesis import strategies as st

from corefixtures import CANARY  # the one canary token of the suite
from haihai_tui.core.addresses import email_problem
from haihai_tui.core.events import Outcome
from haihai_tui.core.run.history import RunRecord
from haihai_tui.core.run.mail import MailError, build_report, deliver, recipient_note, recipients, should_send
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings.model import Smtp

PASSWORD = "pw-CANARY-smtp-51d2"
USER = "rakuraku"


def record(**changes) -> RunRecord:
    base = dict(
        run_id=7,
        started_at="2026-11-29T23:32:01+09:00",
        ended_at="2026-11-29T23:32:09+09:00",
        executor="tanaka",
        integration="配配メール 顧客登録",
        menu="顧客一覧",
        conditions=["会社名~株式会社", "search:東京"],
        memo="月次の登録",
        rows=1234,
        bytes=56789,
        requests=1,
        host="a01.hm-f.jp",
        url="https://a01.hm-f.jp/api_sample/api/v1/custcsv/import",
        http_status=200,
        outcome=Outcome.DONE,
        code=None,
        message="",
        import_ids=["20250401-000017"],
        counts={"success": 1200, "failure": 4, "other": 30, "stopped": 0},
        params={"login_id": "ops01", "import_type": "0", "gid": "12"},
        response_excerpt='{"result":"success"}',
    )
    base.update(changes)
    return RunRecord(**base)


def parse(msg) -> email.message.EmailMessage:
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


# -- deciding and addressing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "report_mail, outcome, expected",
    [
        (0, Outcome.DONE, False),
        (0, Outcome.ERROR, False),
        (0, Outcome.UNKNOWN, False),
        (0, Outcome.CANCELLED, False),
        (1, Outcome.DONE, True),
        (1, Outcome.ERROR, True),
        (1, Outcome.UNKNOWN, True),
        (1, Outcome.CANCELLED, True),
        (2, Outcome.DONE, False),
        (2, Outcome.ERROR, True),
        (2, Outcome.UNKNOWN, True),
        (2, Outcome.CANCELLED, False),
        (1, Outcome.RUNNING, False),
        (2, Outcome.RUNNING, False),
    ],
)
def test_should_send_matrix(report_mail, outcome, expected):
    assert should_send(report_mail, outcome) is expected


def test_should_send_rejects_unknown_setting():
    with pytest.raises(ValueError, match="0 \\(none\\), 1 \\(always\\) or 2"):
        should_send(3, Outcome.DONE)


def test_recipients_and_fallback():
    admins = ["admin@example.co.jp", "ops@example.co.jp", "ADMIN@example.co.jp"]
    assert recipients("executor", "tanaka@example.co.jp", admins) == ["tanaka@example.co.jp"]
    assert recipients("executor", None, admins) == ["admin@example.co.jp", "ops@example.co.jp"]
    assert recipients("executor", "  ", admins) == ["admin@example.co.jp", "ops@example.co.jp"]
    assert recipients("admin", "tanaka@example.co.jp", admins) == ["admin@example.co.jp", "ops@example.co.jp"]
    assert recipients("executor", None, []) == []
    with pytest.raises(ValueError, match="executor"):
        recipients("boss", None, admins)
    assert recipient_note("executor", "tanaka@example.co.jp", "tanaka") == ""
    assert recipient_note("admin", None, "tanaka") == ""
    note = recipient_note("executor", None, "tanaka")
    assert "管理者に送っています" in note and "tanaka" in note and "administrators" in note


# -- building ------------------------------------------------------------------------------------


def test_done_report_subject_headers_and_body():
    msg = parse(
        build_report(record(), sender="rakuraku@example.co.jp", to=["tanaka@example.co.jp"], app_host="server01")
    )
    assert msg["Subject"] == "[楽楽販売] システム連携 完了: 配配メール 顧客登録 (1,234件)"
    assert msg["From"] == "rakuraku@example.co.jp" and msg["To"] == "tanaka@example.co.jp"
    assert msg["Date"] and re.fullmatch(r"<.+@server01>", msg["Message-ID"])
    assert msg.get_content_charset() == "utf-8"
    body = msg.get_content()
    for text in [
        "配配メール 顧客登録",
        "顧客一覧",
        "実行者 (executor): tanaka",
        "2026-11-29T23:32:01+09:00",
        "2026-11-29T23:32:09+09:00",
        "会社名~株式会社 / search:東京",
        "月次の登録",
        "1,234件",
        "56,789 バイト",
        "完了 (done)",
        "HTTPステータス (HTTP status): 200",
        "20250401-000017",
        "成功 (success) 1,200",
        "失敗 (failure) 4",
        "その他 (other) 30",
        "配信停止 (stopped) 0",
        "import_type=0 (新規登録 register)",
        "server01",
        "#7",
    ]:
        assert text in body, text


def test_error_and_unknown_reports():
    err = parse(
        build_report(
            record(
                outcome=Outcome.ERROR,
                http_status=422,
                code="UNKNOWN_GROUP",
                message="gid 12 does not exist",
                counts=None,
                import_ids=[],
            ),
            sender="a@example.jp",
            to=["b@example.jp"],
        )
    )
    assert err["Subject"] == "[楽楽販売] システム連携 エラー: 配配メール 顧客登録 (1,234件)"
    body = err.get_content()
    assert "UNKNOWN_GROUP: gid 12 does not exist" in body and "422" in body and "エラー (error)" in body

    unk = parse(
        build_report(
            record(
                outcome=Outcome.UNKNOWN,
                http_status=None,
                code="READ_TIMEOUT",
                message="no answer within 300 s",
                import_ids=[],
                counts=None,
            ),
            sender="a@example.jp",
            to=["b@example.jp"],
        )
    )
    assert unk["Subject"].startswith("[楽楽販売] システム連携 結果不明: ")
    body = unk.get_content()
    assert "一括登録・削除の処理結果" in body and "再実行する前に" in body and "なし (none)" in body

    note = recipient_note("executor", None, "tanaka")
    fell_back = parse(build_report(record(), sender="a@example.jp", to=["admin@example.jp"], note=note))
    assert fell_back.get_content().startswith("「tanaka」のメールアドレスが")


def test_no_token_anywhere_in_the_message():
    rec = record(params={"login_id": "ops01", "apitoken": CANARY, "import_type": "1"})
    raw = build_report(rec, sender="a@example.jp", to=["b@example.jp"]).as_bytes()
    assert CANARY.encode() not in raw
    assert CANARY not in parse(build_report(rec, sender="a@example.jp", to=["b@example.jp"])).get_content()
    assert "apitoken=********" in parse(build_report(rec, sender="a@example.jp", to=["b@example.jp"])).get_content()


def test_bad_addresses_and_no_recipient():
    with pytest.raises(MailError, match="no recipient"):
        build_report(record(), sender="a@example.jp", to=[])
    with pytest.raises(MailError, match="not an e-mail address"):
        build_report(record(), sender="a@example.jp", to=["b@example.jp\r\nBcc: x@evil"])
    msg = build_report(record(integration="改行\r\nBcc: x@evil"), sender="", to=["b@example.jp"], app_host="srv")
    assert msg["From"] == "haihai-tui@srv" and "\n" not in msg["Subject"]


# -- the outbox ----------------------------------------------------------------------------------


def test_outbox_writes_a_private_parseable_eml(tmp_path: Path):
    outbox = tmp_path / "data" / "outbox"
    msg = build_report(record(), sender="a@example.jp", to=["b@example.jp"])
    said = deliver(msg, smtp=Smtp(), password=Secret(PASSWORD), outbox=outbox)
    path = Path(said.removeprefix("written to "))
    assert said.startswith("written to ") and path.parent == outbox
    assert re.fullmatch(r"\d{8}T\d{6}-7\.eml", path.name)
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700 and stat.S_IMODE(path.stat().st_mode) == 0o600
    back = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert back["Subject"] == msg["Subject"] and "顧客一覧" in back.get_content()
    second = deliver(msg, smtp=Smtp(), password=None, outbox=outbox)
    assert second != said and len(list(outbox.iterdir())) == 2


# -- a real SMTP server on 127.0.0.1 -------------------------------------------------------------


class Handler:
    def __init__(self) -> None:
        self.received: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            dict(
                content=envelope.content,
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                auth=session.authenticated,
                login=session.auth_data.login if session.auth_data else None,
                tls=session.ssl is not None,
            )
        )
        return "250 OK"


AUTH_SEEN: list[tuple[str, bytes | None, bool]] = []


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    AUTH_SEEN.append((mechanism, auth_data.login if isinstance(auth_data, LoginPassword) else None, ok))
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


class LoopbackController(Controller):
    """aiosmtpd's Controller on an OS-chosen port (port 0)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server():
    servers = []
    AUTH_SEEN.clear()

    def start(**kwargs) -> tuple[LoopbackController, Handler]:
        handler = Handler()
        ctl = LoopbackController(handler, hostname="127.0.0.1", port=0, authenticator=authenticator, **kwargs)
        ctl.start()
        servers.append(ctl)
        return ctl, handler

    yield start
    for ctl in servers:
        ctl.stop()


def test_delivery_with_auth(smtp_server, tmp_path: Path):
    ctl, handler = smtp_server(auth_require_tls=False)
    msg = build_report(
        record(params={"apitoken": CANARY}),
        sender="rakuraku@example.co.jp",
        to=["tanaka@example.co.jp", "admin@example.co.jp"],
    )
    smtp = Smtp(host="127.0.0.1", port=ctl.port, starttls=False, from_addr="rakuraku@example.co.jp", username=USER)
    said = deliver(msg, smtp=smtp, password=Secret(PASSWORD), outbox=tmp_path / "outbox", timeout=10)
    assert said == f"sent to tanaka@example.co.jp, admin@example.co.jp via 127.0.0.1:{ctl.port}"
    assert len(handler.received) == 1
    got = handler.received[0]
    assert got["auth"] is True and got["login"] == USER.encode()
    assert [(login, ok) for _, login, ok in AUTH_SEEN] == [(USER.encode(), True)]
    assert got["mail_from"] == "rakuraku@example.co.jp"
    assert got["rcpt_tos"] == ["tanaka@example.co.jp", "admin@example.co.jp"]
    back = email.message_from_bytes(got["content"], policy=email.policy.default)
    assert back["Subject"] == "[楽楽販売] システム連携 完了: 配配メール 顧客登録 (1,234件)"
    assert "顧客一覧" in back.get_content()
    assert CANARY.encode() not in got["content"] and PASSWORD.encode() not in got["content"]
    assert not (tmp_path / "outbox").exists()


def test_wrong_password_gives_mail_error_without_it(smtp_server, tmp_path: Path):
    ctl, handler = smtp_server(auth_require_tls=False)
    smtp = Smtp(host="127.0.0.1", port=ctl.port, starttls=False, username=USER)
    msg = build_report(record(), sender="a@example.jp", to=["b@example.jp"])
    with pytest.raises(MailError) as info:
        deliver(msg, smtp=smtp, password=Secret(PASSWORD + "-wrong"), outbox=tmp_path, timeout=10)
    text = str(info.value)
    assert f"127.0.0.1:{ctl.port}" in text and "log in as 'rakuraku'" in text and "secrets.toml" in text
    assert PASSWORD not in text and "CANARY" not in repr(info.value.args)
    assert info.value.__cause__ is None and handler.received == []


def test_missing_password_and_unreachable_server(tmp_path: Path):
    msg = build_report(record(), sender="a@example.jp", to=["b@example.jp"])
    with pytest.raises(MailError, match="needs a password"):
        deliver(msg, smtp=Smtp(host="127.0.0.1", port=1, username=USER), password=None, outbox=tmp_path)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MailError) as info:
        deliver(
            msg,
            smtp=Smtp(host="127.0.0.1", port=port, starttls=True, username=USER),
            password=Secret(PASSWORD),
            outbox=tmp_path,
            timeout=5,
        )
    assert f"could not connect to 127.0.0.1:{port}" in str(info.value) and PASSWORD not in str(info.value)


def test_starttls_not_offered(smtp_server, tmp_path: Path):
    ctl, _ = smtp_server(auth_require_tls=False)
    msg = build_report(record(), sender="a@example.jp", to=["b@example.jp"])
    with pytest.raises(MailError, match="does not offer STARTTLS"):
        deliver(
            msg, smtp=Smtp(host="127.0.0.1", port=ctl.port, starttls=True), password=None, outbox=tmp_path, timeout=10
        )


def test_auth_not_offered_without_tls(smtp_server, tmp_path: Path):
    ctl, _ = smtp_server()  # aiosmtpd offers AUTH only after STARTTLS by default
    msg = build_report(record(), sender="a@example.jp", to=["b@example.jp"])
    with pytest.raises(MailError, match="set security = .starttls.") as info:
        deliver(
            msg,
            smtp=Smtp(host="127.0.0.1", port=ctl.port, starttls=False, username=USER),
            password=Secret(PASSWORD),
            outbox=tmp_path,
            timeout=10,
        )
    assert PASSWORD not in str(info.value)


def make_self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509  # noqa: F401
    except ImportError:
        pass
    else:
        return _cert_with_cryptography(cert, key)
    if not shutil.which("openssl"):
        pytest.skip("neither the cryptography package nor the openssl command is here to make a test certificate")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def _cert_with_cryptography(cert: Path, key: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    c = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(k.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(k, hashes.SHA256())
    )
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key


def test_starttls_delivery_and_untrusted_certificate(smtp_server, tmp_path: Path):
    cert, key = make_self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    # AUTH only after TLS (auth_require_tls defaults to True), and TLS is required
    ctl, handler = smtp_server(tls_context=server_ctx, require_starttls=True)
    smtp = Smtp(host="127.0.0.1", port=ctl.port, starttls=True, username=USER)
    msg = build_report(record(), sender="a@example.jp", to=["b@example.jp"])

    with pytest.raises(MailError) as info:  # the default trust store does not know our certificate
        deliver(msg, smtp=smtp, password=Secret(PASSWORD), outbox=tmp_path, timeout=10)
    assert "STARTTLS" in str(info.value) and "certificate" in str(info.value)
    assert PASSWORD not in str(info.value) and handler.received == []

    trusting = ssl.create_default_context(cafile=str(cert))
    said = deliver(msg, smtp=smtp, password=Secret(PASSWORD), outbox=tmp_path, timeout=10, ssl_context=trusting)
    assert said == f"sent to b@example.jp via 127.0.0.1:{ctl.port}"
    got = handler.received[0]
    assert got["tls"] is True and got["auth"] is True and got["login"] == USER.encode()
    assert email.message_from_bytes(got["content"], policy=email.policy.default)["Subject"].startswith("[楽楽販売]")


# -- one e-mail rule; outside text never raw -------------------------------------------------------

ADDRESSES = st.text(alphabet="ab.@＠-_+例え:", max_size=14) | st.sampled_from(
    [
        "user@example",
        "a..b@example.co.jp",
        "tanaka＠example.co.jp",
        "a@-x.jp",
        "a@b.jp",
        "例@例え.jp",
        "x@例え.jp",
        "a@b.c",
        "a@@b.jp",
        "@b.jp",
        "a@",
    ]
)


@given(ADDRESSES)
@settings(max_examples=300, deadline=None)
def test_mail_refuses_exactly_the_addresses_preflight_refuses(addr):
    problem = email_problem(addr)
    try:
        build_report(record(), sender="ops@example.jp", to=[addr])
    except MailError as e:
        assert problem is not None and problem in str(e)
    else:
        assert problem is None


def test_body_and_subject_show_outside_text_escaped():
    hostile = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\u202e"
    rec = record(
        integration="連携" + hostile,
        memo="メモ" + hostile,
        executor="ops" + hostile,
        conditions=["会社名~" + hostile],
        message="boom" + hostile,
        code="E" + hostile,
        outcome=Outcome.ERROR,
        response_excerpt='{"error": "' + hostile + '"}\nline 2',
        params={"gid": "12" + hostile},
    )
    msg = parse(
        build_report(
            rec, sender="ops@example.jp", to=["ops@example.jp"], note=recipient_note("executor", None, "ops" + hostile)
        )
    )
    body, subj = msg.get_content(), str(msg["Subject"])
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in body and raw not in subj
    assert "\\x1b]52;c;ZXZpbA==\\x07" in body and "\\u202e" in subj
    assert "line 2" in body.split("サーバーの応答")[1]  # the excerpt keeps its line breaks
