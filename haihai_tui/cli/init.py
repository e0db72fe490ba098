"""haihai-tui init: lay the commented sample settings into the settings folder, never over a file."""

from __future__ import annotations

import sys

from haihai_tui.cli.args import paths_of
from haihai_tui.core.paths import create_file, ensure_private_dir
from haihai_tui.samples import SAMPLE_FILES, sample_bytes


def cmd_init(args) -> int:
    paths = paths_of(args)
    folder = ensure_private_dir(paths.config_dir)
    made, kept = [], []
    for sample, name in SAMPLE_FILES.items():
        target = folder / name
        if target.exists() or target.is_symlink():
            kept.append(name)
            continue
        # never follows or replaces something that appeared meanwhile; the mode is exact whatever the umask
        create_file(target, sample_bytes(sample), 0o600 if name == "secrets.toml" else 0o644)
        made.append(name)
    if made:
        print(f"wrote {', '.join(made)} to {folder}")
    if kept:
        print(f"kept the existing {', '.join(kept)} (init never overwrites)", file=sys.stderr)
    print(
        f"next: edit {folder / 'admin.toml'} (your login under [[users]]) and {folder / 'db.toml'}, "
        f"put the API token into {folder / 'secrets.toml'}, then run: haihai-tui check"
    )
    return 0
