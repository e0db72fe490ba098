"""The report mail (レポートメール) sent after a run, by SMTP or into the outbox folder.

Who gets it: ``report_mail`` 0 none, 1 always, 2 only on error (ERROR and UNKNOWN count as errors;
CANCELLED does not: the user stopped the run before the data was sent, so nothing happened at
HaiHai that anyone must look at). A RUNNING run never sends. With no SMTP host configured the
message is written as ``<outbox>/<timestamp>-<run id>.eml`` (folder 0700, file 0600) instead.

The message is built from a :class:`RunRecord` only, which carries no token; the SMTP password is
revealed in one place, the ``login`` call, and never appears in a :class:`MailError`.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from haihai_tui.core.addresses import email_problem
from haihai_tui.core.events import Outcome
from haihai_tui.core.paths import ensure_private_dir
from haihai_tui.core.run.history import RunRecord
from haihai_tui.core.secret import MASK, Secret
from haihai_tui.core.settings.model import IMPORT_TYPES, Smtp
from haihai_tui.core.text import one_line, safe

SUBJECT_PREFIX = "[楽楽販売] システム連携"
RUN_HEADER = "X-HaiHai-TUI-Run"
ERROR_OUTCOMES = (Outcome.ERROR, Outcome.UNKNOWN)
FINISHED = (Outcome.DONE, Outcome.ERROR, Outcome.UNKNOWN, Outcome.CANCELLED)
_SECRETISH = re.compile(r"token|passw|secret|api_?key", re.I)
_COUNT_LABELS = (
    ("success", "成功 (success)"),
    ("failure", "失敗 (failure)"),
    ("other", "その他 (other)"),
    ("stopped", "配信停止 (stopped)"),
)
_OUTCOME_EN = {
    Outcome.RUNNING: "running",
    Outcome.DONE: "done",
    Outcome.ERROR: "error",
    Outcome.UNKNOWN: "outcome unknown",
    Outcome.CANCELLED: "cancelled",
}


class MailError(Exception):
    """The report mail could not be built or delivered; the message says what failed and where."""


def should_send(report_mail: int, outcome: Outcome) -> bool:
    """0 none, 1 every finished run, 2 only ERROR/UNKNOWN (CANCELLED is not an error)."""
    if report_mail not in (0, 1, 2):
        raise ValueError(f"report_mail must be 0 (none), 1 (always) or 2 (only on error), not {report_mail!r}")
    outcome = Outcome(outcome)
    if report_mail == 0 or outcome not in FINISHED:
        return False
    return report_mail == 1 or outcome in ERROR_OUTCOMES


def recipients(report_to: str, executor_email: str | None, admin_emails: list[str]) -> list[str]:
    """Addresses for ``report_to`` ("executor" or "admin"); an executor without e-mail falls back to admins."""
    if report_to not in ("executor", "admin"):
        raise ValueError(f"report_to must be 'executor' (実行者) or 'admin' (管理者), not {report_to!r}")
    chosen = [executor_email] if report_to == "executor" and (executor_email or "").strip() else admin_emails
    out: list[str] = []
    for addr in chosen:
        addr = (addr or "").strip()
        if addr and addr.lower() not in (a.lower() for a in out):
            out.append(addr)
    return out


def recipient_note(report_to: str, executor_email: str | None, executor: str = "") -> str:
    """The sentence for the mail body when the executor had no address and the admins got it instead."""
    if report_to != "executor" or (executor_email or "").strip():
        return ""
    executor = one_line(executor)
    who = f"「{executor}」" if executor else "実行者"
    return (
        f"{who}のメールアドレスが admin.toml の [[users]] に無いため、管理者に送っています。\n"
        f"(The executor{' ' + repr(executor) if executor else ''} has no e-mail in admin.toml [[users]], "
        f"so this went to the administrators.)"
    )


# -- building ------------------------------------------------------------------------------------


def subject(rec: RunRecord) -> str:
    dry = " (ドライラン)" if rec.dry_run else ""
    return one_line(f"{SUBJECT_PREFIX} {rec.outcome.label}{dry}: {rec.integration.strip()} ({rec.rows:,}件)")


def _param_line(key: str, value: str) -> str:
    key = one_line(key)
    if _SECRETISH.search(key):
        return f"{key}={MASK}"
    if key == "import_type" and str(value) in IMPORT_TYPES:
        ja, en = IMPORT_TYPES[str(value)]
        return f"{key}={value} ({ja} {en})"
    return f"{key}={one_line(value)}"


def _guidance(rec: RunRecord) -> list[str]:
    if rec.dry_run:
        return ["ドライランです。配配メールには何も送っていません。", "(Dry run: nothing was sent to HaiHai.)"]
    if rec.outcome == Outcome.DONE:
        return [
            "配配メールがデータを受け付けました。行ごとの結果は配配メールの",
            "「レポート > 一括登録・削除の処理結果」で確認できます (10日間保存)。",
            "(HaiHai accepted the data; per-row results are under Report > bulk import results for 10 days.)",
        ]
    if rec.outcome == Outcome.UNKNOWN:
        return [
            "データは送信しましたが、配配メールからの応答を受け取れませんでした。",
            "取り込まれたかどうかは分かりません。再実行する前に必ず確認してください。",
            "(The data was sent but no answer came back: it may or may not have been imported.)",
            "",
            "確認すること (what to check in HaiHai):",
            "  1. 配配メールにログインし「レポート > 一括登録・削除の処理結果」を開く",
            f"     (open Report > bulk import results and look for an import started around {rec.started_at})",
            "  2. その処理があれば再実行は不要です。再実行すると同じ顧客が二重に処理され、",
            "     1日のAPI実行回数の上限も消費します。",
            "     (If it is there, do not run again: a second run processes the customers twice",
            "     and spends the daily request quota.)",
            "  3. 無い場合だけ、同じ条件で再実行してください。(Only if it is not there, run it again.)",
        ]
    if rec.outcome == Outcome.CANCELLED:
        return [
            "実行者が送信前に中止しました。配配メールには何も送っていません。",
            "(Cancelled before the data was sent; nothing reached HaiHai.)",
        ]
    return [
        "エラーで終了しました。下のエラー内容を確認し、設定またはデータを直してから再実行してください。",
        "(The run failed; see the error below, fix the settings or data, then run it again.)",
    ]


def build_body(rec: RunRecord, *, app_host: str = "", note: str = "") -> str:
    """The mail text. Every outside value (names, memo, conditions, what the server said) is shown
    through ``one_line``/``safe``: a control sequence in it never reaches a terminal that shows the mail."""
    lines: list[str] = []
    if note:
        lines += [safe(note, multiline=True), ""]
    lines += [f"楽楽販売のシステム連携「{one_line(rec.integration)}」の実行結果です。(Run report from haihai-tui.)", ""]
    lines += _guidance(rec) + [""]
    when = lambda v: v or "-"  # noqa: E731
    status = rec.outcome.label + f" ({_OUTCOME_EN[rec.outcome]})" + (" [ドライラン (dry run)]" if rec.dry_run else "")
    rows = [
        ("状態 (outcome)", status),
        ("システム連携 (integration)", one_line(rec.integration)),
        ("メニュー (menu)", one_line(rec.menu)),
        ("実行者 (executor)", one_line(rec.executor)),
        ("開始 (started)", one_line(when(rec.started_at))),
        ("終了 (ended)", one_line(when(rec.ended_at))),
        (
            "検索条件 (conditions)",
            " / ".join(map(one_line, rec.conditions)) if rec.conditions else "なし (none: all records)",
        ),
        ("メモ (memo)", one_line(rec.memo) or "-"),
        ("件数 (rows)", f"{rec.rows:,}件"),
        ("サイズ (bytes)", f"{rec.bytes:,} バイト"),
        ("リクエスト数 (requests)", f"{rec.requests:,}"),
        ("送信先 (endpoint)", one_line(rec.url or rec.host or "-")),
        ("HTTPステータス (HTTP status)", str(rec.http_status) if rec.http_status is not None else "なし (none)"),
    ]
    if rec.code or rec.message:
        rows.append(
            (
                "エラー内容・メッセージ (code / message)",
                ": ".join(p for p in (one_line(rec.code or ""), one_line(rec.message)) if p),
            )
        )
    if rec.import_ids:
        rows.append(("インポートID (import id)", ", ".join(map(one_line, rec.import_ids))))
    if rec.counts:
        rows.append(
            (
                "処理結果 (row results)",
                " / ".join(f"{label} {rec.counts.get(key, 0):,}" for key, label in _COUNT_LABELS),
            )
        )
    if rec.params:
        rows.append(
            ("送信した設定 (import_settings)", ", ".join(_param_line(k, str(v)) for k, v in rec.params.items()))
        )
    lines += [f"{label}: {value}" for label, value in rows]
    if rec.response_excerpt:
        lines += ["", "サーバーの応答 (response excerpt):", safe(rec.response_excerpt[:800], multiline=True)]
    lines += [
        "",
        "-- ",
        f"haihai-tui{' on ' + app_host if app_host else ''}",
        f"履歴 (history) #{rec.run_id}: haihai-tui history",
    ]
    return "\n".join(lines) + "\n"


def _check_address(addr: str) -> str:
    """``addr`` when it passes the one e-mail rule (haihai_tui.core.addresses), else MailError saying why."""
    addr = addr.strip()
    problem = email_problem(addr)
    if problem:
        raise MailError(
            f"report mail address {one_line(addr)!r} is not an e-mail address ({problem}); fix it in admin.toml"
        )
    return addr


def build_report(rec: RunRecord, *, sender: str, to: list[str], app_host: str = "", note: str = "") -> EmailMessage:
    """The report as a UTF-8 message with Date, Message-ID, From, To and a Japanese subject."""
    if not to:
        raise MailError(
            "the report mail has no recipient: set admin_emails under [system] in admin.toml "
            "(or an email for the executor under [[users]])"
        )
    to = [_check_address(a) for a in to]
    sender = _check_address(sender) if sender else f"haihai-tui@{app_host or 'localhost'}"
    domain = app_host or sender.rpartition("@")[2] or "haihai-tui.invalid"
    msg = EmailMessage()
    msg["Subject"] = subject(rec)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=f"run{rec.run_id}", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg[RUN_HEADER] = str(rec.run_id or "")
    msg.set_content(build_body(rec, app_host=app_host, note=note), charset="utf-8")
    return msg


# -- delivering ----------------------------------------------------------------------------------


def _write_outbox(msg: EmailMessage, outbox: Path) -> str:
    try:
        ensure_private_dir(outbox)
        stem = f"{datetime.now():%Y%m%dT%H%M%S}-{msg.get(RUN_HEADER) or 'run'}"
        data = msg.as_bytes()
        for n in range(1, 1000):
            path = Path(outbox) / (f"{stem}.eml" if n == 1 else f"{stem}-{n}.eml")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(data)
            return f"written to {path}"
    except OSError as e:
        raise MailError(f"could not write the report mail into {outbox}: {e.strerror or e}") from None
    raise MailError(f"could not write the report mail into {outbox}: too many files named {stem}*")


def _reply(e: Exception, secret: str) -> str:
    if isinstance(e, smtplib.SMTPResponseException):
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        text = f"{e.smtp_code} {text}"
    elif isinstance(e, ssl.SSLCertVerificationError):
        text = f"certificate not trusted: {e.verify_message}"
    else:
        text = str(e) or type(e).__name__
    text = text.replace(secret, MASK) if secret else text
    return one_line(" ".join(text.split()))


def open_smtp(smtp: Smtp, timeout: float, ssl_context: ssl.SSLContext | None = None) -> smtplib.SMTP:
    """A connection to ``smtp.host``: TLS from the first byte for security "tls" (SMTPS, port 465), with a
    verifying context (the system's CAs unless ``ssl_context`` is given); plain TCP otherwise (STARTTLS
    is the caller's next step)."""
    if smtp.mode == "tls":
        context = ssl_context or ssl.create_default_context()
        return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    return smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)


