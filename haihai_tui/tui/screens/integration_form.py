"""DB設定 > システム連携 > システム連携設定: the form of one integration.

Every field of the seed; the dependency rules (validate.integration_problems) are shown live below
the form as the user types. The API token is never on screen unless revealed (ctrl+t), and then only
in its own input; a newly typed token goes to secrets.toml and the header becomes ${secret:<name>}.
"""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from haihai_tui.core.encodings import SETTING_ENCODINGS
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import editing
from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.settings.model import (
    REPORT_MAIL,
    REPORT_TO,
    SYNC_MODES,
    SYNC_WORDS,
    TOKEN_HEADER,
    Integration,
    Secrets,
)
from haihai_tui.core.settings.validate import integration_problems
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen
from haihai_tui.tui.widgets.kvgrid import Choice, KVGrid
from haihai_tui.tui.widgets.masked_input import MaskedInput, field_row
from haihai_tui.tui.widgets.safe_input import SafeInput

ProblemRow = tuple[str, str, str]  # (where, severity, message)


class IntegrationFormScreen(AppScreen):
    TITLE_TEXT = "システム連携設定 Integration"
    HELP_TEXT = (
        "One システム連携設定. F2 確定 saves to db.toml (comments kept). In the grids F7 adds a row, "
        "F8 deletes the focused row; on a coded value Left/Right/Space cycle the allowed values. "
        "ctrl+t reveals the API token in its own field for this session. Problems below update as "
        "you type; errors block saving."
    )
    BINDINGS = scope("integration_form")

    def __init__(self, integ: Integration | None, *, copy: bool = False) -> None:
        super().__init__()
        blank = Integration(name="", url="", headers={}, params={"login_id": "", "import_type": "0"}, report_mail=2)
        self.base = dataclasses.replace(integ) if integ else blank
        self.original_name = integ.name if integ and not copy else None
        if copy and integ:
            self.base = dataclasses.replace(
                integ, name=f"{integ.name} copy", headers=dict(integ.headers), params=dict(integ.params)
            )
        tok = hdr.token_header(self.base)
        self.token_name, self.token_raw = tok if tok else (TOKEN_HEADER, "")
        self.snapshot: Integration | None = None
        self.new = integ is None or copy
        self._shown: dict[str, str] = {}

    # --- layout ---------------------------------------------------------------------------------------
    def body(self) -> ComposeResult:
        g = self.base
        kind, _ref = hdr.parse(self.token_name, self.token_raw)
        ref = self.token_raw if kind != "literal" else ""
        other = [(k, v) for k, v in g.headers.items() if k != self.token_name]
        yield Static("", id="form-banner", classes="banner", markup=False)
        with VerticalScroll(id="form"):
            yield field_row("システム連携名 name", SafeInput(g.name, id="f-name", compact=True))
            yield field_row(
                "URL",
                SafeInput(g.url, id="f-url", compact=True, placeholder="https://{HOST}/{PATH}/api/v1/custcsv/import"),
            )
            yield Static("HTTPヘッダ  HTTP headers", classes="section", markup=False)
            yield field_row(
                f"{self.token_name} from",
                SafeInput(ref, id="f-token-ref", compact=True, placeholder="${HAIHAI_API_TOKEN} or ${secret:NAME}"),
            )
            yield field_row(
                "token / トークン",
                MaskedInput(id="f-token", compact=True, password=True, placeholder=self.token_placeholder()),
            )
            yield Static("", id="f-token-source", classes="hint", markup=False)
            yield Static("other headers (F7 add, F8 delete)", classes="hint", markup=False)
            yield KVGrid(other, known=False, id="f-headers")
            yield field_row("HTTPボディ形式 body format", Static("JSON (the only format)", markup=False))
            yield field_row("name: (JSON part)", SafeInput(g.json_name, id="f-json-name", compact=True))
            yield Static(
                "リクエストパラメータ  request parameters (F7 add, F8 delete)", classes="section", markup=False
            )
            yield KVGrid(list(g.params.items()), known=True, id="f-params")
            yield Static("連携データ(CSV)  CSV data", classes="section", markup=False)
            yield field_row("連携データ(CSV)のname", SafeInput(g.csv_name, id="f-csv-name", compact=True))
            yield field_row(
                "連携データ(CSV)のヘッダ",
                Choice(
                    [("true", "[x] 1行目に項目名 header row"), ("false", "[ ] no header row")],
                    "true" if g.csv_header else "false",
                    id="f-csv-header",
                ),
            )
            yield field_row(
                "連携データ(CSV)の文字コード",
                Choice([(k, e.label) for k, e in SETTING_ENCODINGS.items()], g.csv_encoding, id="f-csv-encoding"),
            )
            yield Static("レポートメール  report mail", classes="section", markup=False)
            yield field_row(
                "レポートメール send",
                Choice(
                    [(str(k), f"{k} {ja} {en}") for k, (ja, en) in REPORT_MAIL.items()],
                    str(g.report_mail),
                    id="f-report-mail",
                ),
            )
            yield field_row(
                "送信先 recipient",
                Choice([(k, f"{v} {k}") for k, v in REPORT_TO.items()], g.report_to, id="f-report-to"),
            )
            yield Static("同期モード  sync mode (what a run sends)", classes="section", markup=False)
            yield field_row(
                "sync",
                Choice(  # labels of one width: the field does not change size as the value cycles
                    [(m, f"{m:<7} {SYNC_WORDS[m].split(':')[0]}") for m in SYNC_MODES], g.sync or "full", id="f-sync"
                ),
            )
            yield Static(SYNC_WORDS.get(g.sync or "full", ""), id="f-sync-words", classes="hint", markup=False)
        yield Static("", id="form-problems", markup=False)

    @property
    def read_only(self) -> bool:
        return self.happ.ctx.configure_refusal is not None

    def token_placeholder(self) -> str:
        ctx = self.happ.ctx
        hv = hdr.resolve(self.token_name, self.token_raw, ctx.settings, ctx.environ) if self.token_raw else None
        if hv is not None and hv.kind != "literal" and hv.value is not None:
            return "******** stored" + ("" if self.read_only else "; type a new token to replace it")
        return "paste the API token from HaiHai here"

    def on_mount(self) -> None:
        refusal = self.happ.ctx.configure_refusal
        banner = refusal or ""
        if self.new:
            banner = (banner + "\n" if banner else "") + "New integration: fill in the fields, F2 確定 saves."
        self.query_one("#form-banner", Static).update(safe(banner, multiline=True))
        self.query_one("#form-banner").display = bool(banner)
        if refusal:
            for w in self.query("#form Input, #form Choice, #form KVGrid"):
                w.disabled = True
            self.query_one("#form").focus()
        else:
            self.query_one("#f-name", Input).focus()
        self.call_after_refresh(self._take_snapshot)

    def _take_snapshot(self) -> None:
        self.snapshot = self.current()
        self.revalidate()

    # --- the form's Integration -------------------------------------------------------------------------
    def _in(self, wid: str) -> str:
        return self.query_one(wid, Input).value

    def typed_token(self) -> str:
        return self.query_one("#f-token", MaskedInput).typed()

    def current(self) -> Integration:
        name = self._in("#f-name").strip()
        ref = self._in("#f-token-ref").strip()
        if self.typed_token():
            ref = f"${{secret:{name}}}"
        elif not ref:
            ref = self.token_raw  # a literal stays until replaced (validation says so)
        headers = {self.token_name: ref} if ref else {}
        headers.update({k: v for k, v in self.query_one("#f-headers", KVGrid).rows() if k != self.token_name})
        return dataclasses.replace(
            self.base,
            name=name,
            url=self._in("#f-url").strip(),
            headers=headers,
            params=self.query_one("#f-params", KVGrid).as_dict(),
            json_name=self._in("#f-json-name").strip(),
            csv_name=self._in("#f-csv-name").strip(),
            csv_header=self.query_one("#f-csv-header", Choice).value == "true",
            csv_encoding=self.query_one("#f-csv-encoding", Choice).value,
            report_mail=int(self.query_one("#f-report-mail", Choice).value),
            report_to=self.query_one("#f-report-to", Choice).value,
            sync=self.query_one("#f-sync", Choice).value,
        )

    def is_dirty(self) -> bool:
        if self.snapshot is None or self.happ.ctx.configure_refusal:
            return False
        return bool(self.typed_token()) or self.current() != self.snapshot

    def problems(self, g: Integration) -> list[ProblemRow]:
        ctx = self.happ.ctx
        settings = ctx.settings
        token = self.typed_token()
        if token:  # judge the form as if the typed token were already stored
            tokens = dict(settings.secrets.tokens)
            tokens[g.name] = Secret(token, "typed")
            settings = dataclasses.replace(settings, secrets=Secrets(tokens, settings.secrets.smtp_password))
        out: list[ProblemRow] = []
        if g.name != self.original_name and ctx.settings.integration(g.name) is not None:
            out.append(("name", "error", f"an integration named {g.name!r} already exists; choose another name"))
        for grid_id, what in (("#f-params", "リクエストパラメータ"), ("#f-headers", "HTTPヘッダ")):
            for key in self.query_one(grid_id, KVGrid).duplicate_keys():
                out.append((what, "error", f"{what}: key {key!r} appears twice; keep one row"))
        for path, sev, msg in integration_problems(g, settings, ctx.environ):
            out.append((".".join(str(p) for p in path), sev, msg))
        return sorted(out, key=lambda p: p[1] != "error")

    def revalidate(self) -> list[ProblemRow]:
        g = self.current()
        found = self.problems(g)
        errors = sum(1 for p in found if p[1] == "error")
        text = Text()
        if not found:
            text.append("No problems." + ("" if self.read_only else " F2 確定 saves to db.toml."), style="bold")
        else:
            text.append(
                f"{errors} error(s), {len(found) - errors} warning(s){' - errors block saving' if errors else ''}:\n",
                style="bold",
            )
        for where, sev, msg in found:
            text.append(f"{sev}: ", style="bold red" if sev == "error" else "bold yellow")
            text.append(f"[{one_line(where)}] {safe(msg, multiline=True)}\n")
        self._update("#form-problems", text)
        self._update("#f-sync-words", SYNC_WORDS.get(g.sync, ""))
        self.update_token_source(g)
        return found

    def update_token_source(self, g: Integration) -> None:
        ctx = self.happ.ctx
        if self.typed_token():
            line = f'new token typed: F2 stores it in secrets.toml [tokens] "{g.name}" (0600)'
        else:
            raw = g.headers.get(self.token_name, "")
            hv = hdr.resolve(self.token_name, raw, ctx.settings, ctx.environ) if raw else None
            if hv is None:
                line = (
                    "no token yet: paste it into the token field above (kept in secrets.toml), "
                    "or write ${ENV_VAR} in 'from'"
                )
            elif hv.value is None:
                line = f"token from {hv.source}: NOT FOUND - {hv.missing}"
            else:
                line = f"token from {hv.source}: set" + (
                    "" if self.read_only else f" ({self.keys_for('reveal', '^t')} reveals it here)"
                )
        self._update("#f-token-source", safe(line, multiline=True))

    def _update(self, wid: str, content: Text | str) -> None:
        """Update a Static only when its text changes (an update re-lays out the form)."""
        plain = content.plain if isinstance(content, Text) else content
        if self._shown.get(wid) != plain:
            self._shown[wid] = plain
            self.query_one(wid, Static).update(content)

    @on(Input.Changed)
    @on(Choice.Changed)
    @on(KVGrid.Changed)
    def _changed(self, event) -> None:
        if self.snapshot is not None:
            self.revalidate()

    # --- actions ------------------------------------------------------------------------------------------
    def _refusal(self) -> str | None:
        refusal = self.happ.ctx.configure_refusal
        if refusal:
            self.refuse(refusal)
        return refusal

    def _grid(self) -> KVGrid:
        focused_grid = next(
            (a for a in (self.focused.ancestors if self.focused else []) if isinstance(a, KVGrid)), None
        )
        return focused_grid or self.query_one("#f-params", KVGrid)

    async def action_add_row(self) -> None:
        if not self._refusal():
            await self._grid().add_row()

    async def action_delete_row(self) -> None:
        if self._refusal():
            return
        grid = self._grid()
        row = grid.focused_row()
        if row is None:
            self.refuse("Move into a row of a KEY/VALUE grid first, then F8 deletes it.")
            return
        await grid.delete_row(row)

    def action_reveal(self) -> None:
        if self._refusal():
            return
        ctx = self.happ.ctx
        raw = self.current().headers.get(self.token_name, "")
        hv = hdr.resolve(self.token_name, raw, ctx.settings, ctx.environ) if raw else None
        if hv is None or not isinstance(hv.value, Secret):
            self.refuse("There is no stored token to reveal" + (f": {hv.missing}" if hv and hv.missing else "."))
            return
        self.query_one("#f-token", MaskedInput).reveal(hv.value.reveal())

    def action_save(self) -> None:
        if self._refusal():
            return
        ctx = self.happ.ctx
        g = self.current()
        errors = [p for p in self.revalidate() if p[1] == "error"]
        if errors:
            self.refuse(f"Not saved: {errors[0][2]}")
            return
        token = self.typed_token()
        if token:
            ok, _ = self.attempt(editing.set_token, ctx.paths, ctx.login, g.name, token)
            if not ok:
                return
        ok, _ = self.attempt(editing.save_integration, ctx.paths, ctx.login, g, self.original_name, environ=ctx.environ)
        if not ok:
            return
        self.happ.reload_settings()
        self.snapshot = g
        self.query_one("#f-token", MaskedInput).forget()
        self.notify(f"確定: saved {one_line(g.name)!r} to db.toml.", markup=False)
        self.app.pop_screen()
