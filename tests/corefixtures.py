"""Settings folders for core tests, made from the package's samples (haihai_tui/samples/), and the canary
token every test plants and asserts absent (a module of its own so any test can import it)."""

from __future__ import annotations

import shutil
from pathlib import Path

from haihai_tui.core.paths import Paths

REPO = Path(__file__).resolve().parent.parent
CANARY = "CANARY-7f3a9c"


def make_settings(base: Path, login: str = "admin", token: str = CANARY) -> Paths:
    cfg, data = base / "config", base / "data"
    cfg.mkdir(mode=0o700)
    data.mkdir(mode=0o700)
    for name in ("admin.toml", "db.toml", "tui.toml"):
        shutil.copyfile(REPO / "haihai_tui" / "samples" / name, cfg / name)
    sec = cfg / "secrets.toml"
    sec.write_text(
        f'[tokens]\n"配配メール 顧客登録" = "{token}"\n[smtp]\npassword = "smtp-{token}"\n', encoding="utf-8"
    )
    sec.chmod(0o600)
    return Paths(cfg, data)
