"""The one run flow of the TUI: pre-flight -> findings -> confirm (-> split: pre-flight again) -> removals
-> RunService.start. The record list (``r``) and the history's retry (``r`` on a run) both go through it,
so a safeguard added here (a confirmation, a refusal) holds for every way a run starts."""

from __future__ import annotations

from collections.abc import Callable

from textual.screen import Screen

from haihai_tui.core.run.prepare import RunRefused, Target
from haihai_tui.tui.dialogs.common import MessageScreen
from haihai_tui.tui.dialogs.removal_confirm import removal_confirmed
from haihai_tui.tui.dialogs.run_confirm import ConfirmRunScreen
from haihai_tui.tui.dialogs.run_preflight import FindingsScreen, PreflightScreen
from haihai_tui.tui.host import host

#: called when the user leaves the findings without running: (choice, row, the findings dialog)
FindingsExit = Callable[[str, "int | None", FindingsScreen], None]


async def confirm_and_start(
    screen: Screen,
    target: Target,
    *,
    memo: str = "",
    retry_run: int | None = None,
    refused_title: str = "Cannot run / 実行できません",
    on_findings_exit: FindingsExit | None = None,
) -> bool:
    """Walk the user through one run of ``target``; True when the run was handed to the run service.

    Runs inside a worker of ``screen`` (it waits for dialogs). Nothing is sent unless every step said yes.
    """
    app = screen.app
    split = False
    while True:
        pf = await app.push_screen_wait(PreflightScreen(target, split, retry_run=retry_run))
        if pf.error:
            await app.push_screen_wait(MessageScreen(pf.error, title=refused_title))
            return False
        p = pf.prepared
        if p is None:
            screen.notify("Pre-flight cancelled; nothing was sent.", markup=False)
            return False
        if p.hard_errors or p.built.warning_count:
            findings = FindingsScreen(p)
            choice, row = await app.push_screen_wait(findings)
            if choice != "continue":
                p.discard()
                if on_findings_exit is not None:
                    on_findings_exit(choice, row, findings)
                return False
        answer = await app.push_screen_wait(ConfirmRunScreen(p, memo, pf.caution))
        memo = answer.memo
        if answer.action == "split":
            p.discard()
            split = True
            continue
        if answer.action != "run":
            p.discard()
            screen.notify("Not sent.", markup=False)
            return False
        if not await removal_confirmed(app, p):  # a mirror run's removals: typed "remove N"
            p.discard()
            screen.notify("Not sent: the removals were not confirmed (nothing sent, nobody removed).", markup=False)
            return False
        try:
            host(screen).runs.start(
                p,
                memo=answer.memo,
                confirm_dangerous=bool(p.dangerous),
                accept_warnings=bool(p.built.warning_count),
                confirm_removal=p.removal is not None,
            )
        except RunRefused as e:
            screen.notify(str(e), severity="error", markup=False)
            return False
        return True
