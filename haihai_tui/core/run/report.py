"""レポートメール after a run: decide, address, build and deliver — a failure here never fails the run."""

from __future__ import annotations

import socket

from haihai_tui.core.events import EventSink, LogLine, ignore
from haihai_tui.core.paths import Paths
from haihai_tui.core.run.history import RunRecord
from haihai_tui.core.run.mail import MailError, build_report, deliver, recipient_note, recipients, should_send
from haihai_tui.core.settings import permissions as perm
from haihai_tui.core.settings.model import Integration, Settings


def send_report(
    rec: RunRecord, integ: Integration, settings: Settings, paths: Paths, on_event: EventSink = ignore
) -> str:
    """Send (or write to the outbox) the report mail when the integration asks for it; returns what happened."""
    if not should_send(integ.report_mail, rec.outcome):
        return ""
    user = perm.find_user(settings.users, rec.executor)
    to = recipients(integ.report_to, user.email if user else None, settings.admin_emails)
    if not to:
        return (
            "report mail not sent: no address (add an email to your user in admin.toml, or admin_emails under [system])"
        )
    sender = settings.smtp.from_addr or f"haihai-tui@{socket.gethostname()}"
    note = recipient_note(integ.report_to, user.email if user else None, rec.executor)
    try:
        msg = build_report(rec, sender=sender, to=to, app_host=socket.gethostname(), note=note)
        return "report mail " + deliver(
            msg, smtp=settings.smtp, password=settings.secrets.smtp_password, outbox=paths.outbox
        )
    except (MailError, ValueError, OSError) as e:
        on_event(LogLine(f"report mail failed: {e}", "warning"))
        return f"report mail failed: {e}"