def deliver(
    msg: EmailMessage,
    *,
    smtp: Smtp,
    password: Secret | None,
    outbox: Path,
    timeout: float = 30,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Send ``msg`` by SMTP (or write it to ``outbox`` when no host is set); say what happened."""
    to = [a for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", [])) if a]
    if not to:
        raise MailError("the report mail has no recipient")
    if not smtp.host:
        return _write_outbox(msg, outbox)
    where = f"{smtp.host}:{smtp.port}"
    if smtp.username and not password:
        raise MailError(
            f"SMTP login as {smtp.username!r} at {where} needs a password: put it under "
            f"[smtp] password in secrets.toml (mode 0600)"
        )
    step, secret = "connect to", ""
    try:
        with open_smtp(smtp, timeout, ssl_context) as s:
            step = "greet (EHLO)"
            s.ehlo()
            if smtp.mode == "starttls":
                step = "start TLS (STARTTLS) with"
                if not s.has_extn("starttls"):
                    raise MailError(
                        f'{where} does not offer STARTTLS; set security = "none" under '
                        f"[system.smtp] in admin.toml only if that network is trusted"
                    )
                s.starttls(context=ssl_context or ssl.create_default_context())
                s.ehlo()
            if smtp.username:
                step = f"log in as {smtp.username!r} at"
                secret = password.reveal()  # type: ignore[union-attr]
                s.login(smtp.username, secret)
            step = "send the report mail via"
            refused = s.send_message(msg)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as e:
        raise MailError(
            f"could not {step} {where}: user name or password refused ({_reply(e, secret)}); "
            f"check username under [system.smtp] in admin.toml and password under [smtp] "
            f"in secrets.toml"
        ) from None
    except smtplib.SMTPRecipientsRefused as e:
        bad = ", ".join(f"{a} ({c})" for a, (c, _) in e.recipients.items())
        raise MailError(f"{where} refused every recipient of the report mail: {bad}") from None
    except smtplib.SMTPNotSupportedError as e:
        hint = (
            '; many servers offer AUTH only after TLS: set security = "starttls" (or "tls" on port 465) '
            "under [system.smtp] in admin.toml"
            if smtp.username and smtp.mode == "none" and step.startswith("log in")
            else ""
        )
        raise MailError(
            f"could not {step} {where}: the server does not support it ({_reply(e, secret)}){hint}"
        ) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        raise MailError(f"could not {step} {where}: {_reply(e, secret)}") from None
    sent = [a for a in to if a not in refused]
    text = f"sent to {', '.join(sent)} via {where}"
    if refused:
        text += f" (refused: {', '.join(refused)})"
    return text
