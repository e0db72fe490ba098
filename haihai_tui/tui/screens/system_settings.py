"""管理者設定 > システム設定 / メール設定: the admin e-mail addresses and how report mail is sent.

The addresses are checked with the one e-mail rule (core/addresses.py) as you type; the SMTP server
(host, port, security none / STARTTLS / TLS on connect, login, sender) goes to admin.toml, the password
to secrets.toml only, masked like the API token (ctrl+t reveals it in its own field). An empty host
means report mail is written as .eml files into the outbox folder. F3 sends a test mail now, in a
thread worker, and shows the SMTP conversation step by step (core/run/mail_check.py).
"""

from __future__ import annotations

import socket

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from haihai_tui.core.run.mail_check import STEP_WORDS, MailCheck, Step, send_test_mail
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import editing
from haihai_tui.core.settings.model import SMTP_PORTS, SMTP_SECURITY, Smtp
from haihai_tui.core.settings.validate import system_problems
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen
from haihai_tui.tui.widgets.kvgrid import Choice
from haihai_tui.tui.widgets.masked_input import MaskedInput, field_row
from haihai_tui.tui.widgets.safe_input import SafeInput

Values = tuple[list[str], Smtp]
#: the errors that make a test mail pointless (a missing password is told by the test itself)
_BLOCKS_TEST = ("admin_emails", "host", "port", "from", "username", "security")
#: short words for the security choice (SMTP_SECURITY in the model says more; F1 help explains them)
SECURITY_LABELS = {"none": "なし none", "starttls": "STARTTLS (587)", "tls": "TLS on connect (465)"}


def split_emails(text: str) -> list[str]:
    """ "a@x.jp, b@y.jp" (commas, semicolons or spaces between) -> ["a@x.jp", "b@y.jp"]."""
    return [a for a in text.replace(";", ",").replace("\u3000", " ").replace(" ", ",").split(",") if a]


