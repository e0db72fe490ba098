"""The command palette (ctrl+p or :): every screen, record-list menu and integration, by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from haihai_tui.tui.app import HaiHaiApp

# --- where the palette (and the start screen) can go --------------------------------------------------

STATIC_DESTINATIONS: list[tuple[str, str, str]] = [
    ("start", "Start / スタート", "the start screen with every menu"),
    ("permissions", "全体権限一覧 Permissions", "管理者設定 > 権限設定 > 全体権限一覧: users x 15 permissions"),
    ("users", "ユーザ Users", "管理者設定 > ユーザ: add, edit, remove users"),
    ("integrations", "システム連携設定 Integrations", "DB設定 > システム連携 > システム連携設定"),
    ("menus", "メニュー設定 Menus", "DB設定 > 基本設定 > メニュー設定: columns and attached integrations"),
    ("history", "システム連携状況確認 History", "every run: time, who, integration, rows, state"),
    ("progress", "Progress / 実行状況", "the live log of the current run"),
]


def destinations(app: "HaiHaiApp") -> list[tuple[str, str, str]]:
    """[(target, label, help)] for every screen, record-list menu and integration."""
    out = list(STATIC_DESTINATIONS)
    s = app.ctx.settings
    for m in s.menus:
        out.append((f"menu:{m.name}", f"{m.name} record list / レコード一覧", f"database {m.database}"))
    for g in s.integrations:
        out.append((f"integration:{g.name}", f"Edit integration {g.name}", "システム連携設定"))
    for m in s.menus:
        out.append((f"menu-settings:{m.name}", f"Menu settings {m.name}", "メニュー設定 for this menu"))
    return out


class Jump(Provider):
    """Command-palette commands that open any screen, menu or integration."""

    async def discover(self) -> Hits:
        app: HaiHaiApp = self.app  # type: ignore[assignment]
        for target, label, help_text in destinations(app):
            yield DiscoveryHit(label, partial(app.open, target), help=help_text)

    async def search(self, query: str) -> Hits:
        app: HaiHaiApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for target, label, help_text in destinations(app):
            score = max(matcher.match(label), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(app.open, target), text=label, help=help_text)
