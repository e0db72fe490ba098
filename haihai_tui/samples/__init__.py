"""The commented sample settings shipped with the package (used by `demo` and `init`)."""

from __future__ import annotations

from importlib.resources import files

#: sample file name -> the name it takes in a settings folder
SAMPLE_FILES = {
    "admin.toml": "admin.toml",
    "db.toml": "db.toml",
    "tui.toml": "tui.toml",
    "secrets.toml.example": "secrets.toml",
}


def sample_bytes(name: str) -> bytes:
    """The bytes of one sample file, from the installed package (works from a wheel, not only a checkout)."""
    if name not in SAMPLE_FILES:
        raise KeyError(name)
    return files(__name__).joinpath(name).read_bytes()
