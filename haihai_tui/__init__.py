"""haihai-tui: a keyboard-driven terminal console for the Rakuraku Hanbai -> HaiHai Mail sync."""

__version__ = "0.1.0"
