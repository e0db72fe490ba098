"""Make the README pictures from the real app, so they stay current: `make screenshots`.

Lays the demo (sample settings, 5,000 customers, the mock HaiHai server), drives the app by keys at
80x24 and saves SVGs into docs/: the record list with a run going, the live progress panel, and the
integration form (システム連携設定).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from haihai_tui.cli.demo import lay_demo  # noqa: E402
from haihai_tui.core.settings.context import AppContext  # noqa: E402
from haihai_tui.core.settings.permissions import current_login  # noqa: E402
from haihai_tui.mock.config import MockConfig  # noqa: E402
from haihai_tui.mock.server import MockServerThread  # noqa: E402
from haihai_tui.tui.app import HaiHaiApp  # noqa: E402

SIZE = (80, 24)


def control(url: str, name: str, body: dict) -> None:
    req = urllib.request.Request(
        f"{url}/_mock/{name}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=5).read()


async def until(pilot, check, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        if loop.time() > end:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.05)


async def shoot(base: Path, mock_url: str) -> list[Path]:
    paths = lay_demo(base, login=current_login(), token=TOKEN, mock_url=mock_url, rows=5000)
    app = HaiHaiApp(AppContext(paths), mock_note=f"demo: mock HaiHai at {mock_url}")
    out: list[Path] = []

    def save(name: str) -> None:
        out.append(Path(app.save_screenshot(filename=name, path=str(HERE))))

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # the record list: 顧客一覧 is the entry above the last one (システム連携状況確認); open it, search
        await pilot.press("G", "up")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "RecordListScreen")
        await pilot.press("slash", *"大和", "enter")
        await pilot.pause(0.5)
        # a run that HaiHai is slow to answer, so the picture shows it going
        control(mock_url, "delay", {"seconds": 4, "when": "before_response"})
        await pilot.press("r")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(
            pilot, lambda: type(app.screen).__name__ == "RunConfirmScreen" or "Confirm" in type(app.screen).__name__
        )
        await pilot.press(*"4月セミナー")
        await pilot.press("f2")
        await until(
            pilot, lambda: app.runs.busy and app.runs.state and app.runs.state.stage.value in ("response", "send")
        )
        await pilot.pause(0.3)
        save("run-progress.svg")
        await pilot.press("escape")
        await pilot.pause(0.3)
        save("record-list-mid-run.svg")
        await app.runs.wait()
        await pilot.pause(0.3)
        # the integration form: back to the start, DB設定 > システム連携設定, open the first one
        while type(app.screen).__name__ != "StartScreen":
            await pilot.press("escape")
            await pilot.pause(0.1)
        await pilot.press("g", "down", "down", "down")  # permissions, users, system settings, integrations
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "IntegrationsScreen")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "IntegrationFormScreen")
        await pilot.pause(0.3)
        save("integration-form.svg")
    return out


TOKEN = "demo-" + secrets.token_hex(12)

if __name__ == "__main__":
    with (
        tempfile.TemporaryDirectory(prefix="haihai-shots-") as tmp,
        MockServerThread(MockConfig.demo(TOKEN, processing_delay=0.2)) as mock,
    ):
        for p in asyncio.run(shoot(Path(tmp), mock.url)):
            text = p.read_text(encoding="utf-8")
            assert TOKEN not in text, "a screenshot shows the token"
            # the scratch folder and port change every run; keep the pictures stable
            p.write_text(
                text.replace(tmp, "/tmp/haihai-tui-demo").replace(mock.url, "http://127.0.0.1:8787"), encoding="utf-8"
            )
            print(f"wrote {p.relative_to(HERE.parent)}")
