"""The typed confirmation of a mirror run's removals (sync = "mirror", core/run/sync.py).

A mirror run removes from the integration's delivery group (gid) or step-mail plan (spid) the customers
HaiHai confirmed there earlier who have left the result, in a second request (import_type 1, same
login_id, gid/spid and report option). Nothing is removed, and nothing is sent, unless the user types
``remove N`` here; the addresses are listed (scrollable) so the user sees exactly who goes.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from haihai_tui.core.run.prepare import Prepared
from haihai_tui.core.run.sync import target_words
from haihai_tui.core.text import one_line
from haihai_tui.tui.bindings import scope
from haihai_tui.tui.dialogs.frame import DIALOG_CSS
from haihai_tui.tui.widgets.safe_input import SafeInput

MAX_LISTED = 2000  # addresses listed (the rest are counted)


class RemovalConfirmScreen(ModalScreen[bool]):
    """Count, target and the scrollable list of addresses a mirror run removes; typed ``remove N`` to go on."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(cls="RemovalConfirmScreen")
        + """
    RemovalConfirmScreen #rm-list { height: auto; max-height: 8; }
    RemovalConfirmScreen Input { margin: 0; background: $boost; }
    """
    )
    BINDINGS = scope("removal_confirm")

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.p = prepared
        plan = prepared.sync
        self.addresses: list[str] = list(plan.removals) if plan is not None else []
        self.target = target_words(plan.target) if plan is not None and plan.target else "the group"
        self.word = f"remove {len(self.addresses)}"

    def compose(self) -> ComposeResult:
        n, g = len(self.addresses), self.p.integration
        shown = self.addresses[:MAX_LISTED]
        with Vertical():
            yield Static(
                f"Remove {n:,} customer(s) / 同期の削除: {one_line(g.name)}", classes="dlg-title", markup=False
            )
            yield Static(
                f"This mirror (同期) run removes {n:,} customer(s) from {self.target}: HaiHai confirmed them there "
                "earlier and they have left the result. The removal is a second request (import_type 1, same "
                f"login_id {one_line(g.params.get('login_id', ''))!r} and {self.target}), sent after the first "
                "one ends 完了. They stay in HaiHai's database; only their place in the group or plan goes.",
                classes="dlg-warn",
                markup=False,
            )
            more = f" (the first {len(shown):,} listed)" if n > len(shown) else ""
            yield Static(f"Addresses to remove{more} - Tab moves here, arrows/PgUp/PgDn scroll:", markup=False)
            yield OptionList(
                *[Option(Text(one_line(a)), id=str(i)) for i, a in enumerate(shown)], id="rm-list", compact=True
            )
            yield Static(f"Type  {self.word}  and press Enter (or F2) to send the run with its removals:", markup=False)
            yield SafeInput(placeholder=self.word, id="rm-typed", compact=True)
            yield Static("", id="rm-state", markup=False)
            yield Static(
                "Enter/F2 = confirm    Esc = cancel (nothing is sent, nobody is removed)",
                classes="dlg-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#rm-typed", Input).focus()

    @property
    def typed_ok(self) -> bool:
        return " ".join(self.query_one("#rm-typed", Input).value.split()).lower() == self.word

    @on(Input.Submitted, "#rm-typed")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def action_confirm(self) -> None:
        if not self.typed_ok:
            self.query_one("#rm-state", Static).update(
                f"Type exactly: {self.word}  (or Esc: nothing is sent, nobody is removed)"
            )
            self.query_one("#rm-state", Static).add_class("dlg-err")
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


async def removal_confirmed(app: App, prepared: Prepared) -> bool:
    """True when ``prepared`` removes nobody, or the user typed the removal confirmation (waits for it:
    call from a worker)."""
    if prepared.removal is None:
        return True
    return bool(await app.push_screen_wait(RemovalConfirmScreen(prepared)))
