"""DB設定 > システム連携 > システム連携設定: the list, with 新規追加 (add), edit, copy and delete."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from haihai_tui.core.settings import editing
from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.settings.model import IMPORT_TYPES, REPORT_MAIL, Integration
from haihai_tui.core.settings.validate import integration_problems
from haihai_tui.core.text import one_line, safe
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.screens.base import AppScreen


def summary(g: Integration) -> tuple[str, str, str]:
    """(operation, target, report) in words for one row."""
    it = g.params.get("import_type", "")
    op = f"{it} {IMPORT_TYPES[it][0]}" if it in IMPORT_TYPES else f"{it or '?'} (invalid)"
    target = (
        f"gid {g.params['gid']}"
        if g.params.get("gid")
        else f"spid {g.params['spid']}"
        if g.params.get("spid")
        else ("whole DB" if it == "1" else "-")
    )
    report = REPORT_MAIL.get(g.report_mail, ("?", "?"))[1]
    return op, target, report


class IntegrationsScreen(AppScreen):
    TITLE_TEXT = "システム連携設定 Integrations"
    HELP_TEXT = (
        "DB設定 > システム連携 > システム連携設定. a 新規追加 adds, Enter/e edits, c copies, d deletes "
        "(and detaches it from every menu). Changing needs 「DB設定」 and 「システム連携」."
    )
    BINDINGS = scope("integrations")
    AUTO_FOCUS = "#integrations"

    def body(self) -> ComposeResult:
        yield Static("", id="integ-banner", classes="banner", markup=False)
        yield DataTable(id="integrations", cursor_type="row", zebra_stripes=True)
        yield Static("", id="integ-detail", markup=False)

    def on_mount(self) -> None:
        t = self.query_one("#integrations", DataTable)
        t.add_column("システム連携名 name", width=26)
        t.add_column("import_type", width=14)
        t.add_column("target", width=10)
        t.add_column("report mail", width=13)
        t.add_column("menus", width=5)

    def settings_changed(self) -> None:
        ctx = self.happ.ctx
        s = ctx.settings
        t = self.query_one("#integrations", DataTable)
        row = t.cursor_row
        t.clear()
        for g in s.integrations:
            menus = [m.name for m in s.menus if g.name in m.integrations]
            cells = [g.name, *summary(g), str(len(menus))]
            t.add_row(*[Text(one_line(c)) for c in cells], key=g.name)
        if s.integrations:
            t.move_cursor(row=min(max(row, 0), len(s.integrations) - 1))
        refusal = ctx.configure_refusal
        banner = refusal or ("" if s.integrations else "No integrations yet: press a (新規追加) to add one.")
        self.query_one("#integ-banner", Static).update(safe(banner, multiline=True))
        self.query_one("#integ-banner").display = bool(banner)
        self.update_detail()

    def selected(self) -> Integration | None:
        t = self.query_one("#integrations", DataTable)
        if not t.row_count:
            return None
        name = str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value)
        return self.happ.ctx.settings.integration(name)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.update_detail()

    def update_detail(self) -> None:
        g = self.selected()
        detail = self.query_one("#integ-detail", Static)
        if g is None:
            detail.update("")
            return
        ctx = self.happ.ctx
        menus = [m.name for m in ctx.settings.menus if g.name in m.integrations]
        tok = hdr.token_header(g)
        if tok:
            hv = hdr.resolve(tok[0], tok[1], ctx.settings, ctx.environ)
            token = f"token: {hv.source}" + ("" if hv.value is not None else " (NOT FOUND)")
        else:
            token = "token: no X-HM-apitoken header"
        found = integration_problems(g, ctx.settings, ctx.environ)
        errors = sum(1 for p in found if p[1] == "error")
        lines = [
            f"URL: {g.url}",
            token,
            f"menus: {', '.join(menus) or '(not attached; see メニュー設定)'}",
            f"problems: {errors} error(s), {len(found) - errors} warning(s)",
        ]
        lines += [f"  {sev}: {msg}" for _, sev, msg in found[:3]]
        detail.update("\n".join(one_line(line) for line in lines))

    # --- actions -------------------------------------------------------------------------------------
    def _refusal(self) -> str | None:
        refusal = self.happ.ctx.configure_refusal
        if refusal:
            self.refuse(refusal)
        return refusal

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_add(self) -> None:
        if not self._refusal():
            from haihai_tui.tui.screens.integration_form import IntegrationFormScreen

            self.app.push_screen(IntegrationFormScreen(None))

    def action_edit(self) -> None:
        g = self.selected()
        if g is not None:  # read-only users may look; the form says why it cannot save
            from haihai_tui.tui.screens.integration_form import IntegrationFormScreen

            self.app.push_screen(IntegrationFormScreen(g))

    def action_copy(self) -> None:
        g = self.selected()
        if g is not None and not self._refusal():
            from haihai_tui.tui.screens.integration_form import IntegrationFormScreen

            self.app.push_screen(IntegrationFormScreen(g, copy=True))

    def action_delete(self) -> None:
        g = self.selected()
        if g is None or self._refusal():
            return
        from haihai_tui.tui.dialogs.common import ConfirmScreen

        ctx = self.happ.ctx
        menus = [m.name for m in ctx.settings.menus if g.name in m.integrations]
        also = f"\nIt is attached to: {', '.join(menus)} (it will be detached)." if menus else ""

        def done(yes: bool | None) -> None:
            if not yes:
                return
            ok, detached = self.attempt(editing.delete_integration, ctx.paths, ctx.login, g.name)
            if ok:
                self.happ.reload_settings()
                extra = f" Detached from: {', '.join(detached)}." if detached else ""
                self.notify(f"Deleted {one_line(g.name)!r} from db.toml.{extra}", markup=False)

        self.app.push_screen(
            ConfirmScreen(
                f"Delete integration {one_line(g.name)!r} from db.toml?{also}",
                title="Delete / 削除",
                yes="delete",
                no="keep",
            ),
            done,
        )
