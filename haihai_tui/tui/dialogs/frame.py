"""The frame every run dialog shares. (What a prepared run's findings mean — blocking errors, split,
quota, last-run caution — is the core's: properties of ``haihai_tui.core.run.prepare.Prepared``.)"""

from __future__ import annotations

#: the frame of every run dialog: ``DIALOG_CSS.format(cls="MyScreen")``
DIALOG_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{ width: 76; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                   background: $surface; padding: 0 1; }}
{cls} .dlg-title {{ text-style: bold; }}
{cls} .dlg-hint {{ color: $text-muted; }}
{cls} .dlg-warn {{ color: $warning; text-style: bold; }}
{cls} .dlg-err {{ color: $error; text-style: bold; }}
"""
