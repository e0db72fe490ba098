"""The command palette (ctrl+p or :): every screen, record-list menu and integration, by name.

Names come from the settings: they are shown as plain ``Content`` (never parsed as markup), made
terminal-safe first. The palette parses a help line given as ``str`` as markup, but returns a
``Content`` as it is: help lines are passed as Content.
"""

from __future__ import annotations

from functools import partial
from typing import cast

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from haihai_tui.core.text import one_line
from haihai_tui.tui.host import Host, host

# --- where the palette (and the start screen) can go --------------------------------------------------

STATIC_DESTINATIONS: list[tuple[str, str, str]] = [
    ("start", "Start / スタート", "the start screen with every menu"),
    ("permissions", "全体権限一覧 Permissions", "管理者設定 > 権限設定 > 全体権限一覧: users x 15 permissions"),
    ("users", "ユーザ Users", "管理者設定 > ユーザ: add, edit, remove users"),
    ("system", "システム設定 / メール設定 System & mail", "管理者設定: admin e-mails, SMTP for report mail, test mail"),
    ("integrations", "システム連携設定 Integrations", "DB設定 > システム連携 > システム連携設定"),
    ("menus", "メニュー設定 Menus", "DB設定 > 基本設定 > メニュー設定: create, rename, copy, delete; columns"),
    ("databases", "データベース Databases", "DB設定 > データベース: create and rename databases"),
    ("history", "システム連携状況確認 History", "every run: time, who, integration, rows, state"),
    ("progress", "Progress / 実行状況", "the live log of the current run"),
]


def destinations(app: Host) -> list[tuple[str, str, str]]:
    """[(target, label, help)] for every screen, record-list menu and integration (labels terminal-safe)."""
    out = list(STATIC_DESTINATIONS)
    s = app.ctx.settings
    for m in s.menus:
        out.append(
            (f"menu:{m.name}", f"{one_line(m.name)} record list / レコード一覧", f"database {one_line(m.database)}")
        )
    for g in s.integrations:
        out.append((f"integration:{g.name}", f"Edit integration {one_line(g.name)}", "システム連携設定"))
    for d in s.databases:
        out.append((f"fields:{d.id}", f"Fields of {one_line(d.name)} / フィールド設定", f"database {one_line(d.id)}"))
    for m in s.menus:
        out.append((f"menu-settings:{m.name}", f"Menu settings {one_line(m.name)}", "メニュー設定 for this menu"))
    for m in s.menus:  # the record list, with its CSV dialog open (key i / x on the list)
        name, db = one_line(m.name), one_line(m.database)
        out.append((f"menu-import:{m.name}", f"CSV一括登録 Import a CSV into {name}", f"database {db}, all or nothing"))
        out.append((f"menu-export:{m.name}", f"CSV出力 Export {name} to a CSV file", "Windows-31J or UTF-8"))
        out.append((f"menu-new-record:{m.name}", f"新規登録 New record in {name}", f"database {db}, every field"))
    return out


def plain(text: str) -> str:
    """``text`` as a help line the palette shows literally (a Content: Content.from_markup returns it as is)."""
    return cast(str, Content(text))  # Hit.help is annotated str; a Content is shown without markup parsing


def highlight(matcher: Matcher, label: str) -> Content:
    """``label`` as plain Content with the matched characters styled (Matcher.highlight parses markup)."""
    content = Content(label)
    score, offsets = matcher.fuzzy_search.match(matcher.query, label)
    if score:
        for offset in offsets:
            if not label[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class Jump(Provider):
    """Command-palette commands that open any screen, menu or integration."""

    async def discover(self) -> Hits:
        app = host(self)
        for target, label, help_text in destinations(app):
            yield DiscoveryHit(Content(label), partial(app.open, target), text=label, help=plain(help_text))

    async def search(self, query: str) -> Hits:
        app = host(self)
        matcher = self.matcher(query)
        for target, label, help_text in destinations(app):
            score = max(matcher.match(label), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(
                    score, highlight(matcher, label), partial(app.open, target), text=label, help=plain(help_text)
                )