class SystemSettingsScreen(AppScreen):
    TITLE_TEXT = "システム設定 / メール設定"
    HELP_TEXT = (
        "Admin e-mail addresses (comma separated) and the SMTP server for report mail. Leave the host empty "
        "to write each mail as an .eml file into the outbox folder instead. Security: STARTTLS (587), TLS on "
        "connect (465) or none; the certificate is always verified. F2 確定 saves (the password to "
        "secrets.toml only); ctrl+t reveals the stored password; F3 sends a test mail now and shows each "
        "step of the SMTP conversation. Needs 「システム設定」."
    )
    BINDINGS = scope("system_settings")
    DEFAULT_CSS = """
    #sys-mail-box { height: auto; max-height: 12; border-top: solid $panel-lighten-2; }
    #sys-mail-box:focus { border-top: solid $accent; }
    #sys-mail { padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: tuple | None = None
        self.loaded: Values | None = None
        self.sending = False
        self._shown: dict[str, str] = {}

    # --- layout -----------------------------------------------------------------------------------------
    def body(self) -> ComposeResult:
        s = self.happ.ctx.settings
        smtp = s.smtp
        yield Static("", id="form-banner", classes="banner", markup=False)
        with VerticalScroll(id="form"):
            yield Static("システム設定  admin e-mail addresses", classes="section", markup=False)
            yield field_row(
                "管理者メールアドレス",
                SafeInput(
                    ", ".join(s.admin_emails),
                    id="f-admin-emails",
                    compact=True,
                    placeholder="a@example.jp, b@example.jp",
                ),
            )
            yield Static("", id="f-admin-hint", classes="hint", markup=False)
            yield Static("メール設定  SMTP for report mail", classes="section", markup=False)
            yield field_row(
                "SMTPサーバー host",
                SafeInput(smtp.host, id="f-host", compact=True, placeholder="empty: .eml files into the outbox"),
            )
            yield field_row("ポート port", SafeInput(str(smtp.port), id="f-port", compact=True, restrict=r"[0-9]*"))
            yield field_row(
                "暗号化 security",
                Choice([(k, SECURITY_LABELS.get(k, k)) for k in SMTP_SECURITY], smtp.mode, id="f-security"),
            )
            yield field_row("ログイン login", SafeInput(smtp.username, id="f-username", compact=True))
            yield field_row(
                "パスワード password",
                MaskedInput(id="f-password", compact=True, password=True, placeholder=self.password_placeholder()),
            )
            yield Static("", id="f-password-source", classes="hint", markup=False)
            yield field_row(
                "送信元 sender (From)",
                SafeInput(smtp.from_addr, id="f-from", compact=True, placeholder="haihai-tui@<this host>"),
            )
        yield Static("", id="form-problems", markup=False)
        with VerticalScroll(id="sys-mail-box"):  # Tab reaches it; arrows scroll a long conversation
            yield Static("", id="sys-mail", markup=False)

    @property
    def refusal(self) -> str | None:
        ctx = self.happ.ctx
        return editing.system_refusal(ctx.user, ctx.login)

    def stored_password(self) -> Secret | None:
        return self.happ.ctx.settings.secrets.smtp_password

    def password_placeholder(self) -> str:
        if self.stored_password() is not None:
            return "******** stored" + ("" if self.refusal else "; type a new one to replace it")
        return "the SMTP password (kept in secrets.toml)"

    def on_mount(self) -> None:
        refusal = self.refusal
        banner = self.query_one("#form-banner", Static)
        banner.update(safe(refusal or "", multiline=True))
        banner.display = bool(refusal)
        self.query_one("#sys-mail-box").display = False
        if refusal:
            for w in self.query("#form Input, #form Choice"):
                w.disabled = True
            self.query_one("#form").focus()
        else:
            self.query_one("#f-admin-emails", Input).focus()
        s = self.happ.ctx.settings
        self.loaded = (list(s.admin_emails), s.smtp)
        self.call_after_refresh(self._take_snapshot)

    def _take_snapshot(self) -> None:
        self.snapshot = self.state()
        self.revalidate()

    # --- the form's values --------------------------------------------------------------------------------
    def _in(self, wid: str) -> str:
        return self.query_one(wid, Input).value

    def typed_password(self) -> str:
        return self.query_one("#f-password", MaskedInput).typed()

    def current(self) -> Values:
        port = self._in("#f-port").strip()
        smtp = Smtp(
            host=self._in("#f-host").strip(),
            port=int(port) if port.isdigit() else 0,
            security=self.query_one("#f-security", Choice).value,
            from_addr=self._in("#f-from").strip(),
            username=self._in("#f-username").strip(),
        )
        return split_emails(self._in("#f-admin-emails")), smtp

    def state(self) -> tuple:
        emails, smtp = self.current()
        return emails, smtp.host, smtp.port, smtp.mode, smtp.from_addr, smtp.username, self.typed_password()

    def is_dirty(self) -> bool:
        if self.snapshot is None or self.refusal:
            return False
        return self.state() != self.snapshot

    def has_password(self) -> bool:
        return bool(self.typed_password()) or self.stored_password() is not None

    def problems(self) -> list[tuple[str, str, str]]:
        emails, smtp = self.current()
        found = system_problems(emails, smtp, self.has_password())
        return sorted(found, key=lambda p: p[1] != "error")

    def revalidate(self) -> list[tuple[str, str, str]]:
        found = self.problems()
        errors = sum(1 for p in found if p[1] == "error")
        text = Text()
        if not found:
            text.append(
                "No problems." + ("" if self.refusal else " F2 確定 saves, F3 sends a test mail."), style="bold"
            )
        else:
            text.append(
                f"{errors} error(s), {len(found) - errors} warning(s){' - errors block saving' if errors else ''}:\n",
                style="bold",
            )
        for where, sev, msg in found:
            text.append(f"{sev}: ", style="bold red" if sev == "error" else "bold yellow")
            text.append(f"[{one_line(where)}] {safe(msg, multiline=True)}\n")
        self._update("#form-problems", text)
        emails, smtp = self.current()
        n = len(emails)
        hint = f"{n} address(es); report mail to 管理者 goes to each" if n else "no address yet: type one or more"
        self._update("#f-admin-hint", Text(hint))
        self._update("#f-password-source", Text(self.password_source(smtp)))
        return found

    def password_source(self, smtp: Smtp) -> str:
        if not smtp.host:
            return "no SMTP host: report mail is written as .eml files into the outbox folder"
        if self.typed_password():
            return "new password typed: F2 stores it in secrets.toml [smtp] (0600)"
        if self.stored_password() is not None:
            return "password: stored in secrets.toml" + (
                "" if self.refusal else f" ({self.keys_for('reveal', '^t')} reveals it here)"
            )
        return "no password stored" + (" (the login needs one)" if smtp.username else " (none needed without login)")

    def _update(self, wid: str, content: Text) -> None:
        if self._shown.get(wid) != content.plain:
            self._shown[wid] = content.plain
            self.query_one(wid, Static).update(content)

    @on(Input.Changed)
    @on(Choice.Changed)
    def _changed(self, event) -> None:
        if isinstance(event, Choice.Changed):
            event.choice.refresh(layout=True)  # width: auto follows the new label
            if self.snapshot is not None:
                self._follow_port(event.value)
        if self.snapshot is not None:
            self.revalidate()

    def _follow_port(self, mode: str) -> None:
        """Choosing a security moves the port along when it still holds another security's usual port."""
        box = self.query_one("#f-port", Input)
        if box.value.strip() in {str(p) for p in SMTP_PORTS.values()} and mode in SMTP_PORTS:
            box.value = str(SMTP_PORTS[mode])

    # --- actions --------------------------------------------------------------------------------------------
    def _refused(self) -> bool:
        refusal = self.refusal
        if refusal:
            self.refuse(refusal)
        return bool(refusal)

    def action_reveal(self) -> None:
        if self._refused():
            return
        stored = self.stored_password()
        if stored is None:
            self.refuse("There is no stored SMTP password to reveal.")
            return
        self.query_one("#f-password", MaskedInput).reveal(stored.reveal())

    def action_save(self) -> None:
        if self._refused():
            return
        ctx = self.happ.ctx
        errors = [p for p in self.revalidate() if p[1] == "error"]
        if errors:
            self.refuse(f"Not saved: {errors[0][2]}")
            return
        emails, smtp = self.current()
        password = self.typed_password()
        ok, _ = self.attempt(
            editing.save_system,
            ctx.paths,
            ctx.login,
            emails,
            smtp,
            has_password=self.has_password(),
            expected=self.loaded,
        )
        if not ok:
            return
        if password:
            ok, _ = self.attempt(editing.set_smtp_password, ctx.paths, ctx.login, password)
            if not ok:
                return
        self.happ.reload_settings()
        s = self.happ.ctx.settings
        self.loaded = (list(s.admin_emails), s.smtp)
        box = self.query_one("#f-password", MaskedInput)
        box.forget()
        box.password = True
        box.placeholder = self.password_placeholder()
        self.snapshot = self.state()
        self.revalidate()
        where = f"SMTP {smtp.host}:{smtp.port} ({smtp.mode})" if smtp.host else "the outbox folder"
        self.notify(
            f"確定: saved to admin.toml{' and secrets.toml' if password else ''}; "
            f"report mail goes via {one_line(where)}.",
            markup=False,
        )

    def action_test_mail(self) -> None:
        if self._refused():
            return
        if self.sending:
            self.refuse("A test mail is being sent; wait for its result.")
            return
        blocking = [p for p in self.revalidate() if p[1] == "error" and p[0] in _BLOCKS_TEST]
        if blocking:
            self.refuse(f"No test mail: {blocking[0][2]}")
            return
        emails, smtp = self.current()
        if not emails:
            self.refuse("No test mail: type an admin e-mail address first; the test mail goes there.")
            return
        typed = self.typed_password()
        password = Secret(typed, "typed SMTP password") if typed else self.stored_password()
        host = socket.gethostname()
        sender = smtp.from_addr or f"haihai-tui@{host}"
        via = f"{smtp.host}:{smtp.port} {SECURITY_LABELS.get(smtp.mode, smtp.mode)}" if smtp.host else "the outbox"
        self.sending = True
        self._title = f"Test mail to {', '.join(emails)} via {via}"
        self._outcome: tuple[str, str] = ("sending...", "bold")
        self._lines: list[Step] = []
        self.query_one("#sys-mail-box").display = True
        self.redraw_mail()
        self.send(smtp, password, sender, emails, host)

    @work(thread=True, exclusive=True, group="test-mail")
    def send(self, smtp: Smtp, password: Secret | None, sender: str, to: list[str], host: str) -> None:
        ctx = self.happ.ctx
        try:
            check = send_test_mail(
                smtp,
                password,
                sender,
                to,
                outbox=ctx.paths.outbox,
                app_host=host,
                on_step=lambda step: self.app.call_from_thread(self.show_step, step),
            )
        except Exception as e:  # a bug must not leave the screen waiting forever
            check = MailCheck([Step("accepted", False, f"the test stopped unexpectedly: {type(e).__name__}")])
            self.app.call_from_thread(self.show_step, check.steps[0])
        self.app.call_from_thread(self.finished, check)

    def show_step(self, step: Step) -> None:
        self._lines.append(step)
        self.redraw_mail()

    def redraw_mail(self) -> None:
        """The outcome first (always visible), then each step of the conversation as it came."""
        text = Text()
        text.append(safe(self._title) + ": ", style="bold")
        text.append(self._outcome[0] + "\n", style=self._outcome[1])
        for step in self._lines:
            word = STEP_WORDS.get(step.name, step.name)
            text.append(f"{'ok' if step.ok else 'FAILED':>6} ", style="bold green" if step.ok else "bold red")
            text.append(f"{word}: ", style="bold")
            text.append(safe(step.text) + "\n")
            if step.fix:
                text.append(f"       fix: {safe(step.fix)}\n", style="yellow")
        self.query_one("#sys-mail", Static).update(text)
        box = self.query_one("#sys-mail-box", VerticalScroll)
        box.call_after_refresh(box.scroll_end, animate=False)

    def finished(self, check: MailCheck) -> None:
        self.sending = False
        failed = check.failed
        if check.ok:
            last = check.steps[-1]
            self._outcome = ("ACCEPTED" if last.name == "accepted" else "written to the outbox", "bold green")
            self.notify(f"Test mail: {safe(last.text)}", title="Test mail accepted", markup=False)
        elif failed is not None:
            word = STEP_WORDS.get(failed.name, failed.name)
            self._outcome = (f"FAILED at {word}", "bold red")
            self.notify(
                f"Failed at {word}: {safe(failed.text)}" + (f"\nFix: {safe(failed.fix)}" if failed.fix else ""),
                title="Test mail failed",
                severity="error",
                timeout=10,
                markup=False,
            )
        self.redraw_mail()
