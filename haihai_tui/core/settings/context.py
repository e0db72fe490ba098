"""Who is at the keyboard, where the settings are, and what they currently say.

Shared by the command line and the TUI; never imports Textual.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from haihai_tui.core.paths import Paths
from haihai_tui.core.settings import permissions as perm
from haihai_tui.core.settings.load import load_settings
from haihai_tui.core.settings.loaded import Loaded
from haihai_tui.core.settings.model import Settings
from haihai_tui.core.settings.permissions import User


@dataclass
class AppContext:
    paths: Paths
    login: str = field(default_factory=perm.current_login)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    loaded: Loaded | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.loaded is None:
            self.reload()

    def reload(self) -> Loaded:
        self.loaded = load_settings(self.paths, self.environ)
        return self.loaded

    @property
    def settings(self) -> Settings:
        assert self.loaded is not None
        return self.loaded.settings

    @property
    def user(self) -> User | None:
        return perm.find_user(self.settings.users, self.login)

    @property
    def may_configure(self) -> bool:
        return perm.may_configure(self.user)

    @property
    def configure_refusal(self) -> str | None:
        return perm.configure_refusal(self.user, self.login)

    def who(self) -> str:
        """One line for the header: login, name, and what they may do."""
        u = self.user
        name = f"{u.name} ({self.login})" if u and u.name else self.login
        role = "may configure" if self.may_configure else "read-only settings, may run"
        return f"{name} - {role}"
